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

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from helpers import add_instance, create_topic, producer, task_body, wait_status, wait_until

from ksync.devkafka import KafkaCluster
from ksync.replication.member import MemberConfig
from ksync.replication.offset_translation import reread_bound

PARTITIONS = 2
BOUND = reread_bound(MemberConfig.batch_size)


def _produce(broker: KafkaCluster, topic: str, tag: str, count: int, **conf: Any) -> None:
    p = producer(broker, **conf)
    for i in range(count):
        p.produce(topic, f"{tag}-{i}".encode(), f"k{i}".encode(), partition=i % PARTITIONS)
    assert p.flush(30) == 0


def _produce_transactions(broker: KafkaCluster, topic: str, tag: str, count: int) -> None:
    """`count` records in transactions of 7: each commit marker takes an offset, so the
    source's offsets have gaps the copy does not."""
    p = Producer(
        {"bootstrap.servers": broker.bootstrap, "transactional.id": f"tx-{uuid.uuid4().hex}", "log_level": 3}
    )
    p.init_transactions(30)
    for start in range(0, count, 7):
        p.begin_transaction()
        for i in range(start, min(count, start + 7)):
            p.produce(topic, f"{tag}-{i}".encode(), f"k{i % 50}".encode(), partition=i % PARTITIONS)
        p.commit_transaction(30)


def _consumer(broker: KafkaCluster, group: str, **conf: Any) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            # Without a committed offset a failed-over consumer would start at the end and
            # miss everything: a missing sync cannot pass for a working one.
            "auto.offset.reset": "latest",
            "log_level": 3,
            **conf,
        }
    )


def _read_some(broker: KafkaCluster, topic: str, group: str, per_partition: int) -> dict[int, int]:
    """The group reads `per_partition` records of each partition from the start and
    commits; returns its committed offsets (the next record it would read)."""
    c = _consumer(broker, group)
    try:
        c.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
        counts = dict.fromkeys(range(PARTITIONS), 0)
        last: dict[int, int] = {}
        while any(n < per_partition for n in counts.values()):
            for msg in c.consume(500, 1.0):
                p = msg.partition()
                if msg.error() is None and counts[p] < per_partition:
                    counts[p] += 1
                    last[p] = msg.offset() + 1
        offsets = [TopicPartition(topic, p, o) for p, o in last.items()]
        c.commit(offsets=offsets, asynchronous=False)
        return last
    finally:
        c.close()


def _read_values(broker: KafkaCluster, topic: str, partition: int, upto: int) -> list[bytes]:
    """The values of a partition's records below offset `upto`, in order."""
    c = _consumer(broker, f"peek-{uuid.uuid4().hex}")
    try:
        c.assign([TopicPartition(topic, partition, 0)])
        values: list[bytes] = []
        pos = 0
        while pos < upto:
            for msg in c.consume(1000, 1.0):
                if msg.error() is None and msg.offset() < upto:
                    values.append(msg.value())
                    pos = msg.offset() + 1
            # Transaction markers and compaction leave offsets without records.
            pos = max(pos, c.position([TopicPartition(topic, partition)])[0].offset)
        return values
    finally:
        c.close()


def _fail_over(broker: KafkaCluster, topic: str, group: str) -> dict[int, list[bytes]]:
    """A consumer of `group` on `broker` reads `topic` from its committed offsets to the
    end; returns the values read per partition."""
    ends = {p: _end(broker, topic, p) for p in range(PARTITIONS)}
    c = _consumer(broker, group)
    got: dict[int, list[bytes]] = {p: [] for p in range(PARTITIONS)}
    try:
        c.subscribe([topic])
        done: set[int] = set()

        def read() -> bool:
            for msg in c.consume(1000, 0.5):
                if msg.error() is None:
                    got[msg.partition()].append(msg.value())
                    if msg.offset() + 1 >= ends[msg.partition()]:
                        done.add(msg.partition())
            # A partition whose committed offset is its end has nothing to read.
            for tp in c.assignment():
                pos = c.position([tp])[0].offset
                if pos >= ends[tp.partition]:
                    done.add(tp.partition)
            return len(done) == PARTITIONS

        wait_until(read, timeout_s=90, interval_s=0, what=f"{group} to read {topic} to its end")
        c.commit(asynchronous=False)
    finally:
        c.close()
    return got


