"""Support for end-to-end tests: reading topics back, comparing records, waiting for a
topic to stop changing. Everything here talks to the brokers directly, never to ksync, so
a test checks ksync's work with tools that do not share its code."""

from __future__ import annotations

import time
import uuid
from typing import Any, NamedTuple, Self

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource
from helpers import wait_until

from ksync.devkafka import KafkaCluster

ORIGIN = "ksync-origin"


class Record(NamedTuple):
    """What fidelity is about: everything a record carries except its offset."""

    key: bytes | None
    value: bytes | None
    timestamp: tuple[int, int]  # (timestamp type, ms)
    headers: tuple[tuple[str, bytes | None], ...]


def record(msg: Any) -> Record:
    return Record(msg.key(), msg.value(), msg.timestamp(), tuple(msg.headers() or ()))


def origin_of(msg: Any) -> bytes | None:
    """The `ksync-origin` header value of a message (None when absent)."""
    for k, v in msg.headers() or ():
        if k == ORIGIN:
            return v
    return None


def admin(broker: KafkaCluster) -> AdminClient:
    return AdminClient({"bootstrap.servers": broker.bootstrap, "log_level": 3})


def partition_counts(broker: KafkaCluster) -> dict[str, int]:
    """Every non-internal topic of `broker` with its partition count."""
    md = admin(broker).list_topics(timeout=10)
    return {
        n: len(t.partitions)
        for n, t in md.topics.items()
        if t.error is None and not n.startswith("__")
    }


def set_configs(broker: KafkaCluster, topic: str) -> dict[str, str]:
    """The configs set on the topic itself. Kafka describes every key, defaults included;
    the ones set on the topic are marked DYNAMIC_TOPIC_CONFIG."""
    client = admin(broker)  # kept alive until the answer is in: its futures die with it
    futures = client.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, topic)])
    (future,) = futures.values()
    return {
        n: e.value
        for n, e in future.result(timeout=10).items()
        if e.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    }


def read_now(
    broker: KafkaCluster, topic: str, partitions: int, timeout_s: float = 30.0
) -> dict[int, list[Any]]:
    """Everything `topic` holds right now, per partition: each partition read up to the
    high watermark it had when called.

    Not "until the partition EOF event": a reader that joins while a just-written topic is
    busy can be told EOF at offset 0 before the first fetch sees the records.
    """
    consumer = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "log_level": 3,
        }
    )
    out: dict[int, list[Any]] = {p: [] for p in range(partitions)}
    deadline = time.monotonic() + timeout_s
    try:
        ends = {p: _high_watermark(consumer, topic, p, deadline) for p in range(partitions)}
        left = {p for p, end in ends.items() if end > 0}
        consumer.assign([TopicPartition(topic, p, 0) for p in left])
        while left:
            if time.monotonic() > deadline:
                have = {p: len(out[p]) for p in sorted(left)}
                raise AssertionError(f"{topic}: partitions {have} (records read) never reached {ends}")
            batch: list[Any] = consumer.consume(10_000, 0.5)
            for msg in batch:
                p, err = msg.partition(), msg.error()
                if err is not None and err.code() != KafkaError._PARTITION_EOF:
                    raise AssertionError(f"{topic}[{p}]: {err}")
                if err is None and msg.offset() < ends[p]:
                    out[p].append(msg)
                # A transaction marker may hold the last offset: EOF at the end says done.
                if msg.offset() >= ends[p] - (err is None):
                    left.discard(p)
    finally:
        consumer.close()
    return out


# What a broker answers about a partition whose leader it does not know yet (the client
# builds these errors itself, so their retriable flag is not set).
_NOT_LED_YET = {
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError._UNKNOWN_PARTITION,
}


def _high_watermark(consumer: Consumer, topic: str, partition: int, deadline: float) -> int:
    """The partition's high watermark; asked again while the answer is a retriable error.

    A topic just created (by ksync, on the target) is listed before every broker knows its
    leaders: the first ListOffsets can go to a broker that answers NOT_LEADER_FOR_PARTITION
    although nothing is wrong, and the client's next metadata refresh finds the leader.
    """

    def ask() -> tuple[int] | None:
        try:
            return (int(consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=5.0)[1]),)
        except KafkaException as exc:
            err = exc.args[0] if exc.args else None
            if not isinstance(err, KafkaError) or err.code() not in _NOT_LED_YET:
                raise
            return None  # no broker leads it yet: ask again

    led: tuple[int] = wait_until(
        ask,
        timeout_s=max(deadline - time.monotonic(), 1.0),
        what=f"a broker to lead {topic}[{partition}]",
    )
    return led[0]


class Tail:
    """A reader that stays open on `topic` from offset 0 and accumulates what arrives,
    for topics too big to re-read on every poll. Use as a context manager."""

    def __init__(self, broker: KafkaCluster, topic: str, partitions: int) -> None:
        self.partitions = partitions
        self.values: dict[int, list[bytes]] = {p: [] for p in range(partitions)}
        self.at_end: set[int] = set()
        self._consumer = Consumer(
            {
                "bootstrap.servers": broker.bootstrap,
                "group.id": f"reader-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "log_level": 3,
            }
        )
        self._consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])

    def poll(self, timeout_s: float = 0.2) -> int:
        """Read what is there now; returns how many records were read in total so far."""
        batch: list[Any] = self._consumer.consume(50_000, timeout_s)
        for msg in batch:
            err = msg.error()
            if err is None:
                self.values[msg.partition()].append(msg.value())
                self.at_end.discard(msg.partition())
            elif err.code() == KafkaError._PARTITION_EOF:
                self.at_end.add(msg.partition())
        return sum(map(len, self.values.values()))

    def close(self) -> None:
        self._consumer.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def count_now(broker: KafkaCluster, topic: str, partitions: int) -> int:
    return sum(len(v) for v in read_now(broker, topic, partitions).values())
