"""A member meeting partitions added moments ago, against real brokers.

librdkafka's clients each keep their own metadata, refreshed every 5 minutes: a consumer
can be assigned a partition (the group leader saw it) that its own metadata does not know
yet, and a producer can be handed a record for a target partition it does not know yet.
Both must wait for the metadata to catch up, never fail the member or skip a record.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewPartitions
from helpers import create_topic, producer, read_all, wait_until

from ksync.devkafka import KafkaCluster
from ksync.kafka.target_producer import metadata_gap
from ksync.replication.member import Member, MemberConfig
from ksync.replication.partition_start import first_offsets
from ksync.spec import StartPoint

from .support import RunningMember, member_config

RunMember = Callable[[MemberConfig | Member], RunningMember]


def grow(broker: KafkaCluster, topic: str, total: int) -> None:
    """Grow `topic` to `total` partitions and wait until the broker's metadata lists them
    all with a leader: CreatePartitions answers a moment before it does, and a producer
    started in that moment fails its records for the new partitions."""
    client = AdminClient({"bootstrap.servers": broker.bootstrap, "log_level": 3})
    for future in client.create_partitions([NewPartitions(topic, total)]).values():
        future.result(timeout=30)

    def listed() -> bool:
        meta = client.list_topics(topic, timeout=10).topics.get(topic)
        return metadata_gap(meta) is None and meta is not None and len(meta.partitions) == total

    wait_until(listed, timeout_s=30, what=f"{topic} listed with {total} partitions")


def fill(broker: KafkaCluster, topic: str, records: dict[int, list[bytes]]) -> None:
    p = producer(broker)
    for partition, values in records.items():
        for value in values:
            p.produce(topic, value, partition=partition)
    assert p.flush(30) == 0


def test_a_new_partition_unknown_to_the_consumers_metadata_starts_at_its_first_record(
    brokers: tuple[KafkaCluster, KafkaCluster],
) -> None:
    src, dst = brokers
    topic = f"np-meta-{uuid.uuid4().hex[:8]}"
    create_topic(src, topic, 1)
    fill(src, topic, {0: [b"a", b"b", b"c"]})
    cfg = member_config(
        src,
        dst,
        uuid.uuid4().hex[:8],
        {topic: topic},
        start=StartPoint(type="latest"),
        partitions={topic: 1},
        partitions_at_start={topic: 1},
    )
    consumer = Consumer(
        {"bootstrap.servers": src.bootstrap, "group.id": cfg.group_id, "log_level": 3}
    )
    try:
        consumer.list_topics(topic, timeout=10)  # its metadata now knows one partition
        grow(src, topic, 3)
        fill(src, topic, {1: [b"x", b"y"], 2: [b"z"]})

        starts = first_offsets(
            consumer,
            [TopicPartition(topic, p) for p in range(3)],
            cfg.start,
            cfg.partitions_at_start,
            cfg.flush_timeout_s,
            threading.Event(),
        )
    finally:
        consumer.close()
    # Partition 0 existed at the start: `latest`. 1 and 2 are new: their first record.
    assert starts is not None
    assert [(tp.partition, tp.offset) for tp in starts] == [(0, 3), (1, 0), (2, 0)]


def test_records_of_a_new_partition_wait_for_the_target_partition_and_then_arrive(
    brokers: tuple[KafkaCluster, KafkaCluster], run_member: RunMember
) -> None:
    src, dst = brokers
    topic = f"np-target-{uuid.uuid4().hex[:8]}"
    create_topic(src, topic, 2)
    create_topic(dst, topic, 2)
    cfg = member_config(
        src,
        dst,
        uuid.uuid4().hex[:8],
        {topic: topic},
        partitions={topic: 2},
        partitions_at_start={topic: 2},
    )
    running = run_member(cfg)
    running.wait_assigned(2)
    before = {0: [b"p0-a"], 1: [b"p1-a"]}
    fill(src, topic, before)
    read_all(dst, topic, 2, 2)  # the member's producer has read the target's metadata

    grow(src, topic, 3)
    new = [b"p2-%d" % i for i in range(5)]
    fill(src, topic, {2: new})
    running.member.update_topics(
        {topic: topic}, partitions={topic: 3}, partitions_at_start={topic: 2}
    )
    running.wait_assigned(3)
    # Only now does the target get its third partition (the controller's next refresh).
    grow(dst, topic, 3)

    got = read_all(dst, topic, 3, 7)
    assert {p: [m.value() for m in msgs] for p, msgs in got.items()} == {**before, 2: new}
    assert running.snapshot().state == "running"