def _end(broker: KafkaCluster, topic: str, partition: int) -> int:
    c = _consumer(broker, f"ends-{uuid.uuid4().hex}")
    try:
        return int(c.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[1])
    finally:
        c.close()


def _synced(client: Any, task_id: str, group: str) -> list[dict[str, Any]] | None:
    """The group's rows once every partition's translation is written on the target."""
    rows = [
        r
        for r in client.get(f"/api/v1/tasks/{task_id}/group-offsets").json()["offsets"]
        if r["group"] == group
    ]
    ok = len(rows) == PARTITIONS and all(
        r["target_offset"] is not None and r["target_committed"] == r["target_offset"] for r in rows
    )
    return rows if ok else None


@pytest.fixture
def sync_task(brokers, folder_server) -> Iterator[Any]:
    """Creates tasks with offset sync on (every second); deletes them at the end."""
    client = folder_server.client()
    made: list[str] = []

    def make(src: KafkaCluster, dst: KafkaCluster, topic: str, **target: Any) -> str:
        body = task_body(
            add_instance(client, src),
            add_instance(client, dst),
            topics=[topic],
            target=target,
            options={"sync_group_offsets": {"enabled": True, "interval_s": 1}},
        )
        response = client.post("/api/v1/tasks", json=body)
        assert response.status_code == 202, response.text
        made.append(response.json()["id"])
        wait_status(client, made[-1], "Running")
        return str(made[-1])

    yield make
    for task_id in made:
        client.delete(f"/api/v1/tasks/{task_id}")


def _check_failover(
    source: KafkaCluster,
    target: KafkaCluster,
    topic: str,
    target_topic: str,
    group: str,
    committed: dict[int, int],
) -> dict[int, list[bytes]]:
    """Fail `group` over to the target and check what it reads: everything the source
    holds from its committed offsets on, and at most BOUND records of a partition again."""
    got = _fail_over(target, target_topic, group)
    for p in range(PARTITIONS):
        before = _read_values(source, topic, p, committed[p])
        after = set(_read_values(source, topic, p, _end(source, topic, p))) - set(before)
        read = got[p]
        missed = after - set(read)
        assert not missed, f"partition {p}: {len(missed)} records after the commit not read"
        again = [v for v in read if v in set(before)]
        assert len(again) <= BOUND, f"partition {p}: {len(again)} re-read, bound {BOUND}"
    return got


def test_failover_drill(brokers, folder_server, sync_task, unique):
    """A group 60 % through its topic fails over and misses nothing."""
    source, target = brokers
    topic, group = f"drill.{unique}", f"app-{unique}"
    create_topic(source, topic, PARTITIONS)
    _produce(source, topic, "r", 3000)
    committed = _read_some(source, topic, group, 900)  # 60 % of 1500 per partition
    task_id = sync_task(source, target, topic)
    client = folder_server.client()
    rows = wait_until(lambda: _synced(client, task_id, group), timeout_s=90, what="the group synced")
    assert {r["source_offset"] for r in rows} == set(committed.values())
    assert all(r["synced_at"] and r["note"] is None for r in rows), rows
    _check_failover(source, target, topic, topic, group, committed)


def test_lagging_and_head_groups_within_the_bound(brokers, folder_server, sync_task, unique):
    """A group thousands of records behind re-reads no more than one at the head."""
    source, target = brokers
    topic = f"lag.{unique}"
    create_topic(source, topic, PARTITIONS)
    _produce(source, topic, "r", 12_000)
    behind, head = f"behind-{unique}", f"head-{unique}"
    committed_behind = _read_some(source, topic, behind, 1234)  # 4,766 behind per partition
    committed_head = _read_some(source, topic, head, 6000)
    task_id = sync_task(source, target, topic)
    client = folder_server.client()
    for group in (behind, head):
        wait_until(lambda g=group: _synced(client, task_id, g), timeout_s=90, what=f"{group} synced")
    _check_failover(source, target, topic, topic, behind, committed_behind)
    got = _check_failover(source, target, topic, topic, head, committed_head)
    assert all(len(v) <= BOUND for v in got.values()), "a group at the head re-reads the bound at most"


