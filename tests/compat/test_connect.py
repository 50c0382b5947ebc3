"""The Kafka Connect REST face against the shared Kafka clusters, driven by plain HTTP
with MirrorMaker 2 configs: connectors are created from MM2 keys (registering the
clusters as instances), records flow, and the Connect operations (status, pause, resume,
stop, restart, reconfigure, PATCH config, a task's status and restart, topics reset,
offsets, delete) behave and answer in Connect's shapes.

Tests share one server per module and use topic and connector names of their own (the
clusters are shared by the whole run); each deletes what it creates. What the face
answers without a cluster (bad configs, validate, 404s, keys) is in test_connect_rules.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
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
from scram_users import scram_user

from ksync.devkafka import KafkaCluster

from .connect_support import MIRROR, SOURCE_CONNECTOR, assert_connect_error
from .connect_support import mm2_config as mm2_servers


@pytest.fixture(scope="module")
def connect_server(
    tmp_path_factory: pytest.TempPathFactory, brokers: tuple[KafkaCluster, KafkaCluster]
) -> Iterator[KsyncServer]:
    """One ksync server for the module."""
    with running_server(str(tmp_path_factory.mktemp("ksync-connect"))) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(connect_server: KsyncServer) -> Iterator[httpx.Client]:
    with connect_server.client() as c:
        yield c


def mm2_config(src: KafkaCluster, dst: KafkaCluster, **extra: str) -> dict[str, str]:
    """A MirrorSourceConnector config from `src` to `dst` (aliases east -> west)."""
    return mm2_servers(src.bootstrap, dst.bootstrap, **extra)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def produce(broker: KafkaCluster, topic: str, partitions: int, count: int, start: int = 0) -> None:
    p = producer(broker)
    for i in range(start, start + count):
        p.produce(topic, key=f"k{i}".encode(), value=f"v{i}".encode(), partition=i % partitions)
    assert p.flush(30) == 0


def connector_over(
    client: httpx.Client, brokers: tuple[KafkaCluster, KafkaCluster], name: str, topic: str, count: int
) -> None:
    """A new 2-partition `topic` holding `count` records, and connector `name` copying it."""
    src, dst = brokers
    create_topic(src, topic, 2)
    produce(src, topic, 2, count)
    r = client.post("/connectors", json={"name": name, "config": mm2_config(src, dst, topics=topic)})
    assert r.status_code == 201, r.text


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


def test_mm2_connector_lifecycle(
    client: httpx.Client, brokers: tuple[KafkaCluster, KafkaCluster]
) -> None:
    src, dst = brokers
    name, orders, payments = unique("east-to-west"), unique("orders"), unique("payments")
    create_topic(src, orders, 2)
    produce(src, orders, 2, 40)
    config = mm2_config(
        src,
        dst,
        topics=orders,
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
    copied = read_all(dst, f"east.{orders}", 2, 40)
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
    assert task["source"]["topics"] == [orders]
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
    assert client.get(f"/connectors/{name}/topics").json() == {name: {"topics": [f"east.{orders}"]}}

    tasks = client.get(f"/connectors/{name}/tasks").json()
    assert [t["id"] for t in tasks] == [{"connector": name, "task": 0}]
    assert tasks[0]["config"] == {
        **config,
        "name": name,
        "task.class": MIRROR + "MirrorSourceTask",
        "task.assigned.partitions": f"{orders}-0,{orders}-1",
    }

    # Offsets in MM2's source-offset shape: the last replicated offset per partition.
    expected_offsets = [
        {"partition": {"cluster": "east", "partition": 0, "topic": orders}, "offset": {"offset": 19}},
        {"partition": {"cluster": "east", "partition": 1, "topic": orders}, "offset": {"offset": 19}},
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
    produce(src, orders, 2, 10, start=40)
    r = client.put(f"/connectors/{name}/resume")
    assert r.status_code == 202 and r.content == b"", r.text
    wait_state(client, name, "RUNNING")
    assert client.put(f"/connectors/{name}/resume").status_code == 202
    copied = read_all(dst, f"east.{orders}", 2, 50)
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
    create_topic(src, payments, 1)
    produce(src, payments, 1, 5)
    new_config = {**config, "topics": f"{orders},{payments}", "name": name}
    r = client.put(f"/connectors/{name}/config", json=new_config)
    assert r.status_code == 200, r.text
    assert r.json()["config"] == new_config
    assert len(read_all(dst, f"east.{payments}", 1, 5)[0]) >= 5
    assert client.get(f"/connectors/{name}/config").json() == new_config
    wait_state(client, name, "RUNNING")
    wait_until(
        lambda: client.get(f"/connectors/{name}/topics").json()[name]["topics"]
        == sorted([f"east.{orders}", f"east.{payments}"]),
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
    name, ledger = unique("ledger-copy"), unique("ledger")
    connector_over(client, brokers, name, ledger, 20)
    read_all(dst, f"east.{ledger}", 2, 20)
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
    produce(src, ledger, 2, 10, start=20)
    assert client.put(f"/connectors/{name}/resume").status_code == 202
    wait_state(client, name, "RUNNING")
    copied = read_all(dst, f"east.{ledger}", 2, 20 + 30)
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
    name, clicks = unique("two-tasks"), unique("clicks")
    create_topic(src, clicks, 2)
    config = mm2_config(src, dst, topics=clicks, **{"tasks.max": "2"})
    r = client.post("/connectors", json={"name": name, "config": config})
    assert r.status_code == 201, r.text
    assert r.json()["tasks"] == [{"connector": name, "task": 0}, {"connector": name, "task": 1}]

    # Both members join the task's consumer group; Kafka's coordinator gives each one of
    # the two partitions, and each Connect task shows its own.
    def spread() -> Any:
        tasks = client.get(f"/connectors/{name}/tasks").json()
        owned = [t["config"].get("task.assigned.partitions", "") for t in tasks]
        return tasks if sorted(owned) == [f"{clicks}-0", f"{clicks}-1"] else None

    tasks = wait_until(spread, what="one partition for each Connect task")
    assert [t["id"] for t in tasks] == [{"connector": name, "task": 0}, {"connector": name, "task": 1}]
    s = wait_state(client, name, "RUNNING")
    assert [t["id"] for t in s["tasks"]] == [0, 1]
    assert all(isinstance(t["worker_id"], str) and t["worker_id"] for t in s["tasks"])
    task = client.get(f"/api/v1/tasks/{s['ksync']['task_id']}").json()
    assert task["options"]["task_max"] == 2
    delete_connector(client, name)


def test_identity_policy_regex_topics_and_put_create(
    client: httpx.Client, brokers: tuple[KafkaCluster, KafkaCluster]
) -> None:
    src, dst = brokers
    name, inv = unique("identity"), unique("inv")
    for topic in (f"{inv}-a", f"{inv}-b", f"{inv}x-c"):
        create_topic(src, topic, 1)
        produce(src, topic, 1, 3)
    config = mm2_config(
        src,
        dst,
        topics=f"{inv}-.*",
        **{"replication.policy.class": "IdentityReplicationPolicy", "connector.class": "MirrorSourceConnector"},
    )
    # PUT on a new name creates (201).
    r = client.put(f"/connectors/{name}/config", json=config)
    assert r.status_code == 201, r.text
    assert r.json()["name"] == name and r.json()["type"] == "source"
    for topic in (f"{inv}-a", f"{inv}-b"):  # same names on the target
        assert len(read_all(dst, topic, 1, 3)[0]) >= 3
    s = wait_state(client, name, "RUNNING")
    task = client.get(f"/api/v1/tasks/{s['ksync']['task_id']}").json()
    assert task["source"]["topics"] == [] and task["source"]["topic_regex"] == f"{inv}-.*"
    assert task["target"]["topic_prefix"] == ""
    assert sorted(t["source"] for t in task["topics"]) == [f"{inv}-a", f"{inv}-b"]
    assert s["ksync"]["ignored_config"] == []
    # The clusters were reused, not registered again.
    servers = [i["bootstrap_servers"] for i in client.get("/api/v1/instances").json()["instances"]]
    assert servers.count(src.bootstrap) == 1 and servers.count(dst.bootstrap) == 1
    delete_connector(client, name)


def test_failed_connector_shows_trace_and_restarts_only_failed(
    client: httpx.Client, brokers: tuple[KafkaCluster, KafkaCluster]
) -> None:
    src, dst = brokers
    name, wide = unique("no-rights"), unique("wide")
    create_topic(src, wide, 3)
    # The target is reached as a user with no rights at all: the task cannot create or
    # write its topic, which no retry fixes.
    with scram_user([dst], "connect-norights") as user:
        config = mm2_config(src, dst, topics=wide, **{
            "target.cluster.bootstrap.servers": dst.sasl_bootstrap,
            "target.cluster.security.protocol": "SASL_PLAINTEXT",
            "target.cluster.sasl.mechanism": "SCRAM-SHA-512",
            "target.cluster.sasl.jaas.config": user.jaas(),
        })
        r = client.post("/connectors", json={"name": name, "config": config})
        assert r.status_code == 201, r.text

        s = wait_state(client, name, "FAILED")
        trace = s["connector"]["trace"]
        assert f"east.{wide}" in trace and "authoriz" in trace.lower(), trace
        assert all(t["trace"] == s["connector"]["trace"] for t in s["tasks"]), s
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
    name, topic = unique("native"), unique("native-t")
    create_topic(src, topic, 1)
    body = task_body(
        ids[src.bootstrap], ids[dst.bootstrap], name=name, topics=[topic],
        target={"topic_prefix": "gz", "separator": "_"},
    )
    r = client.post("/api/v1/tasks", json=body)
    assert r.status_code == 202, r.text

    assert name in client.get("/connectors").json()
    config = client.get(f"/connectors/{name}/config").json()
    assert config == {
        "name": name,
        "connector.class": SOURCE_CONNECTOR,
        "source.cluster.alias": "gz",
        "target.cluster.alias": next(
            i["name"] for i in client.get("/api/v1/instances").json()["instances"] if i["id"] == ids[dst.bootstrap]
        ),
        "source.cluster.bootstrap.servers": src.bootstrap,
        "target.cluster.bootstrap.servers": dst.bootstrap,
        "replication.policy.class": MIRROR + "DefaultReplicationPolicy",
        "replication.policy.separator": "_",
        "topics": topic,
        "topics.exclude": "",
        "tasks.max": "1",
        "sync.topic.configs.enabled": "true",
    }
    wait_state(client, name, "RUNNING")
    delete_connector(client, name)


def test_producer_and_consumer_overrides_tune_the_task(
    client: httpx.Client, brokers: tuple[KafkaCluster, KafkaCluster]
) -> None:
    """Connect's `producer.override.*` / `consumer.override.*` keys become the task's
    client tuning, on create and on a config change; a bad one is a 400 naming the key."""
    src, dst = brokers
    name, topic = unique("far"), unique("far-t")
    config = mm2_config(src, dst, topics=topic, **{
        "producer.override.compression.type": "lz4",
        "producer.override.linger.ms": "40",
        "producer.override.batch.size": "262144",
        "consumer.override.fetch.max.bytes": "8388608",
    })

    def options() -> dict[str, Any]:
        task_id = status(client, name)["ksync"]["task_id"]
        return client.get(f"/api/v1/tasks/{task_id}").json()["options"]  # type: ignore[no-any-return]

    bad = {**config, "producer.override.compression.type": "brotli"}
    assert_connect_error(
        client.post("/connectors", json={"name": name, "config": bad}),
        400, "producer.override.compression.type", "'none', 'lz4', 'zstd', 'snappy' or 'gzip'",
    )
    assert name not in client.get("/connectors").json()

    r = client.post("/connectors", json={"name": name, "config": config})
    assert r.status_code == 201, r.text
    try:
        assert status(client, name)["ksync"]["ignored_config"] == []
        assert {k: options()[k] for k in ("compression", "linger_ms", "batch_bytes", "fetch_max_bytes")} == {
            "compression": "lz4", "linger_ms": 40, "batch_bytes": 262_144, "fetch_max_bytes": 8_388_608
        }
        changed = {**config, "producer.override.compression.type": "zstd"}
        del changed["producer.override.linger.ms"]
        r = client.put(f"/connectors/{name}/config", json=changed)
        assert r.status_code == 200, r.text
        assert (options()["compression"], options()["linger_ms"]) == ("zstd", 5)  # 5: the default
        assert_connect_error(
            client.put(f"/connectors/{name}/config", json={**changed, "producer.override.linger.ms": "-1"}),
            400, "producer.override.linger.ms",
        )
        assert options()["linger_ms"] == 5
    finally:
        delete_connector(client, name)


def test_patch_config_task_status_and_restart_on_a_running_connector(
    client: httpx.Client, brokers: tuple[KafkaCluster, KafkaCluster]
) -> None:
    src, dst = brokers
    name, events = unique("patched"), unique("events")
    connector_over(client, brokers, name, events, 20)
    wait_state(client, name, "RUNNING")
    health = client.get("/health")
    assert health.status_code == 200 and health.json()["status"] == "healthy", health.text

    # PATCH: one key more, the rest kept; the connector runs again with two tasks.
    r = client.patch(f"/connectors/{name}/config", json={"tasks.max": "2"})
    assert r.status_code == 200, r.text
    assert r.json()["tasks"] == [{"connector": name, "task": 0}, {"connector": name, "task": 1}]
    assert r.json()["config"]["topics"] == events
    s = wait_state(client, name, "RUNNING")
    assert [t["id"] for t in s["tasks"]] == [0, 1]
    one = client.get(f"/connectors/{name}/tasks/1/status")
    assert one.status_code == 200, one.text
    assert one.json() == {"id": 1, "state": "RUNNING", "worker_id": s["tasks"][1]["worker_id"]}
    assert one.json()["worker_id"]

    # A task restart restarts the connector's members; they resume from their progress.
    r = client.post(f"/connectors/{name}/tasks/0/restart")
    assert r.status_code == 204 and r.content == b"", r.text
    produce(src, events, 2, 20, start=20)
    wait_state(client, name, "RUNNING")
    expected = {p: {f"v{i}".encode() for i in range(40) if i % 2 == p} for p in (0, 1)}

    def all_copied() -> bool:
        copied = read_all(dst, f"east.{events}", 2, 40)
        return {p: {m.value() for m in msgs} for p, msgs in copied.items()} == expected

    wait_until(all_copied, timeout_s=60, what=f"all 40 records on east.{events}")

    # Running, nothing failed: onlyFailed restarts nothing and says so.
    r = client.post(f"/connectors/{name}/restart", params={"includeTasks": "true", "onlyFailed": "true"})
    assert r.status_code == 202, r.text
    assert {r.json()["connector"]["state"], *(t["state"] for t in r.json()["tasks"])} == {"RUNNING"}

    # Topics reset is accepted; the list is the connector's current target topics.
    assert client.put(f"/connectors/{name}/topics/reset").status_code == 202
    assert client.get(f"/connectors/{name}/topics").json() == {name: {"topics": [f"east.{events}"]}}
    delete_connector(client, name)
