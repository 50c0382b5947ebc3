"""The controller's alarm job over a real store (no brokers): state and events are stored
together, a new evaluator (a controller takeover) neither fires again nor forgets to
resolve, a changed rule restarts what was pending, and deliveries are recorded."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ksync.domain.alarms import AlarmEvent, AlarmRuleSpec
from ksync.monitoring.alarms.job import AlarmEvaluator
from ksync.store.alarm_repo import AlarmStore
from ksync.store.repo import Store

from .conftest import add_task
from .support import RecordingDispatcher, at, metrics

HOOKS = ["http://127.0.0.1:9/a", "http://127.0.0.1:9/b"]


class Clock:
    def __init__(self) -> None:
        self.now = at(0)

    def __call__(self) -> datetime:
        return self.now

    def set(self, second: float) -> None:
        self.now = at(second)


def evaluator(store: Store, clock: Clock, dispatcher: RecordingDispatcher) -> AlarmEvaluator:
    return AlarmEvaluator(store, dispatcher=dispatcher, clock=clock)  # type: ignore[arg-type]


def lag_spec(**fields: Any) -> AlarmRuleSpec:
    body = {"name": "lag", "metric": "lag", "comparison": ">", "threshold": 1000, "duration_s": 10, "webhooks": HOOKS}
    return AlarmRuleSpec.model_validate({**body, **fields})


def set_lag(store: Store, task_id: str, second: float, lag: int) -> None:
    store.metrics.set_current(task_id, metrics(at(second), lag=lag))


def test_state_survives_a_new_evaluator_and_nothing_fires_twice(store: Store) -> None:
    alarms = AlarmStore(store)
    t = add_task(store)
    rule = alarms.add_rule(lag_spec())
    clock, sent = Clock(), RecordingDispatcher()

    set_lag(store, t.id, 0, 5000)
    assert evaluator(store, clock, sent).run_once() == []
    pending = alarms.get_rule(rule.id).state[t.id]
    assert pending["firing_since"] is None and pending["pending_since"] == "2025-01-01T12:00:00Z"

    # Another controller takes over: it continues the same duration.
    clock.set(10)
    set_lag(store, t.id, 10, 6000)
    fired = evaluator(store, clock, sent).run_once()
    assert len(fired) == 1
    clock.set(12)
    set_lag(store, t.id, 12, 7000)
    assert evaluator(store, clock, sent).run_once() == []  # and again: no second firing

    clock.set(14)
    set_lag(store, t.id, 14, 3)
    resolved = evaluator(store, clock, sent).run_once()
    assert len(resolved) == 1
    assert alarms.get_rule(rule.id).state == {}

    kinds = [payload["event"] for _, payload in sent.sent]
    assert kinds == ["firing", "resolved"]
    history = alarms.events(rule_id=rule.id)
    assert [(e.kind, e.task_id) for e in history] == [("resolved", t.id), ("firing", t.id)]
    assert [payload["id"] for _, payload in sent.sent] == [fired[0], resolved[0]]
    for event in history:
        assert event.delivery == {
            url: {"status": 200, "attempts": 1, "error": None, "pending": False} for url in HOOKS
        }


def test_run_due_keeps_its_own_period(store: Store) -> None:
    alarms = AlarmStore(store)
    t = add_task(store)
    alarms.add_rule(lag_spec(duration_s=0))
    clock, sent = Clock(), RecordingDispatcher()
    job = AlarmEvaluator(store, dispatcher=sent, clock=clock, interval_s=3600)  # type: ignore[arg-type]
    job.run_due()
    set_lag(store, t.id, 0, 5000)
    job.run_due()  # within the period: nothing evaluated
    assert sent.sent == []
    job.run_once()
    assert [p["event"] for _, p in sent.sent] == ["firing"]


def test_a_changed_condition_restarts_pending_but_keeps_firing(store: Store) -> None:
    alarms = AlarmStore(store)
    a, b = add_task(store, "a"), add_task(store, "b")
    rule = alarms.add_rule(lag_spec(duration_s=10))
    clock, sent = Clock(), RecordingDispatcher()
    job = evaluator(store, clock, sent)
    set_lag(store, a.id, 0, 5000)
    job.run_once()
    clock.set(10)
    set_lag(store, a.id, 10, 5000)
    set_lag(store, b.id, 10, 5000)
    job.run_once()  # a fires, b starts pending
    state = alarms.get_rule(rule.id).state
    assert state[a.id]["firing_since"] and not state[b.id]["firing_since"]

    alarms.replace_rule(rule.id, lag_spec(duration_s=10, threshold=2000))
    assert set(alarms.get_rule(rule.id).state) == {a.id}
    # Only the name changed: nothing restarts.
    alarms.replace_rule(rule.id, lag_spec(duration_s=10, threshold=2000, name="renamed"))
    assert set(alarms.get_rule(rule.id).state) == {a.id}

    alarms.replace_rule(rule.id, lag_spec(duration_s=10, threshold=9000))
    clock.set(12)
    set_lag(store, a.id, 12, 5000)
    job.run_once()
    assert [p["event"] for _, p in sent.sent] == ["firing", "resolved"]
    assert "rule: lag > 9,000 records for 10 s" in sent.sent[-1][1]["message"]


def test_an_evaluation_of_a_rule_that_changed_meanwhile_is_not_stored(store: Store) -> None:
    alarms = AlarmStore(store)
    rule = alarms.add_rule(lag_spec())
    seen = alarms.get_rule(rule.id)
    alarms.replace_rule(rule.id, lag_spec(threshold=5))
    event = AlarmEvent(rule.id, None, "firing", at(0), {"event": "firing"})
    assert alarms.commit_evaluation(seen, {"x": {}}, [event]) is None
    assert alarms.get_rule(rule.id).state == {}
    assert alarms.events() == []
    alarms.delete_rule(rule.id)
    assert alarms.commit_evaluation(seen, {"x": {}}, [event]) is None


def test_unfinished_deliveries_are_sent_again_by_a_new_evaluator(store: Store) -> None:
    alarms = AlarmStore(store)
    t = add_task(store)
    alarms.add_rule(lag_spec(duration_s=0))
    clock = Clock()

    class Lost(RecordingDispatcher):
        def deliver(self, urls: Any, payload: dict[str, Any], on_result: Any) -> None:
            self.sent.append((list(urls), payload))  # the process dies before any answer

    set_lag(store, t.id, 0, 5000)
    lost = Lost()
    evaluator(store, clock, lost).run_once()
    assert len(lost.sent) == 1
    assert all(d["pending"] for d in alarms.events()[0].delivery.values())

    clock.set(30)
    again = RecordingDispatcher()
    evaluator(store, clock, again).run_once()
    assert again.sent == [(HOOKS, lost.sent[0][1])]
    assert not any(d["pending"] for d in alarms.events()[0].delivery.values())


def test_old_events_are_pruned(store: Store) -> None:
    alarms = AlarmStore(store)
    event = AlarmEvent("alarm-x", None, "test", at(0), {"event": "test"})
    alarms.add_event(event, HOOKS)
    assert alarms.prune_events(at(-1)) == 0
    assert alarms.prune_events(at(1)) == 1
    assert alarms.events() == []
