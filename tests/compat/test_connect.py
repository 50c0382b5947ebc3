"""The Kafka Connect REST face, driven by plain HTTP with MirrorMaker 2 configs against a
live server and real brokers: connectors are created from MM2 keys (registering the
clusters as instances), records flow, and the Connect operations (status, pause, resume,
restart, reconfigure, offsets, delete) behave and answer in Connect's shapes.

Tests share one server and broker pair per module, use distinct topic and connector
names, and delete what they create.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import (
    KsyncServer,
    create_topic,
    producer,
    read_all,
    running_server,
    task_body,
    wait_until,
)

from ksync.devkafka import KafkaCluster, free_port

MIRROR = "org.apache.kafka.connect.mirror."
SOURCE_CONNECTOR = MIRROR + "MirrorSourceConnector"
BYTES = "org.apache.kafka.connect.converters.ByteArrayConverter"


@pytest.fixture(scope="module")
def connect_server(
    tmp_path_factory: pytest.TempPathFactory, brokers: tuple[KafkaCluster, KafkaCluster]
) -> Iterator[KsyncServer]:
    """One ksync server for the module; depends on `brokers` so it stops first."""
    with running_server(str(tmp_path_factory.mktemp("ksync-connect"))) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(connect_server: KsyncServer) -> Iterator[httpx.Client]:
    with connect_server.client() as c:
        yield c


def mm2_config(src: KafkaCluster, dst: KafkaCluster, **extra: str) -> dict[str, str]:
    """A MirrorSourceConnector config as an MM2 user writes it (aliases east -> west)."""
    return {
        "connector.class": SOURCE_CONNECTOR,
        "source.cluster.alias": "east",
        "target.cluster.alias": "west",
        "source.cluster.bootstrap.servers": src.bootstrap,
        "target.cluster.bootstrap.servers": dst.bootstrap,
        "replication.policy.class": MIRROR + "DefaultReplicationPolicy",
        "key.converter": BYTES,
        "value.converter": BYTES,
        **extra,
    }


def assert_connect_error(response: httpx.Response, status: int, *words: str) -> str:
    """Connect's error shape `{"error_code", "message"}`; the message names `words`."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error_code", "message"}, body
    assert body["error_code"] == status, body
    assert isinstance(body["message"], str) and body["message"], body
    for word in words:
        assert word in body["message"], body
    return str(body["message"])


def produce(broker: KafkaCluster, topic: str, partitions: int, count: int, start: int = 0) -> None:
    p = producer(broker)
    for i in range(start, start + count):
        p.produce(topic, key=f"k{i}".encode(), value=f"v{i}".encode(), partition=i % partitions)
    assert p.flush(30) == 0


def status(client: httpx.Client, name: str) -> dict[str, Any]:
    r = client.get(f"/connectors/{name}/status")
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def wait_state(client: httpx.Client, name: str, state: str, timeout_s: float = 60.0) -> dict[str, Any]:
    """Poll the status until the connector and all its tasks show `state`."""

    seen: list[dict[str, Any]] = [{}]

    def check() -> Any:
        seen[0] = s = status(client, name)
        states = {s["connector"]["state"], *(t["state"] for t in s["tasks"])}
        return s if states == {state} else None

    try:
        return wait_until(check, timeout_s=timeout_s, what=f"connector {name} to be {state}")  # type: ignore[no-any-return]
    except AssertionError as exc:
        task_id = seen[0].get("ksync", {}).get("task_id")
        detail = client.get(f"/api/v1/tasks/{task_id}").text if task_id else ""
        raise AssertionError(f"{exc}; last status: {seen[0]}; task: {detail}") from None


def delete_connector(client: httpx.Client, name: str) -> None:
    """DELETE answers 204 and the connector is gone at once; the task follows."""
    task_id = status(client, name)["ksync"]["task_id"]
    r = client.delete(f"/connectors/{name}")
    assert r.status_code == 204, r.text
    assert r.content == b""
    assert_connect_error(client.get(f"/connectors/{name}"), 404, name)
    wait_until(
        lambda: client.get(f"/api/v1/tasks/{task_id}").status_code == 404,
        timeout_s=60,
        what=f"task {task_id} to be gone",
    )


