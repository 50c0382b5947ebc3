"""Scale-out end to end (issue 3, points 4 and 5): a server and two `ksync worker`
processes on one PostgreSQL database run a `task_max: 3` task over 12 partitions, one member
per worker; a worker SIGKILLed mid-stream has its share moved to the others with nothing
lost.

Timing: the controller notices the dead worker after `--worker-timeout` (5 s here) and gives
its slot to a live worker, whose new member joins the task's consumer group; Kafka's group
coordinator drops the dead member once its session expires (6 s after its last heartbeat,
mostly over by then) and spreads the partitions again.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict

import pytest
from helpers import (
    TEST_SESSION_TIMEOUT_MS,
    add_instance,
    create_topic,
    task_body,
    wait_status,
    wait_until,
)
from lifecycle.support import (
    IN_FLIGHT_BATCH,
    Follow,
    StatusWatch,
    SteadyProducer,
    check_order_and_dups,
    create_task,
)

from .support import WORKER_TIMEOUT_S

pytestmark = pytest.mark.postgres

SESSION_S = TEST_SESSION_TIMEOUT_MS / 1000
# The worker timeout, then at worst the dead member's whole session and one rebalance, plus
# the controller's and workers' 1 s ticks; the rest is room for a loaded machine.
RECOVERY_BOUND_S = WORKER_TIMEOUT_S + SESSION_S + 15.0


def _members(client, task_id: str) -> dict[str, list[dict]]:
    """The task's members per live worker, from GET /api/v1/workers."""
    out: dict[str, list[dict]] = defaultdict(list)
    for worker in client.get("/api/v1/workers").json()["workers"]:
        out[worker["id"]]  # every live worker shows, even with no member
        for m in worker["members"]:
            if m["task_id"] == task_id:
                out[worker["id"]].append(m)
    return dict(out)


def _partition_counts(client, task_id: str) -> list[int]:
    return sorted(m["partitions"] for ms in _members(client, task_id).values() for m in ms)


def test_three_workers_share_a_task_and_a_dead_workers_share_moves(
    brokers, start_server, start_worker
):
    source, target = brokers
    topic, partitions = f"scale.data-{uuid.uuid4().hex[:6]}", 12
    create_topic(source, topic, partitions)
    # The workers start first: their start-up overlaps the server's, which start_server
    # waits for.
    doomed, survivor = start_worker("worker-1"), start_worker("worker-2")
    server = start_server("--worker-id", "server-0")
    ids = {"server-0", "worker-1", "worker-2"}
    client = server.client()
    wait_until(
        lambda: {w["id"] for w in client.get("/api/v1/workers").json()["workers"]} == ids,
        timeout_s=30,
        what="the server and both workers to heartbeat",
    )

    src, dst = add_instance(client, source), add_instance(client, target)
    task_id = create_task(client, task_body(src, dst, topics=[topic], options={"task_max": 3}))
    wait_status(client, task_id, "Running", timeout_s=90)
    spread = _members(client, task_id)
    print(f"\nmembers per worker: {spread}")
    assert set(spread) == ids
    assert [len(ms) for ms in spread.values()] == [1, 1, 1], "each slot must run on a different worker"
    assert sorted(m["slot"] for ms in spread.values() for m in ms) == [0, 1, 2]
    assert all(m["state"] == "running" for ms in spread.values() for m in ms)
    # Kafka's group coordinator spreads the partitions; reports trail it by a heartbeat.
    wait_until(lambda: _partition_counts(client, task_id) == [4, 4, 4], what="4 partitions per member")

    load = SteadyProducer(source, topic, partitions, rate=2_000)
    # Records copied before the kill, and again after the move, that show the task is
    # copying at that moment; the end checks every record sent.
    flowing = 600
    load.start()
    with Follow(target, topic, partitions) as follow, StatusWatch(server.url, task_id) as watch:
        wait_until(lambda: follow.poll(0.2) >= flowing, what="records flowing to the target")
        killed_at = time.monotonic()
        doomed.kill()

        def recovered() -> bool:
            path = [s for _, s in watch.seen_after(killed_at)]
            return "Unassigned" in path and path[-1] == "Running"

        wait_until(recovered, timeout_s=90, interval_s=0.1, what="Unassigned, then Running again")
        path = watch.seen_after(killed_at)
        took = path[-1][0]
        print(f"statuses after the kill: {[(round(t, 1), s) for t, s in path]}")
        assert "Failed" not in [s for _, s in path]
        assert took <= RECOVERY_BOUND_S, f"Running again {took:.1f}s after the kill (bound {RECOVERY_BOUND_S}s)"

        moved = _members(client, task_id)
        print(f"members per worker after the kill: {moved}")
        assert set(moved) == {"server-0", "worker-2"}
        assert sorted(m["slot"] for ms in moved.values() for m in ms) == [0, 1, 2]
        wait_until(
            lambda: sum(_partition_counts(client, task_id)) == partitions,
            what="the 12 partitions owned once each",
        )

        copied = follow.poll(0.2)
        wait_until(lambda: follow.poll(0.2) >= copied + flowing, what="records flowing after the move")
        sent = load.finish()
        follow.wait_for(sent, timeout_s=90)
        follow.poll(1.0)
        dups = follow.duplicates()
        print(f"records copied twice: {sum(n - 1 for n in dups.values())}: {sorted(dups)[:20]}...")
        check_order_and_dups(follow.values, sent, bound=IN_FLIGHT_BATCH)
    assert "worker worker-1 missed its heartbeats" in server.log()
    assert survivor.process is not None and survivor.process.poll() is None
