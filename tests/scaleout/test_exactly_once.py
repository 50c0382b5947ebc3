"""Exactly-once across workers: three members of a `task_max: 3` task with
`options.delivery: exactly_once` on two workers (the server's and a `ksync worker`); the
worker is SIGKILLed mid-stream and its slots move to the server, then `task_max` goes
from 3 to 1 while records keep coming. A read_committed reader of the target holds every
source record exactly once: per partition the source's values in the source's order.
And a zombie: a worker frozen (SIGSTOP) past the worker timeout, whose slot moves, writes
nothing visible once it resumes (SIGCONT).
"""

from __future__ import annotations

import os
import signal
import uuid

import pytest
from helpers import (
    add_instance,
    create_topic,
    member_processes,
    task_body,
    wait_status,
    wait_until,
)
from lifecycle.support import Follow, SteadyProducer, create_task

pytestmark = pytest.mark.postgres


def _slots(client, task_id: str) -> list[tuple[str, int]]:
    return sorted(
        (w["id"], m["slot"])
        for w in client.get("/api/v1/workers").json()["workers"]
        for m in w["members"]
        if m["task_id"] == task_id and m["state"] == "running"
    )


def test_a_killed_worker_and_a_task_max_change_copy_each_record_once(
    brokers, start_server, start_worker
):
    source, target = brokers
    topic, partitions = f"eos.scale-{uuid.uuid4().hex[:6]}", 6
    create_topic(source, topic, partitions)
    doomed = start_worker("worker-1")
    server = start_server("--worker-id", "server-0")
    client = server.client()
    wait_until(
        lambda: {w["id"] for w in client.get("/api/v1/workers").json()["workers"]}
        == {"server-0", "worker-1"},
        what="the server and the worker to heartbeat",
    )
    src, dst = add_instance(client, source), add_instance(client, target)
    body = task_body(
        src, dst, topics=[topic], options={"task_max": 3, "delivery": "exactly_once"}
    )
    task_id = create_task(client, body)
    wait_status(client, task_id, "Running", timeout_s=90)
    wait_until(
        lambda: {w for w, _ in _slots(client, task_id)} == {"server-0", "worker-1"},
        what="members on both workers",
    )

    load = SteadyProducer(source, topic, partitions, rate=2_000)
    load.start()
    with Follow(target, topic, partitions) as follow:  # read_committed
        wait_until(lambda: follow.poll(0.2) >= 1_000, what="records flowing to the target")
        doomed.kill()
        wait_until(
            lambda: [s for _, s in _slots(client, task_id)] == [0, 1, 2]
            and {w for w, _ in _slots(client, task_id)} == {"server-0"},
            timeout_s=90,
            what="the dead worker's slots moved to the server",
        )
        copied = follow.poll(0.2)
        wait_until(lambda: follow.poll(0.2) >= copied + 1_000, what="records flowing after the move")
        answer = client.patch(f"/api/v1/tasks/{task_id}", json={"options": {"task_max": 1}})
        assert answer.status_code == 200, answer.text
        wait_until(
            lambda: _slots(client, task_id) == [("server-0", 0)],
            timeout_s=90,
            what="one member left after task_max 3 -> 1",
        )
        copied = follow.poll(0.2)
        wait_until(lambda: follow.poll(0.2) >= copied + 1_000, what="records flowing with one member")
        # A running task refuses a change of guarantee.
        refused = client.patch(f"/api/v1/tasks/{task_id}", json={"options": {"delivery": "at_least_once"}})
        assert refused.status_code == 409 and "pause it" in refused.json()["error"]["message"]
        sent = load.finish()
        follow.wait_for(sent, timeout_s=90)

        def all_committed() -> bool:
            progress = client.get(f"/api/v1/tasks/{task_id}").json()["progress"]
            return len(progress) == partitions and all(e["lag"] == 0 for e in progress)

        # Every transaction that could hold a repeat is committed, so visible, by then.
        wait_until(all_committed, timeout_s=60, what="no lag left")
        follow.wait_for(sent, timeout_s=30)
        follow.poll(0.5)
        assert not follow.duplicates(), f"records copied twice: {sorted(follow.duplicates())[:10]}"
        for part, values in sent.items():
            assert follow.values[part] == values, f"partition {part} differs from the source"