def test_server_info_and_plugins(client: httpx.Client) -> None:
    r = client.get("/")
    assert r.status_code == 200, r.text
    info = r.json()
    assert set(info) == {"version", "commit", "kafka_cluster_id"}
    assert info["version"].startswith("3.") and isinstance(info["commit"], str)
    assert isinstance(info["kafka_cluster_id"], str)
    # A browser asking for HTML gets the web console's answer, not Connect's JSON.
    html = client.get("/", headers={"accept": "text/html,application/xhtml+xml"})
    assert "kafka_cluster_id" not in html.text

    r = client.get("/connector-plugins")
    assert r.status_code == 200, r.text
    plugins = r.json()
    assert [p["class"] for p in plugins] == [SOURCE_CONNECTOR]
    assert plugins[0]["type"] == "source" and isinstance(plugins[0]["version"], str)


def test_mm2_connector_lifecycle(
    client: httpx.Client, brokers: tuple[KafkaCluster, KafkaCluster]
) -> None:
    src, dst = brokers
    name = "east-to-west"
    create_topic(src, "orders", 2)
    produce(src, "orders", 2, 40)
    config = mm2_config(
        src,
        dst,
        topics="orders",
        **{
            "tasks.max": "1",
            "sync.topic.configs.enabled": "true",
            "emit.heartbeats.enabled": "false",
            "replication.factor": "1",
        },
    )

    # Create: 201, Location, Connect's ConnectorInfo shape.
    r = client.post("/connectors", json={"name": name, "config": config})
    assert r.status_code == 201, r.text
    assert r.headers["location"].endswith(f"/connectors/{name}")
    assert r.json() == {
        "name": name,
        "config": {**config, "name": name},
        "tasks": [{"connector": name, "task": 0}],
        "type": "source",
    }
    assert_connect_error(
        client.post("/connectors", json={"name": name, "config": config}), 409, name, "already exists"
    )

    # Records arrive in <source alias>.<topic>, partition for partition.
    copied = read_all(dst, "east.orders", 2, 40)
    assert sorted(m.value() for m in copied[0]) == sorted(f"v{i}".encode() for i in range(0, 40, 2))
    assert sorted(m.value() for m in copied[1]) == sorted(f"v{i}".encode() for i in range(1, 40, 2))

    s = wait_state(client, name, "RUNNING")
    assert s["name"] == name and s["type"] == "source"
    assert [t["id"] for t in s["tasks"]] == [0]
    assert all(isinstance(t["worker_id"], str) and t["worker_id"] for t in s["tasks"])
    assert isinstance(s["connector"]["worker_id"], str)
    assert "trace" not in s["connector"]
    # Keys ksync does not act on are reported, not dropped; converters to bytes are what
    # ksync does anyway.
    assert s["ksync"]["ignored_config"] == ["emit.heartbeats.enabled", "replication.factor"]
    task_id = s["ksync"]["task_id"]

    # The native API sees the mapped spec.
    task = client.get(f"/api/v1/tasks/{task_id}").json()
    assert task["name"] == name
    assert task["source"]["topics"] == ["orders"]
    assert task["target"]["topic_prefix"] == "east" and task["target"]["separator"] == "."
    assert task["options"]["sync_topic_configs"] is True and task["options"]["task_max"] == 1
    # Both clusters were registered, named by their aliases.
    instances = {i["bootstrap_servers"]: i["name"] for i in client.get("/api/v1/instances").json()["instances"]}
    assert instances[src.bootstrap] == "east" and instances[dst.bootstrap] == "west"

    # Listing, plain and expanded.
    assert name in client.get("/connectors").json()
    r = client.get("/connectors", params=[("expand", "status"), ("expand", "info")])
    assert r.status_code == 200, r.text
    expanded = r.json()[name]
    assert set(expanded) == {"status", "info"}
    assert expanded["info"] == client.get(f"/connectors/{name}").json()
    assert expanded["status"]["connector"]["state"] == "RUNNING"
    only_status = client.get("/connectors?expand=status").json()[name]
    assert set(only_status) == {"status"}

    assert client.get(f"/connectors/{name}/config").json() == {**config, "name": name}
    assert client.get(f"/connectors/{name}/topics").json() == {name: {"topics": ["east.orders"]}}

    tasks = client.get(f"/connectors/{name}/tasks").json()
    assert [t["id"] for t in tasks] == [{"connector": name, "task": 0}]
    assert tasks[0]["config"] == {
        **config,
        "name": name,
        "task.class": MIRROR + "MirrorSourceTask",
        "task.assigned.partitions": "orders-0,orders-1",
    }

    # Offsets in MM2's source-offset shape: the last replicated offset per partition.
    expected_offsets = [
        {"partition": {"cluster": "east", "partition": 0, "topic": "orders"}, "offset": {"offset": 19}},
        {"partition": {"cluster": "east", "partition": 1, "topic": "orders"}, "offset": {"offset": 19}},
    ]

    def offsets_done() -> Any:
        r = client.get(f"/connectors/{name}/offsets")
        assert r.status_code == 200, r.text
        offsets = sorted(r.json()["offsets"], key=lambda o: o["partition"]["partition"])
        return offsets if offsets == expected_offsets else None

    wait_until(offsets_done, timeout_s=30, what="offsets of both partitions at 19")

    # Pause -> PAUSED (again: still 202); records produced meanwhile follow the resume.
    r = client.put(f"/connectors/{name}/pause")
    assert r.status_code == 202 and r.content == b"", r.text
    wait_state(client, name, "PAUSED")
    assert client.put(f"/connectors/{name}/pause").status_code == 202
    produce(src, "orders", 2, 10, start=40)
    r = client.put(f"/connectors/{name}/resume")
    assert r.status_code == 202 and r.content == b"", r.text
    wait_state(client, name, "RUNNING")
    assert client.put(f"/connectors/{name}/resume").status_code == 202
    copied = read_all(dst, "east.orders", 2, 50)
    assert {m.value() for p in copied.values() for m in p} == {f"v{i}".encode() for i in range(50)}

    # Restart: plain (204), with tasks (202 + RESTARTING), only failed (nothing failed).
    r = client.post(f"/connectors/{name}/restart")
    assert r.status_code == 204 and r.content == b"", r.text
    wait_state(client, name, "RUNNING")
    r = client.post(f"/connectors/{name}/restart", params={"includeTasks": "true"})
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["connector"]["state"] == "RESTARTING"
    assert [t["state"] for t in body["tasks"]] == ["RESTARTING"]
    wait_state(client, name, "RUNNING")
    r = client.post(f"/connectors/{name}/restart", params={"includeTasks": "true", "onlyFailed": "true"})
    assert r.status_code == 202, r.text
    assert r.json()["connector"]["state"] == "RUNNING"

    # Reconfigure: add a topic; it is mirrored too.
    create_topic(src, "payments", 1)
    produce(src, "payments", 1, 5)
    new_config = {**config, "topics": "orders,payments", "name": name}
    r = client.put(f"/connectors/{name}/config", json=new_config)
    assert r.status_code == 200, r.text
    assert r.json()["config"] == new_config
    assert len(read_all(dst, "east.payments", 1, 5)[0]) >= 5
    assert client.get(f"/connectors/{name}/config").json() == new_config
    wait_state(client, name, "RUNNING")
    wait_until(
        lambda: client.get(f"/connectors/{name}/topics").json()[name]["topics"]
        == ["east.orders", "east.payments"],
        what="both target topics listed",
    )
    # The same config again changes nothing: no restart.
    events = client.get(f"/api/v1/tasks/{task_id}/events").json()["events"]
    assert client.put(f"/connectors/{name}/config", json=new_config).status_code == 200
    assert client.get(f"/api/v1/tasks/{task_id}/events").json()["events"] == events

    delete_connector(client, name)
    assert name not in client.get("/connectors").json()
    assert_connect_error(client.get(f"/connectors/{name}/status"), 404)
    assert_connect_error(client.delete(f"/connectors/{name}"), 404)


