"""Helpers of the consumer-group offset sync tests (`test_group_offsets`, `test_cutover`):
producing, a group reading part of a topic, failing a group over and checking what it
read. The `sync_task` fixture is in conftest.py."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from helpers import add_instance, producer, task_body, wait_status, wait_until

from ksync.devkafka import KafkaCluster
from ksync.replication.member import MemberConfig
from ksync.replication.offset_translation import reread_bound

PARTITIONS = 2
BOUND = reread_bound(MemberConfig.batch_size)


def produce(
    broker: KafkaCluster, topic: str, tag: str, count: int, keys: int | None = None, **conf: Any
) -> None:
    """`count` records of unique values `tag-i` over the partitions in turn; with `keys`,
    their keys repeat after that many (for compaction)."""
    p = producer(broker, **conf)
    for i in range(count):
        key = f"k{i % keys if keys else i}".encode()
        p.produce(topic, f"{tag}-{i}".encode(), key, partition=i % PARTITIONS)
    assert p.flush(30) == 0


def produce_transactions(broker: KafkaCluster, topic: str, tag: str, count: int) -> None:
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


def consumer(broker: KafkaCluster, group: str, **conf: Any) -> Consumer:
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


def read_some(broker: KafkaCluster, topic: str, group: str, per_partition: int) -> dict[int, int]:
    """The group reads `per_partition` records of each partition from the start and
    commits; returns its committed offsets (the next record it would read)."""
    c = consumer(broker, group)
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


def read_values(broker: KafkaCluster, topic: str, partition: int, upto: int) -> list[bytes]:
    """The values of a partition's records below offset `upto`, in order."""
    c = consumer(broker, f"peek-{uuid.uuid4().hex}")
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


def fail_over(broker: KafkaCluster, topic: str, group: str) -> dict[int, list[bytes]]:
    """A consumer of `group` on `broker` reads `topic` from its committed offsets to the
    end; returns the values read per partition."""
    ends = {p: end_offset(broker, topic, p) for p in range(PARTITIONS)}
    c = consumer(broker, group)
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


def end_offset(broker: KafkaCluster, topic: str, partition: int) -> int:
    c = consumer(broker, f"ends-{uuid.uuid4().hex}")
    try:
        return int(c.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[1])
    finally:
        c.close()


def start_offset(broker: KafkaCluster, topic: str, partition: int) -> int:
    """The partition's log start offset."""
    c = consumer(broker, f"starts-{uuid.uuid4().hex}")
    try:
        return int(c.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[0])
    finally:
        c.close()


def synced(client: Any, task_id: str, group: str) -> list[dict[str, Any]] | None:
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


def check_failover(
    source: KafkaCluster,
    target: KafkaCluster,
    topic: str,
    target_topic: str,
    group: str,
    committed: dict[int, int],
) -> dict[int, list[bytes]]:
    """Fail `group` over to the target and check what it reads: everything the source
    holds from its committed offsets on, and at most BOUND records of a partition again."""
    got = fail_over(target, target_topic, group)
    for p in range(PARTITIONS):
        before = read_values(source, topic, p, committed[p])
        after = set(read_values(source, topic, p, end_offset(source, topic, p))) - set(before)
        read = got[p]
        missed = after - set(read)
        assert not missed, f"partition {p}: {len(missed)} records after the commit not read"
        again = [v for v in read if v in set(before)]
        assert len(again) <= BOUND, f"partition {p}: {len(again)} re-read, bound {BOUND}"
    return got




@pytest.fixture
def sync_task(brokers: Any, folder_server: Any) -> Iterator[Any]:
    """Creates tasks with offset sync on (every second unless `sync` says otherwise; more
    task options in `options`); deletes them at the end."""
    client = folder_server.client()
    made: list[str] = []

    def make(
        src: KafkaCluster,
        dst: KafkaCluster,
        topic: str,
        sync: dict[str, Any] | None = None,
        options: dict[str, Any] | None = None,
        **target: Any,
    ) -> str:
        body = task_body(
            add_instance(client, src),
            add_instance(client, dst),
            topics=[topic],
            target=target,
            options={
                "sync_group_offsets": {"enabled": True, "interval_s": 1, **(sync or {})},
                **(options or {}),
            },
        )
        response = client.post("/api/v1/tasks", json=body)
        assert response.status_code == 202, response.text
        made.append(response.json()["id"])
        wait_status(client, made[-1], "Running")
        return str(made[-1])

    yield make
    for task_id in made:
        client.delete(f"/api/v1/tasks/{task_id}")