def test_target_with_earlier_records_and_offset_gaps(brokers, folder_server, sync_task, unique):
    """The target partitions already hold other records (offsets differ) and the source
    has gaps (transaction markers on a compacted topic): translation stays exact."""
    source, target = brokers
    topic, group = f"gaps.{unique}", f"app-{unique}"
    create_topic(source, topic, PARTITIONS, {"cleanup.policy": "compact"})
    create_topic(target, topic, PARTITIONS)
    _produce(target, topic, "foreign", 777)
    _produce_transactions(source, topic, "r", 2100)
    committed = _read_some(source, topic, group, 600)
    assert any(o > 600 for o in committed.values()), "the source offsets have gaps"
    task_id = sync_task(source, target, topic)
    client = folder_server.client()
    rows = wait_until(lambda: _synced(client, task_id, group), timeout_s=90, what="the group synced")
    assert all(r["target_offset"] != r["source_offset"] for r in rows), rows
    _check_failover(source, target, topic, topic, group, committed)


def test_group_with_an_active_member_on_the_target_is_not_written(
    brokers, folder_server, sync_task, unique
):
    source, target = brokers
    topic, group = f"busy.{unique}", f"app-{unique}"
    create_topic(source, topic, PARTITIONS)
    create_topic(target, topic, PARTITIONS)
    _produce(source, topic, "r", 1000)
    _read_some(source, topic, group, 300)
    member = _consumer(target, group)
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
    wait_until(lambda: _synced(client, task_id, group), timeout_s=60, what="synced once it left")


def test_failback_brings_progress_back_without_bouncing(brokers, folder_server, sync_task, unique):
    """After a failover, a task target→source with offset sync brings the group's
    progress back; records the source already had are not copied back onto it."""
    source, target = brokers
    topic, group = f"back.{unique}", f"app-{unique}"
    create_topic(source, topic, PARTITIONS)
    _produce(source, topic, "r", 1000)
    committed = _read_some(source, topic, group, 300)
    client = folder_server.client()
    forward = sync_task(source, target, topic)
    wait_until(lambda: _synced(client, forward, group), timeout_s=90, what="the group synced")
    _check_failover(source, target, topic, topic, group, committed)
    # Failed over: the forward task stops, producers write to the target now, and the
    # group reads part of that.
    assert client.delete(f"/api/v1/tasks/{forward}").status_code == 202
    wait_until(lambda: client.get(f"/api/v1/tasks/{forward}").status_code == 404, what="deleted")
    _produce(target, topic, "new", 600)
    ends_before = {p: _end(target, topic, p) for p in range(PARTITIONS)}
    c = _consumer(target, group)
    try:
        c.assign([TopicPartition(topic, p, ends_before[p] - 300) for p in range(PARTITIONS)])
        # It read the new records up to 100 before the end of each partition.
        c.commit(
            offsets=[TopicPartition(topic, p, ends_before[p] - 100) for p in range(PARTITIONS)],
            asynchronous=False,
        )
    finally:
        c.close()
    source_ends = {p: _end(source, topic, p) for p in range(PARTITIONS)}
    back = sync_task(target, source, topic)
    rows = wait_until(lambda: _synced(client, back, group), timeout_s=90, what="failback synced")
    # The loop guard: only the 600 new records crossed back, none of the copies.
    wait_until(
        lambda: sum(_end(source, topic, p) - source_ends[p] for p in range(PARTITIONS)) == 600,
        what="the new records on the source",
    )
    source_committed = {r["partition"]: r["target_offset"] for r in rows}
    got = _fail_over(source, topic, group)
    for p in range(PARTITIONS):
        assert source_committed[p] > committed[p], "the source group moved forward"
        values = got[p]
        assert all(v.startswith(b"new-") for v in values), "only new records are read back"
        # The last 100 new records of the partition, plus at most the bound again.
        assert 100 <= len(values) <= 100 + BOUND, len(values)
    assert sum(_end(source, topic, p) - source_ends[p] for p in range(PARTITIONS)) == 600


def test_offsets_only_move_forward_unless_reset(brokers, folder_server, sync_task, unique):
    """A target group ahead of the translation is left alone until a reset is asked."""
    source, target = brokers
    topic, group = f"fwd.{unique}", f"app-{unique}"
    create_topic(source, topic, PARTITIONS)
    create_topic(target, topic, PARTITIONS)
    _produce(source, topic, "r", 1000)
    committed = _read_some(source, topic, group, 200)
    ahead = _consumer(target, group)
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
    wait_until(lambda: _synced(client, task_id, group), timeout_s=60, what="written after the reset")
    _check_failover(source, target, topic, topic, group, committed)