def test_stop_then_reset_offsets_copies_again_from_the_start(
    client: httpx.Client, brokers: tuple[KafkaCluster, KafkaCluster]
) -> None:
    src, dst = brokers
    name = "ledger-copy"
    create_topic(src, "ledger", 2)
    produce(src, "ledger", 2, 20)
    r = client.post("/connectors", json={"name": name, "config": mm2_config(src, dst, topics="ledger")})
    assert r.status_code == 201, r.text
    read_all(dst, "east.ledger", 2, 20)
    wait_state(client, name, "RUNNING")

    # Offsets change only on a stopped connector, as in Connect (KIP-875).
    for method in ("DELETE", "PATCH"):
        assert_connect_error(
            client.request(method, f"/connectors/{name}/offsets", json={"offsets": []}),
            400, "must be in the STOPPED state", f"/connectors/{name}/stop",
        )

    r = client.put(f"/connectors/{name}/stop")
    assert r.status_code == 202 and r.content == b"", r.text
    stopped = wait_state(client, name, "STOPPED")
    assert stopped["tasks"] == []  # a stopped connector runs no tasks
    assert client.get(f"/connectors/{name}").json()["tasks"] == []
    assert client.get(f"/connectors/{name}/tasks").json() == []
    assert client.put(f"/connectors/{name}/stop").status_code == 202
    assert len(client.get(f"/connectors/{name}/offsets").json()["offsets"]) == 2

    assert_connect_error(
        client.patch(f"/connectors/{name}/offsets", json={"offsets": []}),
        400, "cannot set offsets partition by partition", f"DELETE /connectors/{name}/offsets",
    )
    r = client.delete(f"/connectors/{name}/offsets")
    assert r.status_code == 200, r.text
    assert r.json() == {"message": "The offsets for this connector have been reset successfully"}
    assert client.get(f"/connectors/{name}/offsets").json() == {"offsets": []}

    # Resumed, it copies from the start point (earliest) again, new records included.
    produce(src, "ledger", 2, 10, start=20)
    assert client.put(f"/connectors/{name}/resume").status_code == 202
    wait_state(client, name, "RUNNING")
    copied = read_all(dst, "east.ledger", 2, 20 + 30)
    for p in range(2):
        source = [f"v{i}".encode() for i in range(30) if i % 2 == p]
        assert [m.value() for m in copied[p]] == source[:10] + source, p

    # A later pause is a pause: the stop mark does not outlive the stop.
    assert client.put(f"/connectors/{name}/pause").status_code == 202
    paused = wait_state(client, name, "PAUSED")
    assert [t["id"] for t in paused["tasks"]] == [0]
    delete_connector(client, name)


