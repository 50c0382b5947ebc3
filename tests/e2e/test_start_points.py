"""Start points end to end: `earliest`, `latest`, and `timestamp` accepted and started.

Which records a timestamp selects (Kafka's own ListOffsets by time) is checked at the
member, in tests/replication/test_member.py.
"""

from __future__ import annotations

from helpers import (
    add_instance,
    create_topic,
    producer,
    read_all,
    task_body,
    wait_status,
    wait_until,
)


def _produce(broker, topic: str, partitions: int, tag: str, count: int) -> set[bytes]:
    """`count` records per partition valued `tag-p-i`, acknowledged. Returns the values."""
    p = producer(broker)
    values = set()
    for i in range(count):
        for part in range(partitions):
            value = f"{tag}-{part}-{i}".encode()
            values.add(value)
            p.produce(topic, value, b"k%d" % i, partition=part)
    assert p.flush(30) == 0
    return values


def _values(got: dict[int, list]) -> list[bytes]:
    return [m.value() for msgs in got.values() for m in msgs]


def _progress(client, task_id: str) -> dict[tuple[str, int], int | None]:
    task = client.get(f"/api/v1/tasks/{task_id}").json()
    return {(p["topic"], p["partition"]): p["committed_offset"] for p in task["progress"]}


def test_earliest_copies_every_existing_record(brokers, folder_server, unique):
    source, target = brokers
    topic, partitions = f"start.earliest.{unique}", 3
    create_topic(source, topic, partitions)
    old = _produce(source, topic, partitions, "old", 400)

    client = folder_server.client()
    src, dst = add_instance(client, source), add_instance(client, target)
    body = task_body(src, dst, topics=[topic], start={"type": "earliest"})
    response = client.post("/api/v1/tasks", json=body)
    assert response.status_code == 202, response.text
    task_id = response.json()["id"]
    wait_status(client, task_id, "Running")
    new = _produce(source, topic, partitions, "new", 50)

    got = _values(read_all(target, topic, partitions, len(old) + len(new)))
    assert len(got) == len(old) + len(new), "records repeated"
    assert set(got) == old | new
    wait_until(
        lambda: _progress(client, task_id) == {(topic, p): 450 for p in range(partitions)},
        what="progress committed at the end of every partition",
    )


def test_latest_copies_only_records_produced_after_the_start(brokers, folder_server, unique):
    source, target = brokers
    topic, partitions = f"start.latest.{unique}", 2
    create_topic(source, topic, partitions)
    _produce(source, topic, partitions, "old", 300)

    client = folder_server.client()
    src, dst = add_instance(client, source), add_instance(client, target)
    body = task_body(src, dst, topics=[topic], start={"type": "latest"})
    response = client.post("/api/v1/tasks", json=body)
    assert response.status_code == 202, response.text
    task_id = response.json()["id"]
    wait_status(client, task_id, "Running")
    # Running means every partition is owned, so its start offset was resolved and committed.
    assert _progress(client, task_id) == {(topic, p): 300 for p in range(partitions)}

    new = _produce(source, topic, partitions, "new", 40)
    got = _values(read_all(target, topic, partitions, len(new)))
    assert sorted(got) == sorted(new), f"{len(set(got) - new)} pre-existing records copied"
    wait_until(
        lambda: _progress(client, task_id) == {(topic, p): 340 for p in range(partitions)},
        what="progress committed at the end of every partition",
    )


def test_timestamp_start_is_accepted_and_the_member_starts(brokers, folder_server, unique):
    """The task keeps the start point it was given, runs, and its member resolved a start
    for every partition (the records it selects: see the module docstring)."""
    source, target = brokers
    topic = f"start.timestamp.{unique}"
    create_topic(source, topic, 2)
    _produce(source, topic, 2, "old", 10)

    client = folder_server.client()
    src, dst = add_instance(client, source), add_instance(client, target)
    start = {"type": "timestamp", "timestamp_ms": 1_700_000_000_000}
    response = client.post("/api/v1/tasks", json=task_body(src, dst, topics=[topic], start=start))
    assert response.status_code == 202, response.text
    assert response.json()["source"]["start"] == start
    task = wait_status(client, response.json()["id"], "Running")
    assert task["error"] is None
    assert set(_progress(client, task["id"])) == {(topic, 0), (topic, 1)}
    assert f"task {task['id']} member 0: assigned" in folder_server.log()
