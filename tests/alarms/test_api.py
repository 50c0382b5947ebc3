"""`/api/v1/alarms` in process (no brokers): create, read, change, delete; 422 for every
bad rule with the field named; 404 for unknown rules; the event history's filters."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from helpers import wait_until

from ksync.api.app import create_app
from ksync.domain.alarms import AlarmEvent
from ksync.settings import Settings
from ksync.store.alarm_repo import AlarmStore
from ksync.store.repo import Store

from .conftest import add_task
from .support import Receiver, at

HOOK = "http://127.0.0.1:9/hook"


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    # The TestClient sends `Host: testserver`, which the app must be told is its name;
    # the webhook receivers of these tests are on loopback, which the server must allow.
    settings = Settings(allowed_hosts=("testserver",), webhook_allow=("127.0.0.0/8",))
    with TestClient(create_app(store, settings)) as c:
        yield c


def body(**fields: Any) -> dict[str, Any]:
    return {"name": "lag high", "metric": "lag", "comparison": ">", "threshold": 10000, "duration_s": 60, "webhooks": [HOOK], **fields}


def error_message(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    err = response.json()["error"]
    assert set(err) == {"code", "message"}
    return str(err["message"])


def test_create_read_list_change_delete(client: TestClient, store: Store) -> None:
    task = add_task(store)
    r = client.post("/api/v1/alarms", json=body(task_id=task.id))
    assert r.status_code == 201, r.text
    rule = r.json()
    assert rule["id"].startswith("alarm-") and len(rule["id"]) == len("alarm-") + 8
    assert {k: rule[k] for k in ("name", "task_id", "metric", "comparison", "threshold", "status", "duration_s", "webhooks", "enabled", "alerts")} == {
        "name": "lag high", "task_id": task.id, "metric": "lag", "comparison": ">", "threshold": 10000.0,
        "status": None, "duration_s": 60.0, "webhooks": [HOOK], "enabled": True, "alerts": [],
    }
    assert client.get(f"/api/v1/alarms/{rule['id']}").json() == rule
    assert rule["id"] in [a["id"] for a in client.get("/api/v1/alarms").json()["alarms"]]

    r = client.patch(f"/api/v1/alarms/{rule['id']}", json={"threshold": 500, "enabled": False})
    assert r.status_code == 200, r.text
    assert (r.json()["threshold"], r.json()["enabled"], r.json()["metric"]) == (500.0, False, "lag")

    # Changing the metric starts comparison/threshold/status afresh.
    r = client.patch(f"/api/v1/alarms/{rule['id']}", json={"metric": "status", "status": "Failed", "task_id": None})
    assert r.status_code == 200, r.text
    assert {k: r.json()[k] for k in ("metric", "comparison", "threshold", "status", "task_id")} == {
        "metric": "status", "comparison": "==", "threshold": None, "status": "Failed", "task_id": None,
    }

    assert client.delete(f"/api/v1/alarms/{rule['id']}").status_code == 204
    assert "does not exist" in error_message(client.get(f"/api/v1/alarms/{rule['id']}"), 404)


def test_a_status_rule_over_every_task(client: TestClient) -> None:
    r = client.post("/api/v1/alarms", json={"name": "failed", "metric": "status", "status": "Failed", "webhooks": [HOOK]})
    assert r.status_code == 201, r.text
    assert {k: r.json()[k] for k in ("task_id", "comparison", "threshold", "status", "duration_s")} == {
        "task_id": None, "comparison": "==", "threshold": None, "status": "Failed", "duration_s": 0.0,
    }


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"metric": "cpu"}, "metric: unknown metric 'cpu'; allowed: status, error, lag, latency_p99, records_per_s, stalled"),
        ({"duration_s": -1}, "duration_s: Input should be greater than or equal to 0"),
        ({"webhooks": [HOOK, "ftp://example.com/x"]}, "webhooks: webhooks[1] 'ftp://example.com/x' must be an http:// or https:// URL"),
        ({"webhooks": ["not a url"]}, "webhooks[0] 'not a url' contains whitespace"),
        ({"webhooks": ["example.com/hook"]}, "webhooks[0] 'example.com/hook' must be an http:// or https:// URL"),
        ({"webhooks": []}, "webhooks: List should have at least 1 item"),
        ({"webhooks": None}, "webhooks: Input should be a valid list"),
        ({"threshold": None}, "threshold is required with metric 'lag'"),
        ({"comparison": "~"}, "comparison: Input should be '>', '>=', '<', '<=', '==' or '!='"),
        ({"metric": "status", "threshold": None}, "status is required with metric 'status'"),
        ({"metric": "status", "status": "Done", "threshold": None}, "status: Input should be 'Unassigned'"),
        ({"name": ""}, "name: String should have at least 1 character"),
        ({"severity": "high"}, "severity: is not a known field"),
        ({"task_id": "task-zzzzzzzz"}, "task_id: task task-zzzzzzzz does not exist (null: every task)"),
    ],
)
def test_bad_rules_are_refused_with_422_and_nothing_is_written(client: TestClient, fields: dict[str, Any], words: str) -> None:
    before = client.get("/api/v1/alarms").json()
    message = error_message(client.post("/api/v1/alarms", json=body(**fields)), 422)
    assert words in message, message
    assert client.get("/api/v1/alarms").json() == before


def test_bad_changes_are_refused_with_422_and_unknown_rules_with_404(client: TestClient) -> None:
    rule = client.post("/api/v1/alarms", json=body()).json()
    url = f"/api/v1/alarms/{rule['id']}"
    for fields, words in [
        ({"duration_s": -5}, "duration_s: Input should be greater than or equal to 0"),
        ({"metric": "bogus"}, "unknown metric 'bogus'"),
        ({"webhooks": ["gopher://x"]}, "webhooks[0] 'gopher://x' must be an http:// or https:// URL"),
        ({"task_id": "task-zzzzzzzz"}, "task_id: task task-zzzzzzzz does not exist"),
        ({"status": "Failed"}, "status is only allowed with metric 'status'"),
        ({"id": "alarm-other"}, "id: is not a known field"),
    ]:
        assert words in error_message(client.patch(url, json=fields), 422)
    assert client.get(url).json() == rule
    missing = "/api/v1/alarms/alarm-zzzzzzzz"
    for response in (
        client.get(missing),
        client.patch(missing, json={"threshold": 1}),
        client.delete(missing),
        client.post(f"{missing}/test"),
    ):
        assert "alarm rule alarm-zzzzzzzz does not exist" in error_message(response, 404)


def test_the_event_history_is_newest_first_and_filtered(client: TestClient, store: Store) -> None:
    alarms = AlarmStore(store)
    for i, (rule_id, task_id) in enumerate([("alarm-a", "task-1"), ("alarm-b", "task-1"), ("alarm-a", "task-2")]):
        alarms.add_event(AlarmEvent(rule_id, task_id, "firing", at(i), {"event": "firing", "n": i}), [HOOK])

    def ns(**params: Any) -> list[int]:
        r = client.get("/api/v1/alarms/events", params=params)
        assert r.status_code == 200, r.text
        return [e["payload"]["n"] for e in r.json()["events"]]

    assert ns() == [2, 1, 0]
    assert ns(rule_id="alarm-a") == [2, 0]
    assert ns(task_id="task-1") == [1, 0]
    assert ns(rule_id="alarm-a", task_id="task-1") == [0]
    assert ns(limit=1) == [2]
    event = client.get("/api/v1/alarms/events", params={"limit": 1}).json()["events"][0]
    assert event["delivery"] == {HOOK: {"status": None, "attempts": 0, "error": None, "pending": True}}
    assert event["payload"]["id"] == event["id"]
    assert "limit" in error_message(client.get("/api/v1/alarms/events", params={"limit": 0}), 422)


def test_a_test_event_reaches_the_webhooks_and_its_delivery_is_recorded(client: TestClient, store: Store) -> None:
    task = add_task(store)
    with Receiver("ok") as ok:
        rule = client.post("/api/v1/alarms", json=body(task_id=task.id, webhooks=[ok.url], enabled=False)).json()
        r = client.post(f"/api/v1/alarms/{rule['id']}/test")
        assert r.status_code == 202, r.text
        event = r.json()
        assert event["kind"] == "test" and event["rule_id"] == rule["id"] and event["task_id"] == task.id
        got = ok.wait_for(lambda b: len(b) == 1, timeout_s=10, what="the test event")[0]
        assert got["event"] == "test" and got["id"] == event["id"]
        assert got["rule"]["id"] == rule["id"]
        assert got["task"]["id"] == task.id and got["task"]["status"] == "Unassigned"
        assert got["message"].startswith(f"Test event from alarm rule 'lag high' ({rule['id']}")

        def delivered() -> bool:
            events = client.get("/api/v1/alarms/events", params={"rule_id": rule["id"]}).json()["events"]
            return events[0]["delivery"][ok.url]["status"] == 200

        wait_until(delivered, timeout_s=10, what="the delivery recorded")


def test_the_rule_cap_answers_409_naming_the_setting(store: Store) -> None:
    settings = Settings(allowed_hosts=("testserver",), webhook_allow=("127.0.0.0/8",), max_alarm_rules=1)
    with TestClient(create_app(store, settings)) as c:
        assert c.post("/api/v1/alarms", json=body()).status_code == 201
        message = error_message(c.post("/api/v1/alarms", json=body(name="second")), 409)
        assert "max_alarm_rules = 1" in message and "--max-alarm-rules" in message
        assert len(c.get("/api/v1/alarms").json()["alarms"]) == 1
