"""Evaluating a rule: a pure function of (rule, task, now, previous state) -> (new state,
event), so it is tested without brokers or a store.

Invariants:

* A rule fires for a task once, when its condition has held continuously for
  `duration_s` (sampled every evaluation, about 2 s apart), and resolves once, at the
  first evaluation where the condition no longer holds. Each is one event.
* The state per (rule, task) -- when the condition began to hold, and whether the rule
  fired -- is returned with the events it implies; the job stores both in one
  transaction, so a controller that takes over neither fires again nor forgets to resolve.
* No data is not a breach (`snapshot.read_value`): a firing alarm on a metric the task
  stopped reporting resolves.
* A disabled rule, a deleted task, or a task that no longer matches the rule resolves
  what was firing, with a sentence saying why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from ksync.domain.alarms import AlarmEvent, AlarmRule
from ksync.monitoring.alarms.messages import (
    describe_condition,
    event_payload,
    firing_message,
    iso,
    resolved_message,
)
from ksync.monitoring.alarms.snapshot import TaskSnapshot, read_value
from ksync.store.base import as_utc


def evaluate(
    rule: AlarmRule, task: TaskSnapshot, now: datetime, previous: Mapping[str, Any] | None
) -> tuple[dict[str, Any] | None, AlarmEvent | None]:
    """One rule against one task: the new state for the pair (None: nothing held) and the
    event to send, if this evaluation fires or resolves.

    State: `{"pending_since": ISO, "firing_since": ISO | None, "value": ...}` --
    `pending_since` is when the condition began to hold (the event's `since`),
    `firing_since` when the rule fired, `value` the metric at the last transition. While
    nothing changes, an equal state is returned, so the store is written on transitions
    only, not at every evaluation.
    """
    spec = rule.spec
    value = read_value(spec.metric, task, now)
    holds = value is not None and spec.holds(value)
    firing = previous is not None and previous.get("firing_since") is not None
    if not holds:
        if not firing:
            return None, None
        assert previous is not None
        since = as_utc(datetime.fromisoformat(previous["pending_since"]))
        message = resolved_message(spec, task, task.id, value, None)
        return None, AlarmEvent(
            rule.id,
            task.id,
            "resolved",
            now,
            event_payload("resolved", rule.id, spec, task, task.id, value, since, now, message),
        )
    assert value is not None
    if firing:
        return dict(previous or {}), None
    if previous is None:
        state: dict[str, Any] = {"pending_since": iso(now), "firing_since": None, "value": value}
    else:
        state = dict(previous)
    since = as_utc(datetime.fromisoformat(state["pending_since"]))
    if (now - since).total_seconds() + 1e-6 < spec.duration_s:
        return state, None
    state = {**state, "firing_since": iso(now), "value": value}
    message = firing_message(spec, task, value)
    return state, AlarmEvent(
        rule.id,
        task.id,
        "firing",
        now,
        event_payload("firing", rule.id, spec, task, task.id, value, since, now, message),
    )


def evaluate_rule(
    rule: AlarmRule,
    enabled: bool,
    tasks: Sequence[TaskSnapshot],
    now: datetime,
    state: Mapping[str, Mapping[str, Any]],
    disabled_why: str = "the rule was disabled",
) -> tuple[dict[str, dict[str, Any]], list[AlarmEvent]]:
    """A rule against every task it covers: the rule's new state and the events, in order.

    Firing alarms of tasks the rule no longer sees (task deleted, rule retargeted) and of
    a disabled (or deleted: `disabled_why`) rule resolve; their pending entries are dropped.
    """
    spec = rule.spec
    by_id = {t.id: t for t in tasks}
    covered = [] if not enabled else [t for t in tasks if spec.task_id in (None, t.id)]
    new_state: dict[str, dict[str, Any]] = {}
    events: list[AlarmEvent] = []
    for task in covered:
        entry, event = evaluate(rule, task, now, state.get(task.id))
        if entry is not None:
            new_state[task.id] = entry
        if event is not None:
            events.append(event)
    seen = {t.id for t in covered}
    for task_id, old in state.items():
        if task_id in seen or old.get("firing_since") is None:
            continue
        gone = by_id.get(task_id)
        if not enabled:
            why = disabled_why
        elif gone is None:
            why = "the task was deleted"
        else:
            why = "the rule no longer covers this task"
        since = as_utc(datetime.fromisoformat(old["pending_since"]))
        message = resolved_message(spec, gone, task_id, None, why)
        payload = event_payload("resolved", rule.id, spec, gone, task_id, None, since, now, message)
        events.append(AlarmEvent(rule.id, task_id, "resolved", now, payload))
    return new_state, events


def test_event(rule: AlarmRule, task: TaskSnapshot | None, now: datetime) -> AlarmEvent:
    """The event `POST /alarms/{id}/test` sends: marked `test`, with the task as it is now."""
    spec = rule.spec
    value = read_value(spec.metric, task, now) if task is not None else None
    message = (
        f"Test event from alarm rule '{spec.name}' ({rule.id}, {describe_condition(spec)}): "
        "this webhook is reachable"
    )
    payload = event_payload("test", rule.id, spec, task, spec.task_id, value, now, now, message)
    return AlarmEvent(rule.id, spec.task_id, "test", now, payload)
