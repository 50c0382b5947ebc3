"""The Kafka Connect face's newer calls, in process (no broker), over plain HTTP: health,
a plugin's config definitions, PATCH of a config, a task's status and restart, topics
reset, and restart with includeTasks/onlyFailed, each answered in Connect's shapes and
status codes; bad input answers Connect's error shape and changes nothing. The clusters
are instance rows, never reached; statuses a controller would write are written into the
store. The run against real clusters is in test_connect.py."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from helpers import SEALER
from inprocess import add_instance_row, api_client, store_of
from sqlalchemy import create_engine

from ksync.api.app import create_app
from ksync.api.compat.connect.config import HONOURED
from ksync.devkafka import free_port
from ksync.domain.status import TaskStatus
from ksync.domain.task import TaskChange
from ksync.settings import Settings
from ksync.store.repo import Store

from .connect_support import SOURCE_CONNECTOR, assert_connect_error, mm2_config

KEY_INFO_FIELDS = {
    "name",
    "type",
    "required",
    "default_value",
    "importance",
    "documentation",
    "group",
    "width",
    "display_name",
    "dependents",
    "order",
}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with api_client(tmp_path_factory.mktemp("connect-calls")) as c:
        yield c


@pytest.fixture(scope="module")
def servers(api: TestClient) -> tuple[str, str]:
    found = (f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}")
    add_instance_row(store_of(api), "east", cluster_id="cc-east", bootstrap_servers=found[0])
    add_instance_row(store_of(api), "west", cluster_id="cc-west", bootstrap_servers=found[1])
    return found


@pytest.fixture
def connector(api: TestClient, servers: tuple[str, str]) -> Iterator[str]:
    name = f"calls-{uuid.uuid4().hex[:6]}"
    config = mm2_config(*servers, topics="orders", **{"tasks.max": "2"})
    r = api.post("/connectors", json={"name": name, "config": config})
    assert r.status_code == 201, r.text
    yield name
    assert api.delete(f"/connectors/{name}").status_code == 204


def task_of(api: TestClient, name: str) -> str:
    task_id: str = api.get(f"/connectors/{name}/status").json()["ksync"]["task_id"]
    return task_id


def generation(api: TestClient, name: str) -> int:
    return store_of(api).tasks.get(task_of(api, name)).generation


def test_health_answers_connects_shape(api: TestClient, tmp_path: Path) -> None:
    r = api.get("/health")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"status", "message"} and body["status"] == "healthy", body
    assert "ready" in body["message"]

    # A store that cannot be opened: unhealthy, 500, saying so without its address.
    broken = Store(create_engine(f"sqlite:///{tmp_path}/no-such-dir/ksync.db"), SEALER)
    app = create_app(broken, Settings(data_dir=tmp_path))
    with TestClient(app, base_url="http://127.0.0.1") as c:
        r = c.get("/health")
    assert r.status_code == 500, r.text
    body = r.json()
    assert body["status"] == "unhealthy" and "store" in body["message"], body
    assert str(tmp_path) not in body["message"]


def test_plugin_config_lists_each_honoured_key(api: TestClient) -> None:
    for plugin in (SOURCE_CONNECTOR, "MirrorSourceConnector", "MirrorSource"):
        r = api.get(f"/connector-plugins/{plugin}/config")
        assert r.status_code == 200, r.text
        defs = r.json()
        assert isinstance(defs, list) and defs
        assert all(set(d) == KEY_INFO_FIELDS for d in defs), defs[0]
        assert {d["name"] for d in defs} == set(HONOURED)
    by_name = {d["name"]: d for d in defs}
    assert (by_name["tasks.max"]["type"], by_name["tasks.max"]["default_value"]) == ("INT", "1")
    assert by_name["source.cluster.bootstrap.servers"]["required"] is True
    assert by_name["target.cluster.sasl.jaas.config"]["type"] == "PASSWORD"
    assert by_name["sync.topic.configs.enabled"]["default_value"] == "true"
    assert all(d["documentation"] for d in defs if d["name"] in by_name)
    assert [d["order"] for d in defs] == list(range(1, len(defs) + 1))
    assert_connect_error(api.get("/connector-plugins/JdbcSourceConnector/config"), 404, "JdbcSourceConnector")
    # The validate endpoint describes each key by the same definitions.
    r = api.put(
        "/connector-plugins/MirrorSourceConnector/config/validate",
        json={"name": "x", "tasks.max": "2", "source.cluster.bootstrap.servers": "127.0.0.1:1",
              "target.cluster.bootstrap.servers": "127.0.0.1:2"},
    )
    shown = {c["definition"]["name"]: c["definition"] for c in r.json()["configs"]}
    assert shown["tasks.max"] == {**by_name["tasks.max"], "order": -1}


def test_patch_config_merges_and_removes_keys(api: TestClient, connector: str) -> None:
    task_id = task_of(api, connector)
    r = api.patch(
        f"/connectors/{connector}/config",
        json={"tasks.max": "3", "sync.topic.configs.enabled": "false", "emit.heartbeats.enabled": "false"},
    )
    assert r.status_code == 200, r.text
    info = r.json()
    assert set(info) == {"name", "config", "tasks", "type"} and info["type"] == "source"
    assert info["tasks"] == [{"connector": connector, "task": i} for i in range(3)]
    config = api.get(f"/connectors/{connector}/config").json()
    assert config["tasks.max"] == "3" and config["topics"] == "orders"  # others kept
    assert config["emit.heartbeats.enabled"] == "false"
    task = api.get(f"/api/v1/tasks/{task_id}").json()
    assert task["options"]["task_max"] == 3 and task["options"]["sync_topic_configs"] is False
    assert api.get(f"/connectors/{connector}/status").json()["ksync"]["ignored_config"] == [
        "emit.heartbeats.enabled"
    ]

    # null removes a key: back to the default.
    r = api.patch(
        f"/connectors/{connector}/config",
        json={"sync.topic.configs.enabled": None, "emit.heartbeats.enabled": None},
    )
    assert r.status_code == 200, r.text
    config = api.get(f"/connectors/{connector}/config").json()
    assert "sync.topic.configs.enabled" not in config and "emit.heartbeats.enabled" not in config
    assert api.get(f"/api/v1/tasks/{task_id}").json()["options"]["sync_topic_configs"] is True


def test_patch_config_refusals_change_nothing(api: TestClient, connector: str) -> None:
    before = api.get(f"/connectors/{connector}/config").json()
    task_before = api.get(f"/api/v1/tasks/{task_of(api, connector)}").json()
    generation_before = generation(api, connector)
    assert_connect_error(api.patch(f"/connectors/{connector}/config", json={"tasks.max": "0"}), 400, "tasks.max")
    assert_connect_error(
        api.patch(f"/connectors/{connector}/config", json={"source.cluster.bootstrap.servers": None}),
        400,
        "source.cluster.bootstrap.servers",
    )
    assert_connect_error(api.patch(f"/connectors/{connector}/config", json={"name": "other"}), 400, "name")
    assert_connect_error(api.patch(f"/connectors/{connector}/config", json={"topics": ["a"]}), 400, "topics")
    assert_connect_error(api.patch(f"/connectors/{connector}/config", content=b"[1]",
                                   headers={"content-type": "application/json"}), 400)
    assert_connect_error(api.patch("/connectors/no-such/config", json={"tasks.max": "2"}), 404, "no-such")
    assert api.get(f"/connectors/{connector}/config").json() == before
    after = api.get(f"/api/v1/tasks/{task_before['id']}").json()
    assert after["options"] == task_before["options"] and after["name"] == connector
    assert generation(api, connector) == generation_before


def test_task_status_and_restart(api: TestClient, connector: str) -> None:
    store = store_of(api)
    r = api.get(f"/connectors/{connector}/tasks/1/status")
    assert r.status_code == 200, r.text
    assert r.json() == {"id": 1, "state": "UNASSIGNED", "worker_id": ""}
    store.tasks.observe(task_of(api, connector), TaskChange(status=TaskStatus.FAILED, error="target refused"))
    failed = api.get(f"/connectors/{connector}/tasks/0/status").json()
    assert failed == {"id": 0, "state": "FAILED", "trace": "target refused", "worker_id": ""}
    for task in ("2", "-1", "x"):
        assert_connect_error(api.get(f"/connectors/{connector}/tasks/{task}/status"), 404, f"{connector}-{task}")
    assert_connect_error(api.get("/connectors/no-such/tasks/0/status"), 404, "no-such")

    before = generation(api, connector)
    r = api.post(f"/connectors/{connector}/tasks/1/restart")
    assert r.status_code == 204 and r.content == b"", r.text
    assert generation(api, connector) == before + 1  # every member restarts
    assert api.get(f"/connectors/{connector}/tasks/0/status").json()["state"] == "UNASSIGNED"
    assert_connect_error(api.post(f"/connectors/{connector}/tasks/7/restart"), 404, f"{connector}-7")
    assert_connect_error(api.post("/connectors/no-such/tasks/0/restart"), 404, "no-such")
    assert generation(api, connector) == before + 1
    # A paused connector restarts nothing: 409, resume it.
    assert api.put(f"/connectors/{connector}/pause").status_code == 202
    assert_connect_error(api.post(f"/connectors/{connector}/tasks/0/restart"), 409, "paused")
    assert generation(api, connector) == before + 1


def test_topics_reset(api: TestClient, connector: str) -> None:
    r = api.put(f"/connectors/{connector}/topics/reset")
    assert r.status_code == 202 and r.content == b"", r.text
    assert api.get(f"/connectors/{connector}/topics").json() == {connector: {"topics": []}}
    assert_connect_error(api.put("/connectors/no-such/topics/reset"), 404, "no-such")


def _states(body: dict[str, Any]) -> list[str]:
    return [body["connector"]["state"], *(t["state"] for t in body["tasks"])]


def test_restart_with_include_tasks_and_only_failed(api: TestClient, connector: str) -> None:
    store = store_of(api)
    start = generation(api, connector)
    # Nothing failed: onlyFailed restarts nothing, and says so with the current states.
    for params in ({"onlyFailed": "true"}, {"onlyFailed": "true", "includeTasks": "true"}):
        r = api.post(f"/connectors/{connector}/restart", params=params)
        assert r.status_code == 202, r.text
        body = r.json()
        assert set(body) >= {"name", "connector", "tasks", "type"} and body["name"] == connector
        assert _states(body) == ["UNASSIGNED"] * 3
    assert generation(api, connector) == start

    r = api.post(f"/connectors/{connector}/restart", params={"includeTasks": "true"})
    assert r.status_code == 202, r.text
    assert _states(r.json()) == ["RESTARTING"] * 3
    assert [t["id"] for t in r.json()["tasks"]] == [0, 1]
    assert generation(api, connector) == start + 1

    r = api.post(f"/connectors/{connector}/restart")
    assert r.status_code == 204 and r.content == b""
    assert generation(api, connector) == start + 2

    store.tasks.observe(task_of(api, connector), TaskChange(status=TaskStatus.FAILED, error="boom"))
    r = api.post(f"/connectors/{connector}/restart", params={"onlyFailed": "true", "includeTasks": "true"})
    assert r.status_code == 202, r.text
    body = r.json()
    assert _states(body) == ["RESTARTING"] * 3 and "trace" not in body["connector"]
    assert generation(api, connector) == start + 3
    assert_connect_error(api.post("/connectors/no-such/restart", params={"includeTasks": "true"}), 404)


def test_exactly_once_changes_only_on_a_paused_connector_and_shows_in_its_config(
    api: TestClient, connector: str
) -> None:
    eos = {"exactly.once.source.support": "enabled"}
    task_id = task_of(api, connector)
    assert_connect_error(api.patch(f"/connectors/{connector}/config", json=eos), 409, "pause it")
    assert api.get(f"/api/v1/tasks/{task_id}").json()["options"]["delivery"] == "at_least_once"
    assert api.put(f"/connectors/{connector}/pause").status_code == 202
    store_of(api).tasks.observe(task_id, TaskChange(status=TaskStatus.PAUSED))  # members stopped
    r = api.patch(f"/connectors/{connector}/config", json=eos)
    assert r.status_code == 200, r.text
    assert api.get(f"/api/v1/tasks/{task_id}").json()["options"]["delivery"] == "exactly_once"
    assert api.get(f"/connectors/{connector}/config").json()["exactly.once.source.support"] == "enabled"
    refused = api.patch(f"/connectors/{connector}/config", json={"exactly.once.source.support": "preparing"})
    assert_connect_error(refused, 400, "rolling upgrade")
