"""An alarm rule on blocked topics (`blocked_topics`): the count of the task's topics it
selected but cannot copy, read from its topic states. Pure evaluation first, then the
controller's alarm job over a real store where the task's topics are observed blocked
and unblocked, as the controller writes them (no broker: the blocking itself is the
controller's, tested against Kafka elsewhere)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from pydantic import ValidationError

from ksync.domain.alarms import AlarmRule, AlarmRuleSpec
from ksync.domain.task import TaskChange
from ksync.domain.topics import TopicMapping
from ksync.monitoring.alarms.evaluation import evaluate_rule
from ksync.monitoring.alarms.job import AlarmEvaluator
from ksync.store.alarm_repo import AlarmStore
from ksync.store.repo import Store

from .conftest import add_task
from .support import RecordingDispatcher, at, task

HOOK = "http://127.0.0.1:9/hook"
TOO_SMALL = "target topic bt-c has 1 partition, the source 4 (keep_partition needs as many)"
A = TopicMapping("bt-a", "bt-a", 4)
C = TopicMapping("bt-c", "bt-c", 4).blocked(TOO_SMALL)


def spec(**fields: object) -> AlarmRuleSpec:
    return AlarmRuleSpec.model_validate({"name": "blocked", "metric": "blocked_topics", "webhooks": [HOOK], **fields})


def test_the_rule_defaults_to_any_blocked_topic_and_takes_a_threshold() -> None:
    default = spec()
    assert (default.comparison, default.threshold) == (">", 0.0)
    assert (spec(comparison=">=", threshold=2).comparison, spec(comparison=">=", threshold=2).threshold) == (">=", 2.0)
    with pytest.raises(ValidationError, match="threshold is required with metric 'blocked_topics'"):
        spec(comparison=">")


def test_fires_while_a_topic_is_blocked_naming_it_and_why_then_resolves() -> None:
    rule = AlarmRule("alarm-aaaaaaaa", spec(duration_s=10))
    flowing = replace(task(), topics=(A, TopicMapping("bt-c", "bt-c", 4)))
    blocked = replace(task(), topics=(A, C))
    state: dict = {}
    kinds = []
    fired = None
    for second, snap in [(0, flowing), (2, blocked), (8, blocked), (12, blocked), (14, blocked), (16, flowing)]:
        state, events = evaluate_rule(rule, True, [snap], at(second), state)
        for event in events:
            kinds.append((second, event.kind))
            fired = fired or event
    assert kinds == [(12, "firing"), (16, "resolved")]
    assert fired is not None and fired.payload["value"] == 1
    assert fired.payload["message"] == (
        f"Task orders-to-sh (task-aaaaaaaa): 1 blocked topic (bt-c: {TOO_SMALL}), "
        "blocked topics > 0 for 10 s"
    )


def test_a_paused_task_has_no_blocked_topics_to_alarm_on() -> None:
    rule = AlarmRule("alarm-aaaaaaaa", spec())
    paused = replace(task(status="Paused", desired="paused"), topics=(C,))
    assert evaluate_rule(rule, True, [paused], at(0), {}) == ({}, [])


def test_the_job_fires_on_a_topic_the_controller_blocked_and_resolves_when_it_unblocks(store: Store) -> None:
    t = add_task(store)
    alarms = AlarmStore(store)
    rule = alarms.add_rule(spec())
    dispatcher = RecordingDispatcher()
    now = [at(0)]
    job = AlarmEvaluator(store, dispatcher=dispatcher, clock=lambda: now[0])  # type: ignore[arg-type]

    store.tasks.observe(t.id, TaskChange(topics=(A, TopicMapping("bt-c", "bt-c", 4))))
    assert job.run_once() == []
    store.tasks.observe(t.id, TaskChange(topics=(A, C)))
    now[0] = at(2)
    assert len(job.run_once()) == 1
    [(urls, payload)] = dispatcher.sent
    assert urls == [HOOK] and payload["event"] == "firing" and "bt-c: " + TOO_SMALL in payload["message"]
    assert [a.task_id for a in alarms.get_rule(rule.id).alerts()] == [t.id]

    store.tasks.observe(t.id, TaskChange(topics=(A, C.unblocked())))
    now[0] = at(4)
    assert len(job.run_once()) == 1
    assert dispatcher.sent[-1][1]["event"] == "resolved"
    assert "resolved, 0 blocked topics" in dispatcher.sent[-1][1]["message"]
    assert alarms.get_rule(rule.id).alerts() == []