def test_tasks_max_spreads_partitions_over_connect_tasks(
    client: httpx.Client, brokers: tuple[KafkaCluster, KafkaCluster]
) -> None:
    src, dst = brokers
    name = "two-tasks"
    create_topic(src, "clicks", 2)
    config = mm2_config(src, dst, topics="clicks", **{"tasks.max": "2"})
    r = client.post("/connectors", json={"name": name, "config": config})
    assert r.status_code == 201, r.text
    assert r.json()["tasks"] == [{"connector": name, "task": 0}, {"connector": name, "task": 1}]

    # Both member slots go to a worker at once; whether Kafka then hands each a partition
    # is the group protocol's business, and on the test broker two members joining one
    # group together are sometimes never assigned (a broker quirk), so it is not awaited.
    def both_placed() -> Any:
        s = client.get(f"/connectors/{name}/status").json()
        placed = [t for t in s["tasks"] if isinstance(t.get("worker_id"), str) and t["worker_id"]]
        return s if len(placed) == 2 else None

    s = wait_until(both_placed, what="both Connect tasks placed on a worker")
    assert [t["id"] for t in s["tasks"]] == [0, 1]
    task = client.get(f"/api/v1/tasks/{s['ksync']['task_id']}").json()
    assert task["options"]["task_max"] == 2
    tasks = client.get(f"/connectors/{name}/tasks").json()
    assert [t["id"] for t in tasks] == [{"connector": name, "task": 0}, {"connector": name, "task": 1}]
    delete_connector(client, name)


