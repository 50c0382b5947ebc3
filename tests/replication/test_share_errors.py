"""A client error while a member's share changes comes out as a typed failure naming the
partitions, never as a bare librdkafka error a member could not catch and report.

The error is a real one from librdkafka: giving up a partition the consumer was never
assigned ("Can't subtract from empty assignment").
"""

from __future__ import annotations

import threading

import pytest
from confluent_kafka import Consumer, TopicPartition
from helpers import create_topic

from ksync.devkafka import KafkaCluster
from ksync.kafka.errors import KsyncKafkaError
from ksync.kafka.target_producer import TargetProducer
from ksync.replication.commit import Checkpointer, Progress
from ksync.replication.member import MemberConfig

from .support import member_config


def checkpointer(cfg: MemberConfig, consumer: Consumer, target: TargetProducer) -> Checkpointer:
    """The commit protocol of a member with `cfg`, on `consumer` and `target`."""
    return Checkpointer(
        consumer,
        target,
        Progress(),
        name="test",
        group=cfg.group_id,
        source=cfg.source,
        grant=lambda: "Read on the topic",
        warn=lambda text: None,
        start=cfg.start,
        at_start=dict,
        timeout_s=10.0,
        stop=threading.Event(),
        acknowledged=lambda: None,
    )


def test_giving_up_a_partition_never_taken_fails_as_a_typed_error_naming_it(
    brokers: tuple[KafkaCluster, KafkaCluster], unique: str
) -> None:
    src, dst = brokers
    topic = f"cb-{unique}"
    create_topic(src, topic, 1)
    cfg = member_config(src, dst, f"task-cb{unique}", {topic: topic})
    target = TargetProducer(
        cfg.target,
        name="test",
        max_unacked_records=10,
        timeout_s=10.0,
        stop=threading.Event(),
        warn=lambda text: None,
        waiting=lambda: None,
    )
    target.open([])
    consumer = Consumer({"bootstrap.servers": src.bootstrap, "group.id": f"cb-{unique}"})
    commits = checkpointer(cfg, consumer, target)
    try:
        commits.take_up([TopicPartition(topic, 0)])
        with pytest.raises(KsyncKafkaError) as raised:
            commits.give_up([TopicPartition(topic, 7)])
    finally:
        consumer.close()
        target.close()
    assert f"{topic}[7]" in str(raised.value), str(raised.value)