def _tree(pid: int) -> list[int]:
    """`pid` and its member processes."""
    return [pid, *member_processes(pid)]


def test_a_frozen_worker_whose_slot_moved_commits_nothing_after_it_resumes(
    brokers, start_server, start_worker
):
    """SIGSTOP a worker and its member process mid-stream, past the worker timeout: its
    slot moves to the server, whose member takes the same transactional id and so fences
    the frozen one. After SIGCONT the frozen member may still write, but nothing it writes
    becomes visible to read_committed readers: they hold each record exactly once."""
    source, target = brokers
    topic, partitions = f"eos.zombie-{uuid.uuid4().hex[:6]}", 4
    create_topic(source, topic, partitions)
    frozen = start_worker("worker-1")
    server = start_server("--worker-id", "server-0")
    client = server.client()
    wait_until(
        lambda: {w["id"] for w in client.get("/api/v1/workers").json()["workers"]}
        == {"server-0", "worker-1"},
        what="the server and the worker to heartbeat",
    )
    src, dst = add_instance(client, source), add_instance(client, target)
    body = task_body(
        src, dst, topics=[topic], options={"task_max": 2, "delivery": "exactly_once"}
    )
    task_id = create_task(client, body)
    wait_status(client, task_id, "Running", timeout_s=90)
    wait_until(
        lambda: {w for w, _ in _slots(client, task_id)} == {"server-0", "worker-1"},
        what="one member on each worker",
    )
    (zombie_slot,) = [s for w, s in _slots(client, task_id) if w == "worker-1"]
    assert frozen.process is not None
    pids = _tree(frozen.process.pid)
    assert len(pids) > 1, "the worker runs no member process"

    load = SteadyProducer(source, topic, partitions, rate=2_000)
    load.start()
    with Follow(target, topic, partitions) as follow:  # read_committed
        wait_until(lambda: follow.poll(0.2) >= 1_000, what="records flowing to the target")
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        try:
            wait_until(
                lambda: ("server-0", zombie_slot) in _slots(client, task_id),
                timeout_s=90,
                what="the frozen worker's slot running on the server",
            )
            copied = follow.poll(0.2)
            wait_until(lambda: follow.poll(0.2) >= copied + 1_000, what="records flowing after the move")
        finally:
            for pid in pids:
                os.kill(pid, signal.SIGCONT)
        # The resumed worker learns that its slot moved and stops its member.
        wait_until(
            lambda: ("worker-1", zombie_slot) not in _slots(client, task_id)
            and _slots(client, task_id) == [("server-0", 0), ("server-0", 1)],
            timeout_s=60,
            what="the resumed worker's member gone",
        )
        sent = load.finish()
        follow.wait_for(sent, timeout_s=90)

        def caught_up() -> bool:
            progress = client.get(f"/api/v1/tasks/{task_id}").json()["progress"]
            return len(progress) == partitions and all(e["lag"] == 0 for e in progress)

        wait_until(caught_up, timeout_s=60, what="no lag left")
        follow.wait_for(sent, timeout_s=30)
        follow.poll(0.5)
        assert not follow.duplicates(), f"records copied twice: {sorted(follow.duplicates())[:10]}"
        for part, values in sent.items():
            assert follow.values[part] == values, f"partition {part} differs from the source"
    assert wait_status(client, task_id, "Running")["error"] is None
    # It did try: its producer was refused as fenced.
    wait_until(lambda: "was taken by a newer member" in frozen.log(), what="the fenced member's sentence")
