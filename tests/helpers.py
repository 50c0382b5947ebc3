"""Kafka helpers for tests: topics, producers, reading everything back, polling."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition

from ksync.devkafka import LocalBroker
from ksync.kafka.admin import InstanceAdmin, NewTopicPlan
from ksync.spec import Connection

# Group joins on the test broker wait about session.timeout.ms / 2 (DESIGN.md).
TEST_SESSION_TIMEOUT_MS = 6000


def admin(broker: LocalBroker) -> InstanceAdmin:
    return InstanceAdmin(Connection(instance_id=broker.cluster_id, bootstrap_servers=broker.bootstrap))


def create_topic(broker: LocalBroker, name: str, partitions: int, configs: dict[str, str] | None = None) -> None:
    admin(broker).create_topics([NewTopicPlan(name, partitions, 1, configs or {})])


def producer(broker: LocalBroker, **conf: Any) -> Producer:
    return Producer(
        {
            "bootstrap.servers": broker.bootstrap,
            "linger.ms": 5,
            "queue.buffering.max.messages": 2_000_000,
            "log_level": 3,
            **conf,
        }
    )


def read_all(
    broker: LocalBroker, topic: str, partitions: int, expected: int, timeout_s: float = 60.0
) -> dict[int, list[Any]]:
    """Every record of `topic` per partition, waiting until `expected` arrived in total.

    Returns {partition: [Message]}; fails with the count seen if the deadline passes.
    """
    consumer = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "log_level": 3,
        }
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    out: dict[int, list[Any]] = {p: [] for p in range(partitions)}
    seen = 0
    deadline = time.monotonic() + timeout_s
    try:
        while seen < expected:
            if time.monotonic() > deadline:
                raise AssertionError(f"{topic}: {seen} of {expected} records after {timeout_s}s")
            for msg in consumer.consume(10_000, 0.5):
                if msg.error() is None:
                    out[msg.partition()].append(msg)
                    seen += 1
        # Anything beyond `expected` (duplicates) that is already there.
        for msg in consumer.consume(10_000, 1.0):
            if msg.error() is None:
                out[msg.partition()].append(msg)
    finally:
        consumer.close()
    return out


def wait_until(predicate: Callable[[], Any], timeout_s: float = 30.0, interval_s: float = 0.2, what: str = "") -> Any:
    """Poll `predicate` until it returns something truthy; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what or predicate}; last={last!r}")
