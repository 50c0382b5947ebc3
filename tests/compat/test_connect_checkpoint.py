"""MirrorCheckpointConnector and MM2's ACL and group keys on the Kafka Connect face, in
process over plain HTTP (no broker: the clusters are instances already in the store, which
the face reuses without connecting). Connect's answer shapes: the plugin list and its
config definitions, validate, create, info, config, status and tasks of a checkpoint
connector, and the 409 of a class change on a running connector."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from inprocess import add_instance_row, api_client, store_of

from ksync.devkafka import free_port

from .connect_support import MIRROR, SOURCE_CONNECTOR, assert_connect_error, mm2_config

CHECKPOINT = MIRROR + "MirrorCheckpointConnector"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with api_client(tmp_path_factory.mktemp("connect-checkpoint")) as c:
        yield c


@pytest.fixture(scope="module")
def servers(api: TestClient) -> tuple[str, str]:
    found = (f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}")
    add_instance_row(store_of(api), "east", cluster_id="cluster-east", bootstrap_servers=found[0])
    add_instance_row(store_of(api), "west", cluster_id="cluster-west", bootstrap_servers=found[1])
    return found


def checkpoint_config(servers: tuple[str, str], **extra: str) -> dict[str, str]:
    return mm2_config(
        *servers,
        **{
            "connector.class": CHECKPOINT,
            "topics": "orders",
            "groups": "billing,app-.*",
            "groups.exclude": "app-test-.*",
            "sync.group.offsets.enabled": "true",
            "sync.group.offsets.interval.seconds": "20",
            "emit.checkpoints.interval.seconds": "30",
            **extra,
        },
    )


def test_the_checkpoint_plugin_is_listed_with_its_group_keys_and_validates(
    api: TestClient, servers: tuple[str, str]
) -> None:
    plugins = api.get("/connector-plugins").json()
    assert {p["class"]: p["type"] for p in plugins} == {SOURCE_CONNECTOR: "source", CHECKPOINT: "source"}
    definitions = {d["name"]: d for d in api.get("/connector-plugins/MirrorCheckpoint/config").json()}
    for key, kind, default in (
        ("groups", "LIST", ".*"),
        ("groups.exclude", "LIST", "console-consumer-.*,connect-.*,__.*"),
        ("sync.group.offsets.enabled", "BOOLEAN", "false"),
        ("sync.group.offsets.interval.seconds", "INT", "60"),
        ("emit.checkpoints.interval.seconds", "INT", "60"),
        ("sync.topic.acls.enabled", "BOOLEAN", "false"),
    ):
        assert (definitions[key]["type"], definitions[key]["default_value"]) == (kind, default), key
        assert definitions[key]["documentation"], key

    r = api.put(
        "/connector-plugins/MirrorCheckpointConnector/config/validate",
        json={**checkpoint_config(servers), "name": "cp-check"},
    )
    assert r.status_code == 200, r.text
    checked = r.json()
    assert checked["name"] == CHECKPOINT and checked["error_count"] == 0, checked
    bad = api.put(
        "/connector-plugins/MirrorCheckpointConnector/config/validate",
        json={**checkpoint_config(servers, **{"sync.group.offsets.enabled": "maybe"}), "name": "cp-check"},
    ).json()
    errors = {c["value"]["name"]: c["value"]["errors"] for c in bad["configs"] if c["value"]["errors"]}
    assert list(errors) == ["sync.group.offsets.enabled"] and "true or false" in errors[
        "sync.group.offsets.enabled"
    ][0]
    assert_connect_error(api.get("/connectors/cp-check"), 404)  # validate creates nothing


def test_a_checkpoint_connector_runs_as_a_task_copying_no_records_with_offset_sync(
    api: TestClient, servers: tuple[str, str]
) -> None:
    config = checkpoint_config(servers)
    r = api.post("/connectors", json={"name": "cp", "config": config})
    assert r.status_code == 201, r.text
    info = r.json()
    # No member copies records: no Connect task, as an MM2 checkpoint connector with
    # nothing to checkpoint has none.
    assert info["name"] == "cp" and info["type"] == "source" and info["tasks"] == []
    assert info["config"]["connector.class"] == CHECKPOINT

    shown = api.get("/connectors/cp/config").json()
    assert shown["connector.class"] == CHECKPOINT and shown["groups"] == "billing,app-.*"
    status = api.get("/connectors/cp/status").json()
    assert set(status) >= {"name", "connector", "tasks", "type"} and status["tasks"] == []
    assert status["ksync"]["ignored_config"] == []  # every group key is honoured
    assert api.get("/connectors/cp/tasks").json() == []

    task = api.get(f"/api/v1/tasks/{status['ksync']['task_id']}").json()
    options = task["options"]
    assert options["mode"] == "metadata" and task["copies_records"] is False
    assert options["sync_group_offsets"] == {
        "enabled": True,
        "groups": ["billing"],
        "groups_regex": "app-.*",
        "groups_exclude_regex": "app-test-.*",
        "interval_s": 30.0,  # the longer of the sync and checkpoint periods
    }
    assert options["sync_topic_acls"] is False and options["sync_topic_configs"] is False

    # The class says what the task is: it changes only while the task is paused.
    message = assert_connect_error(
        api.put("/connectors/cp/config", json={**config, "connector.class": SOURCE_CONNECTOR}), 409
    )
    assert "pause it first" in message
    assert api.get("/connectors/cp/config").json()["connector.class"] == CHECKPOINT
    # Other keys change in place.
    r = api.put("/connectors/cp/config", json={**config, "groups": "billing"})
    assert r.status_code == 200, r.text
    assert api.get(f"/api/v1/tasks/{task['id']}").json()["options"]["sync_group_offsets"]["groups"] == [
        "billing"
    ]


def test_a_source_connector_takes_sync_topic_acls(api: TestClient, servers: tuple[str, str]) -> None:
    config = mm2_config(*servers, topics="payments", **{"sync.topic.acls.enabled": "true"})
    r = api.post("/connectors", json={"name": "src-acls", "config": config})
    assert r.status_code == 201, r.text
    assert r.json()["tasks"] == [{"connector": "src-acls", "task": 0}]
    task_id = api.get("/connectors/src-acls/status").json()["ksync"]["task_id"]
    options = api.get(f"/api/v1/tasks/{task_id}").json()["options"]
    assert options["sync_topic_acls"] is True and options["mode"] == "data"
    assert api.get("/connectors/src-acls/config").json()["sync.topic.acls.enabled"] == "true"