def test_identity_policy_regex_topics_and_put_create(
    client: httpx.Client, brokers: tuple[KafkaCluster, KafkaCluster]
) -> None:
    src, dst = brokers
    name = "identity"
    for topic in ("inv-a", "inv-b", "other-c"):
        create_topic(src, topic, 1)
        produce(src, topic, 1, 3)
    config = mm2_config(
        src,
        dst,
        topics="inv-.*",
        **{"replication.policy.class": "IdentityReplicationPolicy", "connector.class": "MirrorSourceConnector"},
    )
    # PUT on a new name creates (201).
    r = client.put(f"/connectors/{name}/config", json=config)
    assert r.status_code == 201, r.text
    assert r.json()["name"] == name and r.json()["type"] == "source"
    for topic in ("inv-a", "inv-b"):  # same names on the target
        assert len(read_all(dst, topic, 1, 3)[0]) >= 3
    s = wait_state(client, name, "RUNNING")
    task = client.get(f"/api/v1/tasks/{s['ksync']['task_id']}").json()
    assert task["source"]["topics"] == [] and task["source"]["topic_regex"] == "inv-.*"
    assert task["target"]["topic_prefix"] == ""
    assert sorted(t["source"] for t in task["topics"]) == ["inv-a", "inv-b"]
    assert s["ksync"]["ignored_config"] == []
    # The clusters were reused, not registered again.
    servers = [i["bootstrap_servers"] for i in client.get("/api/v1/instances").json()["instances"]]
    assert servers.count(src.bootstrap) == 1 and servers.count(dst.bootstrap) == 1
    delete_connector(client, name)


def test_failed_connector_shows_trace_and_restarts_only_failed(
    client: httpx.Client, brokers: tuple[KafkaCluster, KafkaCluster]
) -> None:
    src, dst = brokers
    name = "too-narrow"
    create_topic(src, "wide", 3)
    create_topic(dst, "east.wide", 1)  # the test broker cannot add partitions: the task fails
    r = client.post("/connectors", json={"name": name, "config": mm2_config(src, dst, topics="wide")})
    assert r.status_code == 201, r.text

    s = wait_state(client, name, "FAILED")
    assert "east.wide" in s["connector"]["trace"] and "partitions" in s["connector"]["trace"]
    assert all("east.wide" in t["trace"] for t in s["tasks"])
    # Pausing a failed connector makes no sense: 409; resume leaves it failed (as Connect).
    assert_connect_error(client.put(f"/connectors/{name}/pause"), 409, "failed")
    assert client.put(f"/connectors/{name}/resume").status_code == 202
    assert status(client, name)["connector"]["state"] == "FAILED"

    r = client.post(f"/connectors/{name}/restart", params={"onlyFailed": "true"})
    assert r.status_code == 202, r.text
    assert r.json()["connector"]["state"] == "RESTARTING"
    assert "trace" not in r.json()["connector"]
    wait_state(client, name, "FAILED")  # the cause is still there
    delete_connector(client, name)


