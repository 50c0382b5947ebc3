"""`/api/v1/tasks` against real brokers: a created task is answered at once (Unassigned),
resolves its topics with prefix + separator naming, reaches Running and copies; deleting
it answers Terminating, then 404, and leaves copied data, topics and instances alone. A
task closing a loop is accepted with a warning.

Tasks that run use the shared Kafka pair through the package's server (`client`), with
topic and task names of their own; what the API decides alone runs in process (`api`)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

import httpx
from fastapi.testclient import TestClient
from helpers import create_topic, producer, read_all, task_body, wait_status, wait_until
from inprocess import add_instance_row, store_of

from ksync.devkafka import KafkaCluster

from .support import assert_error, delete_task_and_wait

TASK_ID = re.compile(r"task-[a-z0-9]{8}")


def _task_ids(client: httpx.Client) -> list[str]:
    r = client.get("/api/v1/tasks")
    assert r.status_code == 200, r.text
    return [t["id"] for t in r.json()["tasks"]]


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def _produce(broker: KafkaCluster, topic: str, partitions: int, count: int) -> None:
    p = producer(broker)
    for i in range(count):
        p.produce(topic, key=f"k{i}".encode(), value=f"v{i}".encode(), partition=i % partitions)
    assert p.flush(30) == 0


def test_create_answers_at_once_then_runs_and_copies(
    client: httpx.Client, brokers: tuple[KafkaCluster, KafkaCluster], instances: tuple[str, str]
) -> None:
    src, dst = brokers
    a, b = instances
    orders, name = _name("orders"), _name("orders-to-sh")
    target = f"gz_{orders}"
    create_topic(src, orders, 3)
    _produce(src, orders, 3, 300)  # before the task: the default start (earliest) copies it

    body = task_body(
        a,
        b,
        name=name,
        topics=[orders],
        target={"topic_prefix": "gz", "separator": "_"},
    )
    r = client.post("/api/v1/tasks", json=body)
    assert r.status_code == 202, r.text
    task = r.json()
    task_id = task["id"]
    try:
        assert TASK_ID.fullmatch(task_id), task_id
        assert task["name"] == name
        assert task["status"] == "Unassigned"
        assert task["error"] is None
        assert isinstance(task["warnings"], list)
        assert task["source"]["instance_id"] == a and task["target"]["instance_id"] == b
        assert task["source"]["topics"] == [orders]
        assert task["source"]["start"] == {"type": "earliest", "timestamp_ms": None}
        # Subsets: later issues add fields to the spec (throttles …).
        expected_target = {
            "instance_id": b,
            "topic_prefix": "gz",
            "separator": "_",
            "keep_partition": True,
        }
        assert task["target"].items() >= expected_target.items()
        assert task["options"].items() >= {"sync_topic_configs": True, "task_max": 1}.items()
        created = datetime.fromisoformat(task["created_at"])
        assert created.tzinfo is not None
        assert datetime.fromisoformat(task["updated_at"]) >= created

        assert task_id in _task_ids(client)

        running = wait_status(client, task_id, "Running")
        assert running["topics"] == [{"source": orders, "target": target, "partitions": 3, "state": "syncing", "error": None, "warnings": [], "blocked_by": None}]
        assert running["error"] is None
        assert datetime.fromisoformat(running["updated_at"]) > created
        # The target topic exists with the source's partition count and holds the records.
        topics = {
            t["name"]: t for t in client.get(f"/api/v1/instances/{b}/topics").json()["topics"]
        }
        assert topics[target]["partitions"] == 3
        copied = read_all(dst, target, 3, 300)
        assert sum(len(v) for v in copied.values()) == 300
        listed = [t for t in client.get("/api/v1/tasks").json()["tasks"] if t["id"] == task_id]
        assert len(listed) == 1 and listed[0]["status"] == "Running"
    finally:
        gone = delete_task_and_wait(client, task_id)
    assert gone["id"] == task_id
    assert gone["status"] == "Terminating"
    assert_error(client.get(f"/api/v1/tasks/{task_id}"), 404, "not_found")
    assert task_id not in _task_ids(client)

    # Deleting stops the sync only: copied data, both topics and both instances stay.
    again = read_all(dst, target, 3, 300)
    assert sum(len(v) for v in again.values()) >= 300
    assert target in {
        t["name"] for t in client.get(f"/api/v1/instances/{b}/topics").json()["topics"]
    }
    assert orders in {
        t["name"] for t in client.get(f"/api/v1/instances/{a}/topics").json()["topics"]
    }
    for ins_id in (a, b):
        assert client.get(f"/api/v1/instances/{ins_id}").status_code == 200


def test_empty_prefix_keeps_the_topic_name(
    client: httpx.Client, brokers: tuple[KafkaCluster, KafkaCluster], instances: tuple[str, str]
) -> None:
    src, _ = brokers
    a, b = instances
    topic = _name("same-name")
    create_topic(src, topic, 2)
    r = client.post("/api/v1/tasks", json=task_body(a, b, topics=[topic]))
    assert r.status_code == 202, r.text
    task_id = r.json()["id"]
    try:
        task = wait_until(
            lambda: (t := client.get(f"/api/v1/tasks/{task_id}").json())["topics"] and t,
            what="topics to resolve",
        )
        assert task["topics"] == [{"source": topic, "target": topic, "partitions": 2, "state": "syncing", "error": None, "warnings": [], "blocked_by": None}]
    finally:
        delete_task_and_wait(client, task_id)


def test_unknown_task_is_404(api: TestClient) -> None:
    for response in (
        api.get("/api/v1/tasks/task-00000000"),
        api.delete("/api/v1/tasks/task-00000000"),
        api.post("/api/v1/tasks/task-00000000/pause"),
        api.post("/api/v1/tasks/task-00000000/start"),
        api.post("/api/v1/tasks/task-00000000/restart"),
        api.post("/api/v1/tasks/task-00000000/reset"),
    ):
        message = assert_error(response, 404, "not_found")
        assert "task-00000000" in message


def test_opposite_direction_is_accepted_with_a_loop_warning(
    client: httpx.Client, brokers: tuple[KafkaCluster, KafkaCluster], instances: tuple[str, str]
) -> None:
    src, dst = brokers
    a, b = instances
    ping = _name("ping")
    create_topic(src, ping, 1)
    create_topic(dst, ping, 1)
    first = client.post("/api/v1/tasks", json=task_body(a, b, topics=[ping]))
    assert first.status_code == 202, first.text
    ab = first.json()["id"]
    assert first.json()["warnings"] == []
    ba = None
    try:
        second = client.post("/api/v1/tasks", json=task_body(b, a, topics=[ping]))
        assert second.status_code == 202, second.text
        ba = second.json()["id"]
        warnings = second.json()["warnings"]
        assert any("loop" in w and ab in w for w in warnings), warnings
        # The first task learns about the loop too (the controller re-derives warnings).
        wait_until(
            lambda: any(
                "loop" in w and ba in w
                for w in client.get(f"/api/v1/tasks/{ab}").json()["warnings"]
            ),
            what="the loop warning on the first task",
        )
        delete_task_and_wait(client, ba)
        ba = None
        wait_until(
            lambda: (
                not any("loop" in w for w in client.get(f"/api/v1/tasks/{ab}").json()["warnings"])
            ),
            what="the loop warning to go once the loop is broken",
        )
    finally:
        if ba is not None:
            delete_task_and_wait(client, ba)
        delete_task_and_wait(client, ab)


def test_regex_start_and_options_are_kept_in_the_spec(api: TestClient) -> None:
    a, b = add_instance_row(store_of(api)), add_instance_row(store_of(api))
    body = task_body(
        a,
        b,
        topic_regex="tm-.*",
        exclude_regex="tm-skip",
        start={"type": "timestamp", "timestamp_ms": 1_700_000_000_000},
        options={"task_max": 2, "sync_topic_configs": False},
    )
    r = api.post("/api/v1/tasks", json=body)
    assert r.status_code == 202, r.text
    task = r.json()
    assert task["status"] == "Unassigned"
    assert task["source"]["topics"] == []
    assert task["source"]["topic_regex"] == "tm-.*"
    assert task["source"]["exclude_regex"] == "tm-skip"
    assert task["source"]["start"] == {"type": "timestamp", "timestamp_ms": 1_700_000_000_000}
    assert task["options"].items() >= {"sync_topic_configs": False, "task_max": 2}.items()
    stored = api.get(f"/api/v1/tasks/{task['id']}").json()
    for key in ("name", "source", "target", "options", "created_at"):
        assert stored[key] == task[key], key
    # Deleting answers at once with Terminating: the controller finishes it.
    gone = api.delete(f"/api/v1/tasks/{task['id']}")
    assert gone.status_code == 202 and gone.json()["status"] == "Terminating", gone.text


def test_same_cluster_selection_leaves_out_its_own_targets(
    client: httpx.Client, brokers: tuple[KafkaCluster, KafkaCluster], instances: tuple[str, str]
) -> None:
    src, _ = brokers
    a, _ = instances
    topic = _name("selfcopy")
    create_topic(src, topic, 1)
    body = task_body(a, a, topic_regex=f".*{topic}", target={"topic_prefix": "bak"})
    r = client.post("/api/v1/tasks", json=body)
    assert r.status_code == 202, r.text
    task_id = r.json()["id"]
    try:
        # Either it settles (Running) or the selection grows past the one source topic.
        task = wait_until(
            lambda: (
                (t := client.get(f"/api/v1/tasks/{task_id}").json())["topics"]
                and (t["status"] == "Running" or len(t["topics"]) > 1)
                and t
            ),
            what="the selection to settle or grow",
        )
        assert task["topics"] == [{"source": topic, "target": f"bak.{topic}", "partitions": 1, "state": "syncing", "error": None, "warnings": [], "blocked_by": None}]
    finally:
        delete_task_and_wait(client, task_id)
