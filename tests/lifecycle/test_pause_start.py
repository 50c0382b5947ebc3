"""Pause and start end to end (issue 3, points 1 and 5).

* Pause while records flow: once the task shows Paused nothing more reaches the target,
  although the source keeps growing; `paused_at` is shown.
* Start within the pause retention resumes from the committed progress: every record
  arrives, in order, repeats at most an in-flight batch.
* Start after the retention (a server with `--pause-retention 3`) drops the progress:
  without a start point the task goes on from the latest offsets (records produced while
  it was paused are not copied); with `{"type": "earliest"}` everything is copied again.
* Operations that make no sense answer 409 with a sentence; repeating one that is under way
  is harmless (202).

The tests that need the short retention share a server of their own; the others share
the folder's server.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from helpers import (
    KsyncServer,
    add_instance,
    create_topic,
    running_server,
    task_body,
    wait_status,
    wait_until,
)

from .support import (
    IN_FLIGHT_BATCH,
    Follow,
    SteadyProducer,
    assert_conflict,
    check_order_and_dups,
    create_task,
    merge,
    produce_now,
)

RETENTION_S = 3.0
# While a task is paused the source gains this many records (3 s of the steady producer);
# none may reach the target.
PAUSED_GROWTH = 3_000


@pytest.fixture(scope="module")
def short_retention_server(tmp_path_factory, kafka_pair) -> Iterator[KsyncServer]:
    """A server whose paused tasks keep their progress for RETENTION_S seconds only."""
    with running_server(str(tmp_path_factory.mktemp("ksync")), "--pause-retention", str(RETENTION_S)) as srv:
        yield srv


def _settled_count(follow: Follow) -> int:
    """Read the target until a 0.5 s read brings nothing new; returns the count."""
    last = follow.poll(0.5)
    while (now := follow.poll(0.5)) != last:
        last = now
    return now


def _paused_at(task: dict) -> datetime:
    assert task["paused_at"] is not None, f"paused_at not shown: {task}"
    return datetime.fromisoformat(task["paused_at"])


def test_pause_while_records_flow_then_start_within_retention(brokers, folder_server, unique):
    source, target = brokers
    topic, partitions = f"pause.flow.{unique}", 3
    create_topic(source, topic, partitions)
    client = folder_server.client()
    src, dst = add_instance(client, source), add_instance(client, target)
    task_id = create_task(client, task_body(src, dst, topics=[topic]))
    wait_status(client, task_id, "Running")
    url = f"/api/v1/tasks/{task_id}"

    load = SteadyProducer(source, topic, partitions, rate=1_000)
    load.start()
    with Follow(target, topic, partitions) as follow:
        wait_until(lambda: follow.poll(0.2) >= 500, what="records flowing to the target")

        before = datetime.now(UTC)
        first = client.post(f"{url}/pause")
        assert first.status_code == 202, first.text
        again = client.post(f"{url}/pause")  # the pause is under way: harmless
        assert again.status_code == 202, again.text
        assert again.json()["status"] != "Paused"

        paused = wait_status(client, task_id, "Paused", timeout_s=30)
        at = _paused_at(paused)
        assert before <= at <= datetime.now(UTC)
        assert paused["error"] is None
        assert_conflict(client.post(f"{url}/pause"), task_id)
        assert_conflict(client.post(f"{url}/restart"), task_id)

        # Nothing reaches the target while Paused, although the source keeps growing.
        copied, produced = _settled_count(follow), load.count
        wait_until(
            lambda: load.count >= produced + PAUSED_GROWTH,
            what=f"{PAUSED_GROWTH} more records on the source of the paused task",
        )
        assert _settled_count(follow) == copied, "records reached the target of a paused task"
        assert _paused_at(client.get(url).json()) == at

        started = client.post(f"{url}/start")
        assert started.status_code == 202, started.text
        assert started.json()["paused_at"] is None
        assert client.post(f"{url}/start").status_code == 202  # under way: harmless
        wait_status(client, task_id, "Running", timeout_s=30)
        assert_conflict(client.post(f"{url}/start"), task_id)

        wait_until(lambda: follow.poll(0.2) >= copied + 2_000, what="records flowing again")
        sent = load.finish()
        follow.wait_for(sent)
        follow.poll(1.0)
        check_order_and_dups(follow.values, sent, bound=IN_FLIGHT_BATCH)
    assert client.get(url).json()["status"] == "Running"


def _run_then_pause_past_retention(client, source, target, topic: str, partitions: int):
    """A task that copied `before`, was paused, saw `during` produced on the source while
    paused, and whose pause retention has expired. Returns (task id, before, during)."""
    create_topic(source, topic, partitions)
    src, dst = add_instance(client, source), add_instance(client, target)
    task_id = create_task(client, task_body(src, dst, topics=[topic]))
    before = produce_now(source, topic, partitions, "before", 100)
    wait_status(client, task_id, "Running")
    with Follow(target, topic, partitions) as follow:
        follow.wait_for(before)

    assert client.post(f"/api/v1/tasks/{task_id}/pause").status_code == 202
    at = _paused_at(wait_status(client, task_id, "Paused", timeout_s=30))
    during = produce_now(source, topic, partitions, "during", 100)
    # The retention is a span of time: the condition waited on is the clock.
    wait_until(
        lambda: (datetime.now(UTC) - at).total_seconds() > RETENTION_S + 0.5,
        timeout_s=RETENTION_S + 10,
        what="the pause retention to expire",
    )
    return task_id, before, during


def _reset_event(client, task_id: str) -> str:
    events = client.get(f"/api/v1/tasks/{task_id}/events").json()["events"]
    messages = [e["message"] for e in events if "retention" in e["message"]]
    assert messages, f"no event says the progress was reset: {events}"
    return messages[0]


def test_start_after_retention_without_start_point_goes_on_from_latest(
    brokers, short_retention_server, unique
):
    source, target = brokers
    topic, partitions = f"pause.expired.latest.{unique}", 2
    client = short_retention_server.client()
    task_id, before, during = _run_then_pause_past_retention(client, source, target, topic, partitions)

    started = client.post(f"/api/v1/tasks/{task_id}/start")
    assert started.status_code == 202, started.text
    wait_status(client, task_id, "Running", timeout_s=60)
    assert "latest" in _reset_event(client, task_id)

    after = produce_now(source, topic, partitions, "after", 50)
    with Follow(target, topic, partitions) as follow:
        # Each partition is read in order, so once the last `after` record is there any
        # `during` record copied by mistake is there too.
        follow.wait_for(after)
        follow.poll(1.0)
        got = Counter(v for vs in follow.values.values() for v in vs)
    expected = Counter(v for vs in merge(before, after).values() for v in vs)
    copied_during = sum(got[v] for vs in during.values() for v in vs)
    assert copied_during == 0, f"{copied_during} records produced while paused were copied"
    assert got == expected


def test_start_after_retention_from_earliest_copies_everything_again(
    brokers, short_retention_server, unique
):
    source, target = brokers
    topic, partitions = f"pause.expired.earliest.{unique}", 2
    client = short_retention_server.client()
    task_id, before, during = _run_then_pause_past_retention(client, source, target, topic, partitions)

    started = client.post(f"/api/v1/tasks/{task_id}/start", json={"start": {"type": "earliest"}})
    assert started.status_code == 202, started.text
    wait_status(client, task_id, "Running", timeout_s=60)
    assert "earliest" in _reset_event(client, task_id)

    # Everything from the beginning again: `before` twice (once before the pause), `during` once.
    expected = Counter(v for vs in merge(before, before, during).values() for v in vs)
    with Follow(target, topic, partitions) as follow:
        wait_until(
            lambda: follow.poll(0.2) >= sum(expected.values()),
            timeout_s=60,
            what="every source record copied again",
        )
        follow.poll(1.0)
        got = Counter(v for vs in follow.values.values() for v in vs)
    assert got == expected


def test_a_terminating_task_refuses_every_operation(brokers, folder_server, unique):
    source, target = brokers
    topic = f"pause.terminating.{unique}"
    create_topic(source, topic, 1)
    client = folder_server.client()
    src, dst = add_instance(client, source), add_instance(client, target)
    task_id = create_task(client, task_body(src, dst, topics=[topic]))
    wait_status(client, task_id, "Running")
    url = f"/api/v1/tasks/{task_id}"

    deleted = client.delete(url)
    assert deleted.status_code == 202, deleted.text
    assert deleted.json()["status"] == "Terminating"
    messages = [assert_conflict(client.post(f"{url}/{op}"), task_id) for op in ("pause", "start", "restart")]
    assert all("Terminating" in m or "deleted" in m for m in messages), messages
    assert client.delete(url).status_code in (202, 404)  # repeating a delete is harmless
    wait_until(lambda: client.get(url).status_code == 404, timeout_s=30, what="the task to be gone")
