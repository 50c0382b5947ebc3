"""The alarm service's rules (`ksync.control.alarms`) over a real store, no broker and no
HTTP: the rule cap, what a create or change checks before anything is written, and the
resolve a delete sends for what was firing."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from ksync.control import alarms as service
from ksync.domain.alarms import AlarmRuleSpec
from ksync.domain.errors import Conflict, InvalidField, NotFound
from ksync.monitoring.alarms.job import AlarmEvaluator
from ksync.monitoring.alarms.webhook_policy import WebhookPolicy
from ksync.store.repo import Store

from .conftest import add_task
from .support import RecordingDispatcher, at, metrics

HOOK = "http://127.0.0.1:9/hook"
LOOPBACK = WebhookPolicy(("127.0.0.0/8",))


def spec(**fields: Any) -> AlarmRuleSpec:
    body = {
        "name": "lag",
        "metric": "lag",
        "comparison": ">",
        "threshold": 1000,
        "webhooks": [HOOK],
    }
    return AlarmRuleSpec.model_validate({**body, **fields})


def test_the_rule_cap_refuses_one_more_and_names_the_setting_and_the_option(store: Store) -> None:
    for i in range(3):
        service.create(store, spec(name=f"r{i}"), LOOPBACK, max_rules=3)
    with pytest.raises(Conflict) as info:
        service.create(store, spec(name="one too many"), LOOPBACK, max_rules=3)
    assert "there are 3 alarm rules" in info.value.message
    assert "max_alarm_rules = 3" in info.value.message
    assert "--max-alarm-rules" in info.value.message
    assert [r.spec.name for r in service.rules(store)] == ["r0", "r1", "r2"]
    # Room again once one goes.
    service.delete(store, service.rules(store)[0].id, RecordingDispatcher())  # type: ignore[arg-type]
    assert service.create(store, spec(name="fits"), LOOPBACK, max_rules=3).spec.name == "fits"


def test_a_webhook_to_an_internal_address_and_an_unknown_task_are_refused_unwritten(
    store: Store,
) -> None:
    with pytest.raises(InvalidField) as info:
        service.create(store, spec(), WebhookPolicy(()), max_rules=10)
    assert info.value.field == "webhooks[0]" and "loopback" in info.value.reason
    with pytest.raises(InvalidField) as info:
        service.create(store, spec(task_id="task-zzzzzzzz"), LOOPBACK, max_rules=10)
    assert info.value.field == "task_id" and "task-zzzzzzzz does not exist" in info.value.reason
    assert service.rules(store) == []


def test_a_change_is_checked_like_a_create_and_a_new_metric_drops_the_old_threshold(
    store: Store,
) -> None:
    rule = service.create(store, spec(), LOOPBACK, max_rules=10)
    with pytest.raises(ValidationError) as info:
        service.update(store, rule.id, {"metric": "latency_p99"}, LOOPBACK)
    assert "comparison is required with metric 'latency_p99'" in str(info.value)
    with pytest.raises(InvalidField):
        service.update(store, rule.id, {"webhooks": ["http://10.0.0.1/x"]}, WebhookPolicy(()))
    assert service.get(store, rule.id) == rule  # nothing written
    changed = service.update(store, rule.id, {"metric": "error"}, LOOPBACK)
    assert (changed.spec.metric, changed.spec.comparison, changed.spec.threshold) == (
        "error",
        "==",
        1.0,
    )
    with pytest.raises(NotFound):
        service.update(store, "alarm-zzzzzzzz", {"name": "x"}, LOOPBACK)


def test_deleting_a_firing_rule_resolves_it_at_its_webhooks_and_keeps_the_history(
    store: Store,
) -> None:
    task = add_task(store)
    rule = service.create(store, spec(duration_s=0), LOOPBACK, max_rules=10)
    store.metrics.set_current(task.id, metrics(at(0), lag=5000))
    fired = RecordingDispatcher()
    AlarmEvaluator(store, dispatcher=fired, clock=lambda: at(1)).run_once()  # type: ignore[arg-type]
    assert service.get(store, rule.id).firing
    [alert] = service.get(store, rule.id).alerts()
    assert (alert.task_id, alert.state, alert.value) == (task.id, "firing", 5000.0)

    dispatcher = RecordingDispatcher()
    service.delete(store, rule.id, dispatcher)  # type: ignore[arg-type]
    [(urls, payload)] = dispatcher.sent
    assert urls == [HOOK] and payload["event"] == "resolved"
    assert "resolved, the rule was deleted" in payload["message"]
    assert [e.kind for e in service.events(store, rule_id=rule.id)] == ["resolved", "firing"]
    with pytest.raises(NotFound):
        service.get(store, rule.id)


def test_deleting_a_quiet_rule_sends_nothing(store: Store) -> None:
    rule = service.create(store, spec(), LOOPBACK, max_rules=10)
    dispatcher = RecordingDispatcher()
    service.delete(store, rule.id, dispatcher)  # type: ignore[arg-type]
    assert dispatcher.sent == [] and service.events(store) == []


def test_a_test_event_names_the_rule_and_is_stored_with_its_delivery(store: Store) -> None:
    task = add_task(store)
    rule = service.create(store, spec(task_id=task.id, enabled=False), LOOPBACK, max_rules=10)
    dispatcher = RecordingDispatcher()
    event = service.send_test(store, rule.id, dispatcher)  # type: ignore[arg-type]
    assert (event.kind, event.rule_id, event.task_id) == ("test", rule.id, task.id)
    assert event.payload["id"] == event.id
    [(urls, payload)] = dispatcher.sent
    assert urls == [HOOK] and payload["event"] == "test" and payload["id"] == event.id
    [stored] = service.events(store, task_id=task.id)
    assert stored.delivery[HOOK]["status"] == 200
