"""A task's client tuning (compression, linger, batch cap, fetch size) through the REST
API: given at create, shown in the Task JSON, changed with PATCH; a bad value is a 422
naming the field and what is allowed, and changes nothing. In process: no Kafka needed."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from helpers import task_body
from inprocess import add_instance_row, store_of

from .support import assert_error

TUNING = ("compression", "linger_ms", "batch_bytes", "fetch_max_bytes")


def _tuning(task: dict[str, Any]) -> dict[str, Any]:
    return {k: task["options"][k] for k in TUNING}


@pytest.fixture
def task(api: TestClient) -> dict[str, Any]:
    a, b = add_instance_row(store_of(api)), add_instance_row(store_of(api))
    r = api.post(
        "/api/v1/tasks",
        json=task_body(a, b, topics=["tuned"], options={"compression": "lz4", "linger_ms": 50}),
    )
    assert r.status_code == 202, r.text
    return r.json()  # type: ignore[no-any-return]


def test_create_keeps_what_is_given_and_defaults_the_rest(api: TestClient, task: dict[str, Any]) -> None:
    assert _tuning(task) == {
        "compression": "lz4", "linger_ms": 50, "batch_bytes": 1_000_000, "fetch_max_bytes": 52_428_800
    }
    assert _tuning(api.get(f"/api/v1/tasks/{task['id']}").json()) == _tuning(task)
    # A task created without tuning shows today's producer and consumer settings.
    a, b = add_instance_row(store_of(api)), add_instance_row(store_of(api))
    plain = api.post("/api/v1/tasks", json=task_body(a, b, topics=["plain"])).json()
    assert _tuning(plain) == {
        "compression": "none", "linger_ms": 5, "batch_bytes": 1_000_000, "fetch_max_bytes": 52_428_800
    }


def test_patch_changes_the_tuning_and_keeps_every_other_option(
    api: TestClient, task: dict[str, Any]
) -> None:
    url = f"/api/v1/tasks/{task['id']}"
    r = api.patch(url, json={"options": {"compression": "zstd", "batch_bytes": 262_144, "fetch_max_bytes": 8_388_608}})
    assert r.status_code == 200, r.text
    changed = r.json()
    assert _tuning(changed) == {
        "compression": "zstd", "linger_ms": 50, "batch_bytes": 262_144, "fetch_max_bytes": 8_388_608
    }
    assert {k: v for k, v in changed["options"].items() if k not in TUNING} == {
        k: v for k, v in task["options"].items() if k not in TUNING
    }
    assert api.get(url).json()["options"] == changed["options"]
    # Back to no compression: "none" is a value like the others.
    assert api.patch(url, json={"options": {"compression": "none"}}).json()["options"]["compression"] == "none"


@pytest.mark.parametrize(
    ("options", "fragments"),
    [
        ({"compression": "LZ4"}, ["options.compression", "'none', 'lz4', 'zstd', 'snappy' or 'gzip'"]),
        ({"compression": None}, ["options.compression"]),
        ({"linger_ms": -5}, ["options.linger_ms", "0"]),
        ({"linger_ms": 1.5}, ["options.linger_ms", "integer"]),
        ({"batch_bytes": 20_000_000}, ["options.batch_bytes", "16777216"]),
        ({"fetch_max_bytes": 1_000}, ["options.fetch_max_bytes", "1048576"]),
        # One bad field refuses the whole change, the good field with it.
        ({"compression": "gzip", "linger_ms": 99_999}, ["options.linger_ms", "10000"]),
    ],
)
def test_a_bad_patch_is_a_422_naming_the_field_and_changes_nothing(
    api: TestClient, task: dict[str, Any], options: dict[str, Any], fragments: list[str]
) -> None:
    url = f"/api/v1/tasks/{task['id']}"
    before = api.get(url).json()
    message = assert_error(api.patch(url, json={"options": options}), 422, "invalid_request")
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    after = api.get(url).json()
    assert (after["options"], after["updated_at"]) == (before["options"], before["updated_at"])