def test_task_created_natively_is_a_connector(
    client: httpx.Client, brokers: tuple[KafkaCluster, KafkaCluster]
) -> None:
    src, dst = brokers
    ids = {i["bootstrap_servers"]: i["id"] for i in client.get("/api/v1/instances").json()["instances"]}
    if src.bootstrap not in ids or dst.bootstrap not in ids:  # this test may run alone
        for broker in (src, dst):
            r = client.post("/api/v1/instances", json={"name": broker.cluster_id, "bootstrap_servers": broker.bootstrap})
            assert r.status_code == 201, r.text
            ids[broker.bootstrap] = r.json()["id"]
    create_topic(src, "native-t", 1)
    body = task_body(
        ids[src.bootstrap], ids[dst.bootstrap], name="native", topics=["native-t"],
        target={"topic_prefix": "gz", "separator": "_"},
    )
    r = client.post("/api/v1/tasks", json=body)
    assert r.status_code == 202, r.text

    assert "native" in client.get("/connectors").json()
    config = client.get("/connectors/native/config").json()
    assert config == {
        "name": "native",
        "connector.class": SOURCE_CONNECTOR,
        "source.cluster.alias": "gz",
        "target.cluster.alias": next(
            i["name"] for i in client.get("/api/v1/instances").json()["instances"] if i["id"] == ids[dst.bootstrap]
        ),
        "source.cluster.bootstrap.servers": src.bootstrap,
        "target.cluster.bootstrap.servers": dst.bootstrap,
        "replication.policy.class": MIRROR + "DefaultReplicationPolicy",
        "replication.policy.separator": "_",
        "topics": "native-t",
        "topics.exclude": "",
        "tasks.max": "1",
        "sync.topic.configs.enabled": "true",
    }
    wait_state(client, "native", "RUNNING")
    delete_connector(client, "native")


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"connector.class": "io.confluent.connect.jdbc.JdbcSourceConnector"}, "connector.class"),
        ({"connector.class": MIRROR + "MirrorCheckpointConnector"}, "connector.class"),
        ({"connector.class": None}, "connector.class"),
        ({"replication.policy.class": "com.example.CustomReplicationPolicy"}, "replication.policy.class"),
        ({"tasks.max": "many"}, "tasks.max"),
        ({"tasks.max": "0"}, "tasks.max"),
        ({"sync.topic.configs.enabled": "sometimes"}, "sync.topic.configs.enabled"),
        ({"topics": "orders,bad["}, "topics"),
        ({"topics": " , "}, "topics"),
        ({"topics.exclude": "(unclosed"}, "topics.exclude"),
        ({"source.cluster.bootstrap.servers": None}, "source.cluster.bootstrap.servers"),
        ({"target.cluster.bootstrap.servers": "no-port"}, "target.cluster.bootstrap.servers"),
        ({"source.cluster.alias": "bad alias!"}, "source.cluster.alias"),
        ({"replication.policy.separator": "/"}, "replication.policy.separator"),
        ({"source.cluster.security.protocol": "SASL_SSL"}, "source.cluster.sasl.mechanism"),
        ({"consumer.auto.offset.reset": "none"}, "consumer.auto.offset.reset"),
        ({"name": "someone-else"}, "name"),
        ({"topics": ["not", "a", "string"]}, "topics"),
    ],
)
def test_bad_config_answers_400_naming_the_key(
    client: httpx.Client, brokers: tuple[KafkaCluster, KafkaCluster], change: dict[str, Any], key: str
) -> None:
    src, dst = brokers
    config: dict[str, Any] = mm2_config(src, dst, topics="orders")
    for k, v in change.items():
        if v is None:
            config.pop(k)
        else:
            config[k] = v
    name = f"bad-{uuid.uuid4().hex[:6]}"
    before = client.get("/api/v1/instances").json()
    assert_connect_error(client.post("/connectors", json={"name": name, "config": config}), 400, key)
    assert_connect_error(client.put(f"/connectors/{name}/config", json=config), 400, key)
    assert_connect_error(client.get(f"/connectors/{name}"), 404)
    # The validate endpoint finds the same fault and puts it on the same key. Not for
    # the class (the URL names it) or a name differing from the URL's (validate has none).
    if key not in ("connector.class", "name"):
        checked = validate(client, "MirrorSourceConnector", {**config, "name": name})
        assert checked["error_count"] == 1, checked
        assert [k for k, errs in errors_by_key(checked).items() if errs] == [key], checked
    assert client.get("/api/v1/instances").json() == before


def validate(client: httpx.Client, plugin: str, config: dict[str, Any]) -> dict[str, Any]:
    r = client.put(f"/connector-plugins/{plugin}/config/validate", json=config)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert body["name"] == SOURCE_CONNECTOR and body["groups"], body
    return body


def errors_by_key(checked: dict[str, Any]) -> dict[str, list[str]]:
    return {c["value"]["name"]: c["value"]["errors"] for c in checked["configs"]}


def test_validate_checks_a_config_without_creating_anything(
    client: httpx.Client, brokers: tuple[KafkaCluster, KafkaCluster]
) -> None:
    src, dst = brokers
    name = f"check-{uuid.uuid4().hex[:6]}"
    config = mm2_config(
        src, dst, topics="orders", name=name,
        **{"target.cluster.ssl.truststore.certificates": "-----BEGIN CERTIFICATE-----"},
    )
    before = client.get("/api/v1/instances").json()
    for plugin in (SOURCE_CONNECTOR, "MirrorSourceConnector", "MirrorSource"):
        checked = validate(client, plugin, config)
        assert checked["error_count"] == 0, checked
        assert set(errors_by_key(checked)) == set(config)
        values = {c["value"]["name"]: c["value"]["value"] for c in checked["configs"]}
        assert values["topics"] == "orders"
        assert values["target.cluster.ssl.truststore.certificates"] == "[hidden]"
    missing_name = validate(client, "MirrorSource", {k: v for k, v in config.items() if k != "name"})
    assert errors_by_key(missing_name)["name"] == [
        'Missing required configuration "name" which has no default value.'
    ]
    assert_connect_error(
        client.put("/connector-plugins/MirrorHeartbeatConnector/config/validate", json=config),
        404, "MirrorHeartbeatConnector",
    )
    assert_connect_error(
        client.put("/connector-plugins/MirrorSource/config/validate",
                   json={**config, "connector.class": "FileStreamSource"}),
        400, "FileStreamSource does not match request type MirrorSource",
    )
    assert_connect_error(client.get(f"/connectors/{name}"), 404)
    assert client.get("/api/v1/instances").json() == before


