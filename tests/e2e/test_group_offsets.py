"""Consumer-group offset sync end to end: the failover drill, lagging and head groups, a
target that already held records, a source with offset gaps, a group with an active
member on the target, and failback.

Each drill: a group reads part of a source topic and commits; a task copies the topic
with offset sync on; once the group's translated offsets are on the target, a consumer
with the same group id reads the target to its end. Every record from the group's
committed source offset on must be read (none missed; the consumer starts at `latest`
without a committed offset, so a missing sync misses everything), and the records read
again that the group had already read are at most the stated bound.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka import TopicPartition
from helpers import admin, create_topic, wait_until

from ksync.devkafka import KafkaCluster

from .offsets_support import (
    BOUND,
    PARTITIONS,
    check_failover,
    consumer,
    end_offset,
    fail_over,
    produce,
    produce_transactions,
    read_some,
    read_values,
    start_offset,
    synced,
)


def test_failover_drill(brokers, folder_server, sync_task, unique):
    """A group 60 % through its topic fails over and misses nothing."""
    source, target = brokers
    topic, group = f"drill.{unique}", f"app-{unique}"
    create_topic(source, topic, PARTITIONS)
    produce(source, topic, "r", 3000)
    committed = read_some(source, topic, group, 900)  # 60 % of 1500 per partition
    task_id = sync_task(source, target, topic)
    client = folder_server.client()
    rows = wait_until(lambda: synced(client, task_id, group), timeout_s=90, what="the group synced")
    assert {r["source_offset"] for r in rows} == set(committed.values())
    assert all(r["synced_at"] and r["note"] is None for r in rows), rows
    check_failover(source, target, topic, topic, group, committed)


def test_lagging_and_head_groups_within_the_bound(brokers, folder_server, sync_task, unique):
    """A group thousands of records behind re-reads no more than one at the head."""
    source, target = brokers
    topic = f"lag.{unique}"
    create_topic(source, topic, PARTITIONS)
    produce(source, topic, "r", 12_000)
    behind, head = f"behind-{unique}", f"head-{unique}"
    committed_behind = read_some(source, topic, behind, 1234)  # 4,766 behind per partition
    committed_head = read_some(source, topic, head, 6000)
    task_id = sync_task(source, target, topic)
    client = folder_server.client()
    for group in (behind, head):
        wait_until(lambda g=group: synced(client, task_id, g), timeout_s=90, what=f"{group} synced")
    check_failover(source, target, topic, topic, behind, committed_behind)
    got = check_failover(source, target, topic, topic, head, committed_head)
    assert all(len(v) <= BOUND for v in got.values()), "a group at the head re-reads the bound at most"


def test_target_with_earlier_records_and_offset_gaps(brokers, folder_server, sync_task, unique):
    """The target partitions already hold other records (offsets differ) and the source
    has gaps (transaction markers on a compacted topic): translation stays exact."""
    source, target = brokers
    topic, group = f"gaps.{unique}", f"app-{unique}"
    create_topic(source, topic, PARTITIONS, {"cleanup.policy": "compact"})
    create_topic(target, topic, PARTITIONS)
    produce(target, topic, "foreign", 777)
    produce_transactions(source, topic, "r", 2100)
    committed = read_some(source, topic, group, 600)
    assert any(o > 600 for o in committed.values()), "the source offsets have gaps"
    task_id = sync_task(source, target, topic)
    client = folder_server.client()
    rows = wait_until(lambda: synced(client, task_id, group), timeout_s=90, what="the group synced")
    assert all(r["target_offset"] != r["source_offset"] for r in rows), rows
    check_failover(source, target, topic, topic, group, committed)


def _compacted_away(broker: KafkaCluster, topic: str) -> bool:
    """Whether the log cleaner removed records from every partition: fewer records left
    than offsets between the log start and the end."""
    for p in range(PARTITIONS):
        end = end_offset(broker, topic, p)
        if len(read_values(broker, topic, p, end)) >= end - start_offset(broker, topic, p):
            return False
    return True


def test_compacted_source_after_the_cleaner_ran(brokers, folder_server, sync_task, unique):
    """The log cleaner has removed records (source offsets have gaps the copy does not)
    before the task copies: the drill misses nothing and re-reads within the bound."""
    source, target = brokers
    topic, group = f"compacted.{unique}", f"app-{unique}"
    create_topic(
        source,
        topic,
        PARTITIONS,
        {
            "cleanup.policy": "compact",
            # Segments roll every 100 ms (on the next record), and any dirty share is
            # worth cleaning: the cleaner, which looks every 15 s, compacts them soon.
            "segment.ms": "100",
            "min.cleanable.dirty.ratio": "0.01",
            "min.compaction.lag.ms": "0",
            "delete.retention.ms": "100",
        },
    )
    batches = iter(range(10_000))

    def compacted() -> bool:
        # Each batch rolls the segment the last one wrote (older than segment.ms by now),
        # and the cleaner can only compact rolled segments.
        produce(source, topic, f"r{next(batches)}", 200, keys=40)
        return _compacted_away(source, topic)

    wait_until(compacted, timeout_s=180, interval_s=0.5, what=f"the log cleaner to compact {topic}")
    # The cleaner stops here (no segment rolls any more), and the target topic, created
    # with these configs, never compacts: a record it compacted away while the source
    # still held it would pass for one the failover missed.
    admin(source).alter_topic_configs(
        topic, {"segment.ms": str(7 * 24 * 3600 * 1000), "min.cleanable.dirty.ratio": "0.99"}
    )
    left = {p: read_values(source, topic, p, end_offset(source, topic, p)) for p in range(PARTITIONS)}
    ends = {p: end_offset(source, topic, p) for p in range(PARTITIONS)}
    assert all(len(left[p]) < ends[p] for p in range(PARTITIONS)), "offsets have gaps"
    per_partition = min(len(v) for v in left.values()) * 6 // 10  # 60 % of what is left
    committed = read_some(source, topic, group, per_partition)
    task_id = sync_task(source, target, topic)
    client = folder_server.client()
    rows = wait_until(lambda: synced(client, task_id, group), timeout_s=90, what="the group synced")
    assert {r["source_offset"] for r in rows} == set(committed.values())
    check_failover(source, target, topic, topic, group, committed)


def test_group_with_an_active_member_on_the_target_is_not_written(
    brokers, folder_server, sync_task, unique
):
    source, target = brokers
    topic, group = f"busy.{unique}", f"app-{unique}"
    create_topic(source, topic, PARTITIONS)
    create_topic(target, topic, PARTITIONS)
    produce(source, topic, "r", 1000)
    read_some(source, topic, group, 300)
    member = consumer(target, group)
    try:
        member.subscribe([topic])
        wait_until(lambda: member.consume(1, 0.2) is not None and member.assignment(), what="joined")
        task_id = sync_task(source, target, topic)
        client = folder_server.client()

        def noted() -> list[dict[str, Any]] | None:
            rows = client.get(f"/api/v1/tasks/{task_id}/group-offsets").json()["offsets"]
            rows = [r for r in rows if r["group"] == group]
            if len(rows) == PARTITIONS and all(r["note"] and "active member" in r["note"] for r in rows):
                return rows
            return None

        rows = wait_until(noted, timeout_s=60, what="the active-member note")
        assert all(r["target_committed"] is None and r["synced_at"] is None for r in rows), rows
        committed = member.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=10)
        assert all(tp.offset < 0 for tp in committed), committed
    finally:
        member.close()
    wait_until(lambda: synced(client, task_id, group), timeout_s=60, what="synced once it left")


def test_failback_brings_progress_back_without_bouncing(brokers, folder_server, sync_task, unique):
    """After a failover, a task target→source with offset sync brings the group's
    progress back; records the source already had are not copied back onto it."""
    source, target = brokers
    topic, group = f"back.{unique}", f"app-{unique}"
    create_topic(source, topic, PARTITIONS)
    produce(source, topic, "r", 1000)
    committed = read_some(source, topic, group, 300)
    client = folder_server.client()
    forward = sync_task(source, target, topic)
    wait_until(lambda: synced(client, forward, group), timeout_s=90, what="the group synced")
    check_failover(source, target, topic, topic, group, committed)
    # Failed over: the forward task stops, producers write to the target now, and the
    # group reads part of that.
    assert client.delete(f"/api/v1/tasks/{forward}").status_code == 202
    wait_until(lambda: client.get(f"/api/v1/tasks/{forward}").status_code == 404, what="deleted")
    produce(target, topic, "new", 600)
    ends_before = {p: end_offset(target, topic, p) for p in range(PARTITIONS)}
    c = consumer(target, group)
    try:
        c.assign([TopicPartition(topic, p, ends_before[p] - 300) for p in range(PARTITIONS)])
        # It read the new records up to 100 before the end of each partition.
        c.commit(
            offsets=[TopicPartition(topic, p, ends_before[p] - 100) for p in range(PARTITIONS)],
            asynchronous=False,
        )
    finally:
        c.close()
    source_ends = {p: end_offset(source, topic, p) for p in range(PARTITIONS)}
    back = sync_task(target, source, topic)
    rows = wait_until(lambda: synced(client, back, group), timeout_s=90, what="failback synced")
    # The loop guard: only the 600 new records crossed back, none of the copies.
    wait_until(
        lambda: sum(end_offset(source, topic, p) - source_ends[p] for p in range(PARTITIONS)) == 600,
        what="the new records on the source",
    )
    source_committed = {r["partition"]: r["target_offset"] for r in rows}
    got = fail_over(source, topic, group)
    for p in range(PARTITIONS):
        assert source_committed[p] > committed[p], "the source group moved forward"
        values = got[p]
        assert all(v.startswith(b"new-") for v in values), "only new records are read back"
        # The last 100 new records of the partition, plus at most the bound again.
        assert 100 <= len(values) <= 100 + BOUND, len(values)
    assert sum(end_offset(source, topic, p) - source_ends[p] for p in range(PARTITIONS)) == 600


def test_offsets_only_move_forward_unless_reset(brokers, folder_server, sync_task, unique):
    """A target group ahead of the translation is left alone until a reset is asked."""
    source, target = brokers
    topic, group = f"fwd.{unique}", f"app-{unique}"
    create_topic(source, topic, PARTITIONS)
    create_topic(target, topic, PARTITIONS)
    produce(source, topic, "r", 1000)
    committed = read_some(source, topic, group, 200)
    ahead = consumer(target, group)
    try:
        ahead.commit(
            offsets=[TopicPartition(topic, p, 450) for p in range(PARTITIONS)], asynchronous=False
        )
    finally:
        ahead.close()
    task_id = sync_task(source, target, topic)
    client = folder_server.client()

    def rows(pred: Any) -> list[dict[str, Any]] | None:
        got = [
            r
            for r in client.get(f"/api/v1/tasks/{task_id}/group-offsets").json()["offsets"]
            if r["group"] == group
        ]
        return got if len(got) == PARTITIONS and all(pred(r) for r in got) else None

    held = wait_until(
        lambda: rows(lambda r: r["target_offset"] is not None and r["note"] and "ahead" in r["note"]),
        timeout_s=90,
        what="the ahead note",
    )
    assert all(r["target_committed"] == 450 for r in held), held
    answer = client.post(f"/api/v1/tasks/{task_id}/group-offsets/reset", json={"group": group})
    assert answer.status_code == 202, answer.text
    wait_until(lambda: synced(client, task_id, group), timeout_s=60, what="written after the reset")
    check_failover(source, target, topic, topic, group, committed)
