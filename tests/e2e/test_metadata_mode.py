"""Metadata-only tasks (`options.mode: metadata`) through a running server on real Kafka:
the target topics are created with the source's partitions and configs and follow a
partition increase and a config change, while no record is copied (no member runs, no
consumer group appears on the source). The mode changes only while the task is paused;
switched to `data`, the same task copies the records."""

from __future__ import annotations

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import ConfigResource
from helpers import wait_status, wait_until

from ksync.devkafka import KafkaCluster

from .topics_support import (
    add_partitions,
    admin,
    alter_configs,
    create_topic,
    explicit_configs,
    get_task,
    produce,
    start_task,
    tagged,
    topic_layout,
    wait_values,
)


def _ends(broker: KafkaCluster, topic: str, partitions: int) -> list[int]:
    """The high watermark of each partition of `topic`."""
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "ends", "log_level": 3})
    try:
        return [
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(partitions)
        ]
    finally:
        consumer.close()


def _group_exists(broker: KafkaCluster, group: str) -> bool:
    listed = admin(broker).list_consumer_groups(request_timeout=10).result(timeout=15)
    return group in {g.group_id for g in listed.valid}


def test_a_metadata_task_keeps_topics_in_step_and_copies_no_record_until_switched_to_data(
    brokers, server, unique
):
    source, target = brokers
    topic = f"meta-{unique}"
    create_topic(source, topic, 2, configs={"retention.ms": "3600000", "cleanup.policy": "delete"})
    records = tagged("m", range(2), 5)
    produce(source, topic, records)
    client = server.client()
    task_id = start_task(
        client, source, target, topics=[topic], options={"mode": "metadata"}
    )

    task = wait_status(client, task_id, "Running", timeout_s=90)
    assert topic_layout(target, topic) == (2, 1)
    assert explicit_configs(target, topic) == {"retention.ms": "3600000", "cleanup.policy": "delete"}
    # What the task shows says it copies nothing, rather than a copy stalled at lag 0.
    assert task["options"]["mode"] == "metadata" and task["copies_records"] is False
    assert task["metrics"] is None and task["progress"] == []

    add_partitions(source, topic, 3)
    wait_until(lambda: topic_layout(target, topic) == (3, 1), timeout_s=60, what="3 partitions on the target")
    alter_configs(source, ConfigResource.Type.TOPIC, topic, {"retention.ms": "7200000"})
    wait_until(
        lambda: explicit_configs(target, topic).get("retention.ms") == "7200000",
        timeout_s=60,
        what="the config change on the target",
    )

    # By now a data task would have copied the records, written long before: none is there.
    assert _ends(target, topic, 3) == [0, 0, 0]
    assert not _group_exists(source, f"ksync-{task_id}")
    workers = client.get("/api/v1/workers").json()["workers"]
    assert [m for w in workers for m in w["members"] if m["task_id"] == task_id] == []
    task = get_task(client, task_id)
    assert task["status"] == "Running" and task["metrics"] is None, task

    # The mode is what the task is: it changes only while paused.
    refused = client.patch(f"/api/v1/tasks/{task_id}", json={"options": {"mode": "data"}})
    assert refused.status_code == 409, refused.text
    assert "pause it first" in refused.json()["error"]["message"]
    assert get_task(client, task_id)["options"]["mode"] == "metadata"
    assert client.post(f"/api/v1/tasks/{task_id}/pause").status_code == 202
    wait_status(client, task_id, "Paused", timeout_s=60)
    changed = client.patch(f"/api/v1/tasks/{task_id}", json={"options": {"mode": "data"}})
    assert changed.status_code == 200, changed.text
    assert changed.json()["copies_records"] is True
    assert client.post(f"/api/v1/tasks/{task_id}/start").status_code == 202
    wait_values(target, topic, {**records, 2: []})
    wait_status(client, task_id, "Running", timeout_s=90)
