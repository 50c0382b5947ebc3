"""Replication factor of created target topics: the source's, bounded by the target's brokers.

A source topic with replication factor 3 on a three-node cluster becomes a target topic
with replication factor 3 on a three-node target, and with 1 on the shared one-node
target, where the task warns that the target keeps fewer copies than the source. The
three-node clusters are this module's own: no other test needs them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers import wait_status, wait_until

from ksync.devkafka import KafkaCluster, kafka_clusters

from .topics_support import (
    create_topic,
    get_task,
    produce,
    start_task,
    tagged,
    topic_layout,
    wait_values,
)


@pytest.fixture(scope="module")
def three_nodes(
    kafka_pair: tuple[KafkaCluster, KafkaCluster],
) -> Iterator[tuple[KafkaCluster, KafkaCluster]]:
    """A source and a target cluster of three nodes each, for this module only.

    Depends on `kafka_pair` so the shared clusters (and the Kafka jars) come first, and
    this pair stops before them."""
    with kafka_clusters("rf-source", "rf-target", nodes=3, heap_mb=384) as (source, target):
        yield source, target


def test_a_topic_with_three_replicas_gets_three_on_a_three_node_target(three_nodes, server, unique):
    source, target = three_nodes
    topic = f"rf3-{unique}"
    create_topic(source, topic, 2, replication_factor=3)
    records = tagged("r", range(2), 20)
    produce(source, topic, records)

    client = server.client()
    task_id = start_task(client, source, target, topics=[topic])
    wait_status(client, task_id, "Running", timeout_s=120)
    assert topic_layout(target, topic) == (2, 3)
    wait_values(target, topic, records)
    assert not [w for w in get_task(client, task_id)["warnings"] if "replication factor" in w]


def test_on_a_one_node_target_it_gets_one_replica_and_the_task_says_so(
    three_nodes, brokers, server, unique
):
    source, _ = three_nodes
    _, small_target = brokers
    topic = f"rf1-{unique}"
    create_topic(source, topic, 2, replication_factor=3)
    records = tagged("r", range(2), 20)
    produce(source, topic, records)

    client = server.client()
    task_id = start_task(client, source, small_target, topics=[topic])
    wait_status(client, task_id, "Running", timeout_s=120)
    assert topic_layout(small_target, topic) == (2, 1)
    wait_values(small_target, topic, records)
    warnings = wait_until(
        lambda: [
            w
            for w in get_task(client, task_id)["warnings"]
            if topic in w and "replication factor 1" in w
        ],
        what="a warning about the lower replication factor",
    )
    assert "below the 3" in warnings[0] and "1 broker" in warnings[0], warnings
