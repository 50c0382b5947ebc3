"""The words of alarm events, and the JSON a webhook receives.

Every event carries a sentence a person reads in a chat channel or a pager: it names the
task, the value now, and the rule ("Task orders-to-sh (task-…): lag 12,345 records >
10,000 for 60 s").
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ksync.domain.alarms import FLAG_METRICS, NUMERIC_METRICS, AlarmRuleSpec, EventKind
from ksync.domain.status import TaskStatus
from ksync.monitoring.alarms.snapshot import TaskSnapshot, number

_UNITS = {"lag": "records", "latency_p99": "ms", "records_per_s": "records/s", "records_lost": "records"}
_LABELS = {
    "lag": "lag",
    "latency_p99": "p99 latency",
    "records_per_s": "copy rate",
    "records_lost": "lost to retention in the last 10 s:",
}


def fmt_number(value: float) -> str:
    """12345.0 -> '12,345'; 0.5 -> '0.5'; 812.3456 -> '812.35'."""
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def fmt_seconds(seconds: float) -> str:
    return f"{fmt_number(seconds)} s"


def _task_label(task: TaskSnapshot | None, task_id: str | None) -> str:
    if task is None:
        return f"Task {task_id}" if task_id else "All tasks"
    return f"Task {task.name} ({task.id})"


def describe_value(spec: AlarmRuleSpec, value: float | str | None, task: TaskSnapshot | None) -> str:
    """What the metric is now, in words: 'lag 12,345 records', 'status is Failed'."""
    metric = spec.metric
    if value is None:
        return f"no current {_LABELS.get(metric, metric)} (the task does not report it now)"
    if metric == "status":
        return f"status is {value}"
    assert isinstance(value, float)
    if metric == "error":
        if value and task is not None and task.error:
            return f"has an error: {task.error}"
        return "has an error" if value else "has no error"
    if metric == "blocked_topics":
        return _blocked_words(value, task)
    if metric == "stalled":
        if not value:
            return "not stalled"
        offered = number((task.metrics or {}).get("source_records_per_s")) if task else None
        traffic = f" ({fmt_number(offered)} records/s)" if offered else ""
        return f"copies no records while its source has traffic{traffic}"
    return f"{_LABELS[metric]} {fmt_number(value)} {_UNITS[metric]}"


def _blocked_words(count: float, task: TaskSnapshot | None) -> str:
    """'2 blocked topics (bt-c: target topic has 1 partition, needs 4; bt-d: …)'."""
    words = f"{fmt_number(count)} blocked topic" + ("" if count == 1 else "s")
    blocked = task.blocked_topics if task is not None else ()
    if blocked:
        words += " (" + "; ".join(f"{t.source}: {t.error or 'blocked'}" for t in blocked) + ")"
    return words


def describe_condition(spec: AlarmRuleSpec) -> str:
    """The rule in words: 'lag > 10,000 records for 60 s'."""
    metric = spec.metric
    if metric == "status":
        words = f"status {spec.comparison} {spec.status}"
    elif metric in FLAG_METRICS:
        assert spec.threshold is not None
        if spec.holds(1.0) and not spec.holds(0.0):
            words = "has an error" if metric == "error" else "stalled"
        else:
            words = f"{metric} {spec.comparison} {fmt_number(spec.threshold)}"
    elif metric == "blocked_topics":
        assert spec.threshold is not None
        words = f"blocked topics {spec.comparison} {fmt_number(spec.threshold)}"
    else:
        assert spec.threshold is not None
        words = f"{_LABELS[metric]} {spec.comparison} {fmt_number(spec.threshold)} {_UNITS[metric]}"
    return words + (f" for {fmt_seconds(spec.duration_s)}" if spec.duration_s else "")


def firing_message(spec: AlarmRuleSpec, task: TaskSnapshot, value: float | str) -> str:
    """'Task orders-to-sh (task-…): lag 12,345 records > 10,000 for 60 s'."""
    held = f" for {fmt_seconds(spec.duration_s)}" if spec.duration_s else ""
    head = _task_label(task, task.id)
    metric = spec.metric
    if metric == "blocked_topics":
        assert isinstance(value, float) and spec.threshold is not None
        return (
            f"{head}: {describe_value(spec, value, task)}, blocked topics {spec.comparison} "
            f"{fmt_number(spec.threshold)}{held}"
        )
    if metric in NUMERIC_METRICS:
        assert isinstance(value, float) and spec.threshold is not None
        return (
            f"{head}: {describe_value(spec, value, task)} {spec.comparison} "
            f"{fmt_number(spec.threshold)}{held}"
        )
    if metric == "status":
        words = f"status is {value}"
        if spec.comparison == "!=":
            words += f", not {spec.status}"
        if task.error and value == TaskStatus.FAILED:
            return f"{head}: {words}{held}: {task.error}"
        return f"{head}: {words}{held}"
    if metric == "error" and value and task.error:
        return f"{head}: has had an error{held}: {task.error}"
    return f"{head}: {describe_value(spec, value, task)}{held}"


def resolved_message(
    spec: AlarmRuleSpec, task: TaskSnapshot | None, task_id: str, value: float | str | None, why: str | None
) -> str:
    """'Task … : resolved, lag 12 records (rule: lag > 10,000 records for 60 s)', or with
    `why` when the rule stopped covering the task ('the task was deleted')."""
    head = _task_label(task, task_id)
    if why is not None:
        return f"{head}: resolved, {why} (rule: {describe_condition(spec)})"
    return f"{head}: resolved, {describe_value(spec, value, task)} (rule: {describe_condition(spec)})"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def rule_json(rule_id: str, spec: AlarmRuleSpec) -> dict[str, Any]:
    return {
        "id": rule_id,
        "name": spec.name,
        "metric": spec.metric,
        "comparison": spec.comparison,
        "threshold": spec.target,
        "duration_s": spec.duration_s,
    }


def _task_json(task: TaskSnapshot | None, task_id: str | None) -> dict[str, Any] | None:
    if task is None:
        return {"id": task_id, "name": None, "status": None} if task_id else None
    return {"id": task.id, "name": task.name, "status": task.status, "error": task.error}


def event_payload(
    kind: EventKind,
    rule_id: str,
    spec: AlarmRuleSpec,
    task: TaskSnapshot | None,
    task_id: str | None,
    value: float | str | None,
    since: datetime,
    at: datetime,
    message: str,
) -> dict[str, Any]:
    """The JSON a webhook receives (the stored event adds its `id`)."""
    counts = ("lag", "blocked_topics", "records_lost", *FLAG_METRICS)
    if isinstance(value, float) and spec.metric in counts and value == int(value):
        value = int(value)
    return {
        "event": kind,
        "rule": rule_json(rule_id, spec),
        "task": _task_json(task, task_id),
        "value": value,
        "threshold": spec.target,
        "since": iso(since),
        "at": iso(at),
        "message": message,
    }
