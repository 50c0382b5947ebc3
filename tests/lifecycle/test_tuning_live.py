"""Client tuning changed with PATCH on a running task applies live: the worker restarts
its members with the new producer settings (each commits first), and nothing is lost."""

from __future__ import annotations

from helpers import (
    add_instance,
    create_topic,
    log_bytes,
    producer,
    read_all,
    task_body,
    wait_status,
    wait_until,
)

from .support import create_task

PARTITIONS = 2
PER_BATCH = 400


def _produce(broker, topic: str, tag: str) -> None:
    p = producer(broker, **{"compression.type": "none"})
    for i in range(PER_BATCH):
        # Compressible: a codec has something to save, so the target's log shows it.
        p.produce(topic, value=(f"{tag}-{i:05d} " * 40).encode(), key=b"k%d" % i, partition=i % PARTITIONS)
    p.flush(30)


def test_a_patched_compression_restarts_the_members_and_the_target_gets_compressed_batches(
    brokers, folder_server, unique
):
    source, target = brokers
    topic = f"tuning.live.{unique}"
    create_topic(source, topic, PARTITIONS)
    client = folder_server.client()
    src, dst = add_instance(client, source), add_instance(client, target)
    task_id = create_task(client, task_body(src, dst, topics=[topic], start={"type": "earliest"}))
    wait_status(client, task_id, "Running")

    _produce(source, topic, "plain")
    read_all(target, topic, PARTITIONS, PER_BATCH)
    plain = log_bytes(target, topic, PARTITIONS)

    response = client.patch(f"/api/v1/tasks/{task_id}", json={"options": {"compression": "zstd"}})
    assert response.status_code == 200, response.text
    assert response.json()["options"]["compression"] == "zstd"
    wait_until(
        lambda: any(
            f"task {task_id}: stopping member" in line and "client settings changed" in line
            for line in folder_server.log().splitlines()
        ),
        what="the worker to restart the member for its new client settings",
    )
    wait_status(client, task_id, "Running")

    _produce(source, topic, "zstd")
    got = read_all(target, topic, PARTITIONS, 2 * PER_BATCH)
    values = [m.value() for part in got.values() for m in part]
    assert len(values) == len(set(values)) == 2 * PER_BATCH, "a record was lost or repeated"
    compressed = log_bytes(target, topic, PARTITIONS) - plain
    # The same volume of records, zstd-compressed, takes a fraction of the first batch's bytes.
    assert compressed * 3 < plain, (plain, compressed)
