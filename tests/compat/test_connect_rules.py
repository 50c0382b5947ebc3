"""The Kafka Connect REST face's own answers, in process (no broker): server info and
plugins, MirrorMaker 2 configs it refuses (each naming the key), the validate endpoint,
Connect's 400/401/404 shapes, and an unreachable cluster. A refused request registers
nothing. The clusters a config names are instances already in the store (rows), which the
face reuses without connecting; only the unreachable case connects, to a closed port."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from inprocess import add_instance_row, api_client, store_of

from ksync.api.auth import ApiKey, KeyRing
from ksync.control import instances as instance_service
from ksync.devkafka import free_port

from .connect_support import (
    MIRROR,
    SOURCE_CONNECTOR,
    assert_connect_error,
    errors_by_key,
    mm2_config,
    validate,
)


@dataclass(frozen=True)
class Clusters:
    source: str  # bootstrap servers of two registered instances (rows, never reached)
    target: str


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with api_client(tmp_path_factory.mktemp("connect-inprocess")) as c:
        yield c


@pytest.fixture(scope="module")
def clusters(api: TestClient) -> Clusters:
    found = Clusters(f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}")
    add_instance_row(store_of(api), "east", cluster_id="cluster-east", bootstrap_servers=found.source)
    add_instance_row(store_of(api), "west", cluster_id="cluster-west", bootstrap_servers=found.target)
    return found


def test_server_info_and_plugins(api: TestClient) -> None:
    r = api.get("/")
    assert r.status_code == 200, r.text
    info = r.json()
    assert set(info) == {"version", "commit", "kafka_cluster_id"}
    assert info["version"].startswith("4.") and isinstance(info["commit"], str)
    assert isinstance(info["kafka_cluster_id"], str)
    # A browser asking for HTML gets the web console's answer, not Connect's JSON.
    html = api.get("/", headers={"accept": "text/html,application/xhtml+xml"})
    assert "kafka_cluster_id" not in html.text

    r = api.get("/connector-plugins")
    assert r.status_code == 200, r.text
    plugins = r.json()
    assert [p["class"] for p in plugins] == [SOURCE_CONNECTOR, MIRROR + "MirrorCheckpointConnector"]
    assert {p["type"] for p in plugins} == {"source"} and isinstance(plugins[0]["version"], str)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"connector.class": "io.confluent.connect.jdbc.JdbcSourceConnector"}, "connector.class"),
        ({"connector.class": MIRROR + "MirrorHeartbeatConnector"}, "connector.class"),
        ({"sync.group.offsets.enabled": "maybe"}, "sync.group.offsets.enabled"),
        ({"sync.group.offsets.interval.seconds": "0"}, "sync.group.offsets.interval.seconds"),
        ({"emit.checkpoints.interval.seconds": "often"}, "emit.checkpoints.interval.seconds"),
        ({"groups": "app,bad["}, "groups"),
        ({"groups.exclude": "(unclosed"}, "groups.exclude"),
        ({"sync.topic.acls.enabled": "yes"}, "sync.topic.acls.enabled"),
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
    api: TestClient, clusters: Clusters, change: dict[str, Any], key: str
) -> None:
    config: dict[str, Any] = mm2_config(clusters.source, clusters.target, topics="orders")
    for k, v in change.items():
        if v is None:
            config.pop(k)
        else:
            config[k] = v
    name = f"bad-{uuid.uuid4().hex[:6]}"
    before = api.get("/api/v1/instances").json()
    assert_connect_error(api.post("/connectors", json={"name": name, "config": config}), 400, key)
    assert_connect_error(api.put(f"/connectors/{name}/config", json=config), 400, key)
    assert_connect_error(api.get(f"/connectors/{name}"), 404)
    # The validate endpoint finds the same fault and puts it on the same key. Not for
    # the class (the URL names it) or a name differing from the URL's (validate has none).
    if key not in ("connector.class", "name"):
        checked = validate(api, "MirrorSourceConnector", {**config, "name": name})
        assert checked["error_count"] == 1, checked
        assert [k for k, errs in errors_by_key(checked).items() if errs] == [key], checked
    assert api.get("/api/v1/instances").json() == before
    assert api.get("/api/v1/tasks").json()["tasks"] == []


def test_validate_checks_a_config_without_creating_anything(api: TestClient, clusters: Clusters) -> None:
    name = f"check-{uuid.uuid4().hex[:6]}"
    config = mm2_config(
        clusters.source, clusters.target, topics="orders", name=name,
        **{"target.cluster.ssl.truststore.certificates": "-----BEGIN CERTIFICATE-----"},
    )
    before = api.get("/api/v1/instances").json()
    for plugin in (SOURCE_CONNECTOR, "MirrorSourceConnector", "MirrorSource"):
        checked = validate(api, plugin, config)
        assert checked["error_count"] == 0, checked
        assert set(errors_by_key(checked)) == set(config)
        values = {c["value"]["name"]: c["value"]["value"] for c in checked["configs"]}
        assert values["topics"] == "orders"
        assert values["target.cluster.ssl.truststore.certificates"] == "[hidden]"
    missing_name = validate(api, "MirrorSource", {k: v for k, v in config.items() if k != "name"})
    assert errors_by_key(missing_name)["name"] == [
        'Missing required configuration "name" which has no default value.'
    ]
    assert_connect_error(
        api.put("/connector-plugins/MirrorHeartbeatConnector/config/validate", json=config),
        404, "MirrorHeartbeatConnector",
    )
    assert_connect_error(
        api.put("/connector-plugins/MirrorSource/config/validate",
                json={**config, "connector.class": "FileStreamSource"}),
        400, "FileStreamSource does not match request type MirrorSource",
    )
    assert_connect_error(api.get(f"/connectors/{name}"), 404)
    assert api.get("/api/v1/instances").json() == before


def test_bad_requests_answer_400(api: TestClient, clusters: Clusters) -> None:
    assert_connect_error(api.post("/connectors", json={"name": "x"}), 400, "config")
    assert_connect_error(
        api.post("/connectors", json={"config": mm2_config(clusters.source, clusters.target)}), 400, "name"
    )
    assert_connect_error(api.post("/connectors", json=["a"]), 400)
    assert_connect_error(
        api.post("/connectors", content=b"{not json", headers={"content-type": "application/json"}), 400
    )
    assert_connect_error(api.put("/connectors/x/config", json="text"), 400)
    # The same cluster on both sides with the identity policy would sync topics onto themselves.
    same = mm2_config(
        clusters.source, clusters.source, topics="orders",
        **{"replication.policy.class": "IdentityReplicationPolicy"},
    )
    assert_connect_error(api.post("/connectors", json={"name": "loop", "config": same}), 400, "replication.policy.class")
    assert_connect_error(api.get("/connectors/loop"), 404)
    assert api.get("/api/v1/tasks").json()["tasks"] == []


def test_unreachable_cluster_answers_400_and_registers_nothing(
    api: TestClient, clusters: Clusters, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The refusal comes at once from the client; the check then waits out its timeout,
    # which is not what is under test here.
    monkeypatch.setattr(instance_service, "CONNECT_TIMEOUT_S", 1.0)
    before = api.get("/api/v1/instances").json()
    config = mm2_config(clusters.source, f"127.0.0.1:{free_port()}", topics="orders")
    r = api.post("/connectors", json={"name": "nowhere", "config": config})
    assert_connect_error(r, 400, "target.cluster.bootstrap.servers", "cannot reach")
    assert_connect_error(api.get("/connectors/nowhere"), 404)
    assert api.get("/api/v1/instances").json() == before


def test_unknown_connector_is_404(api: TestClient) -> None:
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
        ("PUT", f"/connectors/{name}/stop"),
        ("POST", f"/connectors/{name}/restart"),
        ("POST", f"/connectors/{name}/restart?includeTasks=true"),
        ("DELETE", f"/connectors/{name}"),
        ("DELETE", f"/connectors/{name}/offsets"),
    ]
    for method, path in calls:
        message = assert_connect_error(api.request(method, path), 404, name)
        assert message == f"Connector {name} not found", (method, path)


def test_api_keys_guard_the_connect_face(tmp_path: Path) -> None:
    secret = "s3cret-for-connect"
    with api_client(tmp_path, KeyRing([ApiKey("AKIDconnect", secret)])) as c:
        for path in ("/connectors", "/connector-plugins", "/"):
            for headers in ({}, {"authorization": "Bearer wrong-secret"}):
                message = assert_connect_error(c.get(path, headers=headers), 401)
                assert secret not in message
        good = {"authorization": f"Bearer {secret}"}
        r = c.get("/connectors", headers=good)
        assert r.status_code == 200 and r.json() == [], r.text
        assert c.get("/", headers=good).json()["version"].startswith("4.")
        assert_connect_error(c.put("/connectors/x/pause"), 401)
        assert_connect_error(c.put("/connectors/x/pause", headers=good), 404, "x")
