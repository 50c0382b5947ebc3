"""A client error inside a member's rebalance callback comes out of `consume()` as a typed,
catchable failure.

confluent-kafka (2.16) hands a KafkaException escaping a rebalance callback out of
`consume()` as a bare KafkaError, which is no exception class: not even `except
BaseException` catches it, so a member would die without closing its consumer. Every
callback of the member (its `Checkpointer`'s) turns such an error into a KsyncKafkaError
naming the partitions.

The error is a real one from librdkafka: giving up a partition the consumer was never
assigned ("Can't subtract from empty assignment"), inside a real rebalance.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from confluent_kafka import Consumer, TopicPartition
from helpers import create_topic, wait_until

from ksync.devkafka import KafkaCluster
from ksync.kafka.errors import KsyncKafkaError
from ksync.kafka.target_producer import TargetProducer
from ksync.replication.commit import Checkpointer, Progress
from ksync.replication.member import MemberConfig

from .support import member_config

Callback = Callable[[Checkpointer], Callable[[Consumer, list[TopicPartition]], None]]


def checkpointer(cfg: MemberConfig, consumer: Consumer, target: TargetProducer) -> Checkpointer:
    """The commit protocol of a member with `cfg`, on `consumer` and `target`."""
    return Checkpointer(
        consumer,
        target,
        Progress(),
        name="test",
        source=cfg.source,
        grant=lambda: "Read on the topic",
        warn=lambda text: None,
        start=cfg.start,
        at_start=dict,
        timeout_s=10.0,
        stop=threading.Event(),
        acknowledged=lambda: None,
    )


@pytest.mark.parametrize(
    "callback",
    [lambda c: c.on_revoke, lambda c: c.on_lost],
    ids=["revoke", "lost"],
)
def test_a_client_error_in_a_rebalance_callback_fails_as_a_typed_error_naming_the_partitions(
    brokers: tuple[KafkaCluster, KafkaCluster], unique: str, callback: Callback
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
    never_assigned = [TopicPartition(topic, 7)]
    consumer = Consumer({
        "bootstrap.servers": src.bootstrap,
        "group.id": f"cb-{unique}",
        "partition.assignment.strategy": "cooperative-sticky",
    })
    commits = checkpointer(cfg, consumer, target)
    raised: list[BaseException] = []

    def consume_once() -> bool:
        try:
            consumer.consume(10, 0.2)
        except Exception as exc:  # noqa: BLE001 - what the member's run() catches
            raised.append(exc)
        return bool(raised)

    try:
        # The member's callback runs inside consume(), at the group's first assignment.
        consumer.subscribe(
            [topic], on_assign=lambda c, _: callback(commits)(c, never_assigned)
        )
        wait_until(consume_once, timeout_s=60, what="the rebalance callback to fail")
    finally:
        consumer.close()
        target.close()
    assert isinstance(raised[0], KsyncKafkaError), repr(raised[0])
    assert f"{topic}[7]" in str(raised[0]) and "empty assignment" in str(raised[0])
