"""Support for the topic-side end-to-end tests (start points, partition growth, configs,
replication factor). Like support.py it checks ksync's work with plain confluent-kafka
clients that share no code with ksync."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

from confluent_kafka import Producer
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewPartitions,
    NewTopic,
)
from helpers import add_instance, task_body, wait_until

from ksync.devkafka import KafkaCluster

from .support import read_now

# A refusal the target really makes: with its brokers' max.compaction.lag.ms bounded to
# one day (`broker_setting(target, MAX_LAG, ONE_DAY)`), a topic whose min.compaction.lag.ms
# is two days is refused as a conflict.
ONE_DAY, TWO_DAYS = "86400000", "172800000"
MAX_LAG = "log.cleaner.max.compaction.lag.ms"


def admin(broker: KafkaCluster) -> AdminClient:
    return AdminClient({"bootstrap.servers": broker.bootstrap, "log_level": 3})


def create_topic(
    broker: KafkaCluster,
    name: str,
    partitions: int,
    replication_factor: int = 1,
    configs: dict[str, str] | None = None,
) -> None:
    client = admin(broker)
    topic = NewTopic(name, partitions, replication_factor, config=dict(configs or {}))
    for future in client.create_topics([topic]).values():
        future.result(timeout=30)


def add_partitions(broker: KafkaCluster, topic: str, total: int) -> None:
    """CreatePartitions: grow `topic` to `total` partitions."""
    client = admin(broker)
    for future in client.create_partitions([NewPartitions(topic, total)]).values():
        future.result(timeout=30)


def topic_layout(broker: KafkaCluster, topic: str) -> tuple[int, int] | None:
    """(partitions, replication factor) of `topic`, or None while it does not exist."""
    md = admin(broker).list_topics(topic, timeout=10)
    meta = md.topics.get(topic)
    if meta is None or meta.error is not None or not meta.partitions:
        return None
    return len(meta.partitions), min(len(p.replicas) for p in meta.partitions.values())


def explicit_configs(broker: KafkaCluster, topic: str) -> dict[str, str]:
    """The configs set on `topic` itself (not broker or built-in defaults)."""
    client = admin(broker)  # kept alive until the answer is in: its futures die with it
    (future,) = client.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, topic)]).values()
    return {
        name: entry.value
        for name, entry in future.result(timeout=10).items()
        if entry.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    }


def alter_configs(
    broker: KafkaCluster,
    resource: ConfigResource.Type,
    name: str,
    set_: dict[str, str] | None = None,
    delete: tuple[str, ...] = (),
) -> None:
    """Incremental AlterConfigs on one resource: set some keys, remove others."""
    entries = [
        ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET)
        for k, v in (set_ or {}).items()
    ] + [ConfigEntry(k, None, incremental_operation=AlterConfigOpType.DELETE) for k in delete]
    client = admin(broker)
    resources = [ConfigResource(resource, name, incremental_configs=entries)]
    for future in client.incremental_alter_configs(resources).values():
        future.result(timeout=30)


def broker_config(broker: KafkaCluster, node_id: int, key: str) -> str | None:
    """A broker's dynamic (per-broker) setting of `key`, None when not set."""
    client = admin(broker)
    resource = ConfigResource(ConfigResource.Type.BROKER, str(node_id))
    (future,) = client.describe_configs([resource]).values()
    entry = future.result(timeout=10).get(key)
    if entry is None or entry.source != ConfigSource.DYNAMIC_BROKER_CONFIG.value:
        return None
    return str(entry.value)


@contextlib.contextmanager
def broker_setting(broker: KafkaCluster, key: str, value: str) -> Iterator[None]:
    """Set `key` on every broker of `broker` for the duration, then remove it again.

    For settings that only bound what a topic may be configured with, so that tests sharing
    the cluster meanwhile are not affected.
    """
    nodes = [n.node_id for n in broker.nodes]
    try:
        for node in nodes:
            alter_configs(broker, ConfigResource.Type.BROKER, str(node), {key: value})
        wait_until(
            lambda: all(broker_config(broker, n, key) == value for n in nodes),
            what=f"{key}={value} on every broker",
        )
        yield
    finally:
        for node in nodes:
            alter_configs(broker, ConfigResource.Type.BROKER, str(node), delete=(key,))
        wait_until(
            lambda: all(broker_config(broker, n, key) is None for n in nodes),
            what=f"{key} removed from every broker",
        )


def produce(
    broker: KafkaCluster,
    topic: str,
    records: dict[int, list[bytes]],
    timestamps: dict[int, list[int]] | None = None,
) -> None:
    """Write `records` ({partition: [values]}, in order), with explicit CreateTimes if given."""
    errors: list[Any] = []
    # Idempotent, so a retried first batch cannot land behind later ones (helpers.producer).
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5, "log_level": 3,
                  "enable.idempotence": True})
    for partition, values in records.items():
        stamps = (timestamps or {}).get(partition)
        for i, value in enumerate(values):
            p.produce(
                topic,
                value,
                partition=partition,
                timestamp=stamps[i] if stamps else 0,
                on_delivery=lambda err, _msg: errors.append(err) if err is not None else None,
            )
    assert p.flush(30) == 0
    assert errors == []


def tagged(tag: str, partitions: range | list[int], count: int) -> dict[int, list[bytes]]:
    """`count` values per partition, `tag-p-i`."""
    return {p: [f"{tag}-{p}-{i}".encode() for i in range(count)] for p in partitions}


def values_now(broker: KafkaCluster, topic: str, partitions: int) -> dict[int, list[bytes]]:
    return {p: [m.value() for m in msgs] for p, msgs in read_now(broker, topic, partitions).items()}


def wait_values(
    broker: KafkaCluster, topic: str, expected: dict[int, list[bytes]], timeout_s: float = 90.0
) -> dict[int, list[bytes]]:
    """Wait until `topic` holds exactly `expected` per partition (in order); returns it.

    A record copied that should not be (or twice) keeps the wait from ending, and the
    failure shows what the topic held last.
    """
    partitions = max(expected) + 1
    deadline = time.monotonic() + timeout_s
    got: dict[int, list[bytes]] | None = None
    while time.monotonic() < deadline:
        if topic_layout(broker, topic) is not None:
            got = values_now(broker, topic, partitions)
            if got == expected:
                return got
        time.sleep(0.5)
    raise AssertionError(
        f"{topic} does not hold exactly the expected records after {timeout_s}s:\n"
        f"expected {expected}\nheld {got}"
    )


def start_task(client: Any, source: KafkaCluster, target: KafkaCluster, **source_spec: Any) -> str:
    """Register both clusters and create a task (body as `task_body`); returns its id."""
    src, dst = add_instance(client, source), add_instance(client, target)
    response = client.post("/api/v1/tasks", json=task_body(src, dst, **source_spec))
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def get_task(client: Any, task_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/tasks/{task_id}")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def committed(client: Any, task_id: str) -> dict[tuple[str, int], int | None]:
    """The task's committed offsets per (topic, partition), as the API shows them."""
    return {
        (p["topic"], p["partition"]): p["committed_offset"]
        for p in get_task(client, task_id)["progress"]
    }


def warning_about(client: Any, task_id: str, *words: str) -> str | None:
    """The task's first warning containing every one of `words`, or None."""
    for warning in get_task(client, task_id)["warnings"]:
        if all(w in warning for w in words):
            return str(warning)
    return None
