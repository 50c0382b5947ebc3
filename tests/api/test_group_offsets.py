"""The group-offsets API refuses what it cannot do, in process (no broker): offset sync
needs keep_partition, a reset needs offset sync and a group ksync may sync."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from helpers import task_body
from inprocess import add_instance_row, store_of

from .support import assert_error

SYNC = {"sync_group_offsets": {"enabled": True}}


def _ids(api: TestClient) -> tuple[str, str]:
    store = store_of(api)
    return (
        add_instance_row(store, cluster_id="go-src", bootstrap_servers="127.0.0.1:9"),
        add_instance_row(store, cluster_id="go-dst"),
    )


def _tasks(api: TestClient) -> list[Any]:
    return list(api.get("/api/v1/tasks").json()["tasks"])


def test_offset_sync_without_keep_partition_is_refused_naming_the_field(api: TestClient) -> None:
    a, b = _ids(api)
    before = _tasks(api)
    body = task_body(a, b, topics=["go-t"], target={"keep_partition": False}, options=SYNC)
    message = assert_error(api.post("/api/v1/tasks", json=body), 422)
    assert "options.sync_group_offsets.enabled" in message and "keep_partition" in message
    assert _tasks(api) == before


def test_group_offsets_and_resets(api: TestClient) -> None:
    a, b = _ids(api)
    plain = api.post("/api/v1/tasks", json=task_body(a, b, topics=["go-plain"])).json()["id"]
    synced = api.post("/api/v1/tasks", json=task_body(a, b, topics=["go-s"], options=SYNC)).json()["id"]
    off = api.get(f"/api/v1/tasks/{plain}/group-offsets").json()
    assert off["enabled"] is False and off["offsets"] == []
    on = api.get(f"/api/v1/tasks/{synced}/group-offsets").json()
    assert on["enabled"] is True and on["reread_bound"] == 598
    assert_error(api.post(f"/api/v1/tasks/{plain}/group-offsets/reset", json={"group": "g"}), 409)
    message = assert_error(
        api.post(f"/api/v1/tasks/{synced}/group-offsets/reset", json={"group": f"ksync-{plain}"}), 422
    )
    assert "group" in message
    assert_error(api.post(f"/api/v1/tasks/{synced}/group-offsets/reset", json={"group": ""}), 422)
    assert_error(api.get("/api/v1/tasks/task-zzzzzzzz/group-offsets"), 404)
    answer = api.post(f"/api/v1/tasks/{synced}/group-offsets/reset", json={"group": "orders"})
    assert answer.status_code == 202, answer.text
    assert store_of(api).offsets.resets(synced) == {"orders"}