def test_bad_requests_answer_400(client: httpx.Client, brokers: tuple[KafkaCluster, KafkaCluster]) -> None:
    src, dst = brokers
    assert_connect_error(client.post("/connectors", json={"name": "x"}), 400, "config")
    assert_connect_error(client.post("/connectors", json={"config": mm2_config(src, dst)}), 400, "name")
    assert_connect_error(client.post("/connectors", json=["a"]), 400)
    assert_connect_error(
        client.post("/connectors", content=b"{not json", headers={"content-type": "application/json"}), 400
    )
    assert_connect_error(client.put("/connectors/x/config", json="text"), 400)
    # The same cluster on both sides with the identity policy would sync topics onto themselves.
    same = mm2_config(
        src, dst, topics="orders",
        **{"target.cluster.bootstrap.servers": src.bootstrap, "replication.policy.class": "IdentityReplicationPolicy"},
    )
    assert_connect_error(client.post("/connectors", json={"name": "loop", "config": same}), 400, "replication.policy.class")
    assert_connect_error(client.get("/connectors/loop"), 404)


def test_unreachable_cluster_answers_400_and_registers_nothing(
    client: httpx.Client, brokers: tuple[KafkaCluster, KafkaCluster]
) -> None:
    src, dst = brokers
    before = client.get("/api/v1/instances").json()
    config = mm2_config(src, dst, topics="orders", **{"target.cluster.bootstrap.servers": f"127.0.0.1:{free_port()}"})
    r = client.post("/connectors", json={"name": "nowhere", "config": config})
    assert_connect_error(r, 400, "target.cluster.bootstrap.servers", "cannot reach")
    assert_connect_error(client.get("/connectors/nowhere"), 404)
    assert client.get("/api/v1/instances").json() == before


def test_unknown_connector_is_404(client: httpx.Client) -> None:
    name = "no-such-connector"
    calls = [
        ("GET", f"/connectors/{name}"),
        ("GET", f"/connectors/{name}/config"),
        ("GET", f"/connectors/{name}/status"),
        ("GET", f"/connectors/{name}/tasks"),
        ("GET", f"/connectors/{name}/topics"),
        ("GET", f"/connectors/{name}/offsets"),
        ("PUT", f"/connectors/{name}/pause"),
        ("PUT", f"/connectors/{name}/resume"),
        ("POST", f"/connectors/{name}/restart"),
        ("POST", f"/connectors/{name}/restart?includeTasks=true"),
        ("DELETE", f"/connectors/{name}"),
    ]
    for method, path in calls:
        message = assert_connect_error(client.request(method, path), 404, name)
        assert message == f"Connector {name} not found", (method, path)


def test_api_keys_guard_the_connect_face(tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    secret = "s3cret-for-connect"
    keys.write_text(json.dumps([{"id": "AKIDconnect", "secret": secret}]))
    srv = KsyncServer(str(tmp_path), "--api-keys-file", str(keys)).start()
    try:
        with httpx.Client(base_url=srv.url, timeout=30) as c:
            for path in ("/connectors", "/connector-plugins", "/"):
                for headers in ({}, {"authorization": "Bearer wrong-secret"}):
                    r = c.get(path, headers=headers)
                    message = assert_connect_error(r, 401)
                    assert secret not in message
            good = {"authorization": f"Bearer {secret}"}
            r = c.get("/connectors", headers=good)
            assert r.status_code == 200 and r.json() == [], r.text
            assert c.get("/", headers=good).json()["version"].startswith("3.")
            assert_connect_error(c.put("/connectors/x/pause"), 401)
            assert_connect_error(c.put("/connectors/x/pause", headers=good), 404, "x")
    finally:
        srv.stop()
