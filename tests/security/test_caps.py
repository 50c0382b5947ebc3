"""Caps on what API callers can create (issue 19, point 5: "no cap on the number of tasks,
members per worker, alarm rules or test events"), in process over a fresh store.

* `--max-tasks`: one task too many is refused on every face (REST 409 `limit_exceeded`,
  Connect 409 in its own shape, Tencent `LimitExceeded`), naming the cap and the option,
  and nothing is written: not the task, nor the clusters a connector config names.
* `--max-test-events-per-minute`: past the cap a rule's test call gets 429 with
  Retry-After and sends nothing.
* Every cap is checked at the edge: a bad value exits 2 naming the option.

The same caps against a real server and brokers, and `--max-members`, are in
tests/e2e/test_caps.py; the slot assignment under `--max-members` in
tests/control/test_assignment.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ksync.monitoring.alarms.test_budget import wait_s
from ksync.store.alarm_repo import AlarmStore
from ksync.store.repo import Store

from .conftest import BEARER, KEY_ID, KEYS, SECRET, AppFactory, add_instance
from .support import tc3_headers

HOST = "testserver"


def task(src: str, dst: str, name: str) -> dict[str, Any]:
    return {"name": name, "source": {"instance_id": src, "topics": ["t"]}, "target": {"instance_id": dst}}


def mirror_config(source: str, target: str) -> dict[str, str]:
    """A connector config naming clusters the store does not know: creating it would
    register them (and contact them) first."""
    return {
        "connector.class": "org.apache.kafka.connect.mirror.MirrorSourceConnector",
        "source.cluster.alias": "a",
        "target.cluster.alias": "b",
        "source.cluster.bootstrap.servers": source,
        "target.cluster.bootstrap.servers": target,
        "topics": "t",
    }


def tencent_create(client: TestClient, src: str, dst: str, name: str) -> dict[str, Any]:
    body = json.dumps(
        {
            "TaskName": name,
            "TaskType": "SOURCE",
            "SourceResource": {"Type": "KAFKA", "KafkaParam": {"Resource": src, "TopicList": ["t"]}},
            "TargetResource": {"Type": "KAFKA", "KafkaParam": {"Resource": dst}},
        }
    ).encode()
    r = client.post("/", content=body, headers=tc3_headers("CreateDatahubTask", body, HOST, KEY_ID, SECRET))
    assert r.status_code == 200, r.text
    return r.json()["Response"]  # type: ignore[no-any-return]


@pytest.fixture
def full(make_client: AppFactory, store: Store) -> tuple[TestClient, str, str]:
    """A server with --max-tasks 2 holding two tasks: (client, source id, target id)."""
    client = make_client(keys=KEYS, max_tasks=2)
    src, dst = add_instance(store, "src"), add_instance(store, "dst")
    for name in ("one", "two"):
        r = client.post("/api/v1/tasks", json=task(src, dst, name), headers=BEARER)
        assert r.status_code == 202, r.text
    return client, src, dst


def test_rest_refuses_a_task_past_the_cap_and_writes_nothing(
    full: tuple[TestClient, str, str], store: Store
) -> None:
    client, src, dst = full
    r = client.post("/api/v1/tasks", json=task(src, dst, "three"), headers=BEARER)
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "limit_exceeded"
    assert "at most 2 tasks" in error["message"] and "--max-tasks" in error["message"]
    assert sorted(t.name for t in store.tasks.all()) == ["one", "two"]


def test_a_task_being_deleted_makes_room(full: tuple[TestClient, str, str], store: Store) -> None:
    client, src, dst = full
    one = next(t for t in store.tasks.all() if t.name == "one")
    assert client.delete(f"/api/v1/tasks/{one.id}", headers=BEARER).status_code == 202
    r = client.post("/api/v1/tasks", json=task(src, dst, "three"), headers=BEARER)
    assert r.status_code == 202, r.text


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_connect_refuses_a_connector_past_the_cap_before_registering_its_clusters(
    full: tuple[TestClient, str, str], store: Store, method: str
) -> None:
    client, _, _ = full
    instances = [i.id for i in store.instances.all()]
    config = mirror_config("127.0.0.1:19091", "127.0.0.1:19092")
    if method == "POST":
        r = client.post("/connectors", json={"name": "three", "config": config}, headers=BEARER)
    else:
        r = client.put("/connectors/three/config", json=config, headers=BEARER)
    assert r.status_code == 409, r.text
    assert r.json()["error_code"] == 409
    assert "at most 2 tasks" in r.json()["message"] and "--max-tasks" in r.json()["message"]
    assert [i.id for i in store.instances.all()] == instances
    assert len(store.tasks.all()) == 2


def test_tencent_refuses_a_task_past_the_cap_with_limit_exceeded(
    full: tuple[TestClient, str, str], store: Store
) -> None:
    client, src, dst = full
    error = tencent_create(client, src, dst, "three")["Error"]
    assert error["Code"] == "LimitExceeded"
    assert "at most 2 tasks" in error["Message"] and "--max-tasks" in error["Message"]
    assert len(store.tasks.all()) == 2


# ---- test events --------------------------------------------------------------------------


def test_test_events_past_the_cap_get_429_with_retry_after(make_client: AppFactory, store: Store) -> None:
    client = make_client(max_test_events_per_minute=2, webhook_allow=("127.0.0.0/8",))
    rule = {"name": "r", "metric": "lag", "comparison": ">", "threshold": 1, "webhooks": ["http://127.0.0.1:9/h"]}
    ids = [client.post("/api/v1/alarms", json={**rule, "name": n}).json()["id"] for n in ("a", "b")]
    for _ in range(2):
        assert client.post(f"/api/v1/alarms/{ids[0]}/test").status_code == 202
    r = client.post(f"/api/v1/alarms/{ids[0]}/test")
    assert r.status_code == 429, r.text
    assert 1 <= int(r.headers["retry-after"]) <= 60
    error = r.json()["error"]
    assert error["code"] == "too_many_requests"
    assert "at most 2 a minute" in error["message"] and "--max-test-events-per-minute" in error["message"]
    alarms = AlarmStore(store)
    assert len(alarms.events(rule_id=ids[0])) == 2  # the refused call stored and sent nothing
    # The cap is per rule: another rule still sends its test.
    assert client.post(f"/api/v1/alarms/{ids[1]}/test").status_code == 202


def test_the_test_budget_frees_as_events_leave_the_minute() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    sent = [now - timedelta(seconds=50), now - timedelta(seconds=20)]
    assert wait_s(sent[:1], 2, now) == 0.0
    assert wait_s(sent, 2, now) == pytest.approx(10.0)  # the oldest leaves in 10 s
    # Past the cap (concurrent calls), room comes when enough have left.
    three = [now - timedelta(seconds=s) for s in (55, 40, 5)]
    assert wait_s(three, 2, now) == pytest.approx(20.0)


# ---- the options, at the edge ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "option", "value"),
    [
        ("server", "--max-tasks", "0"),
        ("server", "--max-test-events-per-minute", "0"),
        ("server", "--max-members", "0"),
        ("worker", "--max-members", "-1"),
    ],
)
def test_a_bad_cap_exits_2_naming_the_option(command: str, option: str, value: str) -> None:
    from typer.testing import CliRunner

    from ksync.cli import app as cli

    result = CliRunner().invoke(cli, [command, option, value])
    assert result.exit_code == 2, result.output
    assert f"{option}: Input should be greater than or equal to 1" in result.output, result.output
