"""Alarm rules: what a rule watches, when it fires and resolves, and the job that runs them.

A rule watches one metric of one task (or of every task, `task_id` null) and compares it
with a threshold (or, for `status`, with a status). The evaluation is a pure function of
(rule, task, now, previous state) -> (new state, event), so it is tested without brokers;
`AlarmEvaluator` is the controller's periodic job around it: it reads rules and tasks from
the store, persists the new state together with the events in one transaction, and hands
each event to the webhook dispatcher (never blocking the controller on HTTP).

Invariants:

* A rule fires for a task once, when its condition has held continuously for
  `duration_s` (sampled every evaluation, about 2 s apart), and resolves once, at the
  first evaluation where the condition no longer holds. Each is one event.
* The state per (rule, task) -- when the condition began to hold, and whether the rule
  fired -- lives in the rule's `state` JSON and is written in the same transaction as the
  events it implies, so a controller that takes over neither fires again nor forgets to
  resolve.
* No data is not a breach: a metric the task does not report right now (a new task, a
  paused task, metrics older than `METRICS_STALE_S`) makes the condition not hold, so a
  firing alarm on it resolves. Traffic metrics (lag, latency_p99, records_per_s,
  stalled) are read only for tasks that are meant to run: a paused task is not stalled.
* A disabled rule, a deleted task, or a task that no longer matches the rule resolves
  what was firing, with a sentence saying why.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ksync.monitoring.webhook_policy import WebhookPolicy
from ksync.monitoring.webhooks import Delivery, WebhookDispatcher
from ksync.store.alarm_repo import AlarmStore
from ksync.store.repo import Store, as_utc

log = logging.getLogger(__name__)

METRICS = ("status", "error", "lag", "latency_p99", "records_per_s", "stalled")
# Compared with a number threshold.
NUMERIC_METRICS = ("lag", "latency_p99", "records_per_s")
# Yes/no conditions, compared as 0/1 (default: `== 1`, i.e. "when it is so").
FLAG_METRICS = ("error", "stalled")
# Read only while the task is meant to run (desired running).
TRAFFIC_METRICS = ("lag", "latency_p99", "records_per_s", "stalled")
STATUSES = ("Unassigned", "Running", "Paused", "Failed", "Terminating")
COMPARISONS = (">", ">=", "<", "<=", "==", "!=")

Comparison = Literal[">", ">=", "<", "<=", "==", "!="]
TaskStatus = Literal["Unassigned", "Running", "Paused", "Failed", "Terminating"]

# Task metrics older than this are no data (the controller writes them every few seconds).
METRICS_STALE_S = 60.0
MAX_WEBHOOKS = 10
MAX_DURATION_S = 7 * 86_400.0

_UNITS = {"lag": "records", "latency_p99": "ms", "records_per_s": "records/s"}
_LABELS = {"lag": "lag", "latency_p99": "p99 latency", "records_per_s": "copy rate"}


def webhook_problem(url: str) -> str | None:
    """Why `url` cannot be a webhook, or None: http(s) with a host, and nothing else."""
    if len(url) > 2048:
        return "is longer than 2048 characters"
    if url != url.strip() or any(c.isspace() for c in url):
        return "contains whitespace"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    if parts.scheme.lower() not in ("http", "https"):
        return "must be an http:// or https:// URL"
    if not parts.hostname:
        return "has no host"
    if parts.username is not None or parts.password is not None:
        # It would be stored and shown with the rule, and sent to whoever answers.
        return "must not contain a user name or password (user:password@): put a token in the path"
    return None


class AlarmRuleSpec(BaseModel):
    """A rule as the user defines it; validated once here and trusted inside.

    `threshold` is a number for lag (records), latency_p99 (ms) and records_per_s, and
    0/1 for error and stalled (default `== 1`: "fire when it has an error / is stalled");
    a `status` rule compares the task's status (`status`) with `==` or `!=` instead.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=128)
    task_id: str | None = Field(default=None, min_length=1, max_length=32)
    # A str (not a Literal) so that an unknown metric is refused in words listing METRICS.
    metric: str = Field(json_schema_extra={"enum": list(METRICS)})
    comparison: Comparison = "=="
    threshold: float | None = Field(default=None, allow_inf_nan=False)
    status: TaskStatus | None = None
    duration_s: float = Field(default=0.0, ge=0, le=MAX_DURATION_S, allow_inf_nan=False)
    webhooks: list[str] = Field(
        min_length=1,
        max_length=MAX_WEBHOOKS,
        json_schema_extra={"items": {"type": "string", "format": "uri", "maxLength": 2048}},
    )
    enabled: bool = True

    @model_validator(mode="before")
    @classmethod
    def _defaults_per_metric(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("metric") not in METRICS:
            return data  # the field validator names the unknown metric
        metric = data["metric"]
        if metric in NUMERIC_METRICS:
            for key in ("comparison", "threshold"):
                if data.get(key) is None:
                    raise ValueError(
                        f"{key} is required with metric '{metric}' "
                        f"(e.g. \"comparison\": \">\", \"threshold\": 10000)"
                    )
        elif metric in FLAG_METRICS and data.get("threshold") is None:
            data = {**data, "threshold": 1.0}
        return data

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        if value not in METRICS:
            raise ValueError(f"unknown metric '{value}'; allowed: {', '.join(METRICS)}")
        return value

    @field_validator("webhooks")
    @classmethod
    def _webhook_urls(cls, urls: list[str]) -> list[str]:
        for i, url in enumerate(urls):
            problem = webhook_problem(url)
            if problem is not None:
                raise ValueError(f"webhooks[{i}] '{url}' {problem}")
            if url in urls[:i]:
                raise ValueError(f"webhooks[{i}] '{url}' repeats webhooks[{urls.index(url)}]")
        return urls

    @model_validator(mode="after")
    def _fits_metric(self) -> AlarmRuleSpec:
        if self.metric == "status":
            if self.status is None:
                raise ValueError(
                    f"status is required with metric 'status': one of {', '.join(STATUSES)}"
                )
            if self.comparison not in ("==", "!="):
                raise ValueError("comparison must be '==' or '!=' with metric 'status'")
            if self.threshold is not None:
                raise ValueError("threshold is not allowed with metric 'status': give status")
        elif self.status is not None:
            raise ValueError(f"status is only allowed with metric 'status', not '{self.metric}'")
        return self

    @property
    def target(self) -> float | str:
        """What the value is compared with: the status, or the threshold."""
        if self.metric == "status":
            assert self.status is not None
            return self.status
        assert self.threshold is not None
        return self.threshold

    def holds(self, value: float | str) -> bool:
        """The rule's comparison applied to `value`."""
        return compare(value, self.comparison, self.target)


def compare(value: float | str, comparison: str, target: float | str) -> bool:
    if comparison == "==":
        return value == target
    if comparison == "!=":
        return value != target
    if isinstance(value, str) or isinstance(target, str):
        return False
    if comparison == ">":
        return value > target
    if comparison == ">=":
        return value >= target
    if comparison == "<":
        return value < target
    return value <= target


def spec_of_row(row: Any) -> AlarmRuleSpec:
    """The spec of a stored rule (an AlarmRuleRow)."""
    return AlarmRuleSpec.model_validate(
        {
            "name": row.name,
            "task_id": row.task_id,
            "metric": row.metric,
            "comparison": row.comparison,
            "threshold": None if row.metric == "status" else row.threshold,
            "status": row.status,
            "duration_s": row.duration_s,
            "webhooks": list(row.webhooks),
            "enabled": row.enabled,
        }
    )


@dataclass(frozen=True)
class TaskSnapshot:
    """What a rule can see of a task."""

    id: str
    name: str
    status: str
    desired: str = "running"
    error: str | None = None
    metrics: Mapping[str, Any] | None = None

    @classmethod
    def of(cls, row: Any) -> TaskSnapshot:
        """From a TaskRow (or anything with the same fields)."""
        return cls(
            id=row.id,
            name=row.name,
            status=row.status,
            desired=row.desired,
            error=row.error,
            metrics=row.metrics,
        )


@dataclass(frozen=True)
class AlarmRule:
    id: str
    spec: AlarmRuleSpec


@dataclass(frozen=True)
class AlarmEvent:
    """One firing, resolve or test, before it is stored; `payload` is what webhooks get."""

    rule_id: str
    task_id: str | None
    kind: Literal["firing", "resolved", "test"]
    at: datetime
    payload: dict[str, Any]


# ---- reading a metric ------------------------------------------------------------------


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _fresh_metrics(task: TaskSnapshot, now: datetime) -> Mapping[str, Any] | None:
    metrics = task.metrics
    if not metrics:
        return None
    at = metrics.get("at")  # ISO time or Unix seconds
    try:
        if isinstance(at, str):
            stamp = as_utc(datetime.fromisoformat(at))
        elif isinstance(at, int | float) and not isinstance(at, bool):
            stamp = datetime.fromtimestamp(at, UTC)
        else:
            return metrics
    except (ValueError, OverflowError, OSError):
        return None
    if (now - stamp).total_seconds() > METRICS_STALE_S:
        return None
    return metrics


def read_value(metric: str, task: TaskSnapshot, now: datetime) -> float | str | None:
    """The rule's metric for `task` now, or None when the task does not report it."""
    if metric == "status":
        return task.status
    if metric == "error":
        return 1.0 if task.error else 0.0
    if task.desired != "running":
        return None
    metrics = _fresh_metrics(task, now)
    if metrics is None:
        return None
    if metric == "lag":
        return _number(metrics.get("lag"))
    if metric == "latency_p99":
        latency = metrics.get("latency_ms")
        return _number(latency.get("p99")) if isinstance(latency, Mapping) else None
    if metric == "records_per_s":
        return _number(metrics.get("records_per_s"))
    if metric == "stalled":
        copied = _number(metrics.get("records_per_s"))
        offered = _number(metrics.get("source_records_per_s"))
        if copied is None or offered is None:
            return None
        return 1.0 if copied == 0 and offered > 0 else 0.0
    raise ValueError(f"unknown metric {metric}")


# ---- words -----------------------------------------------------------------------------


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
    if metric == "stalled":
        if not value:
            return "not stalled"
        offered = _number((task.metrics or {}).get("source_records_per_s")) if task else None
        traffic = f" ({fmt_number(offered)} records/s)" if offered else ""
        return f"copies no records while its source has traffic{traffic}"
    return f"{_LABELS[metric]} {fmt_number(value)} {_UNITS[metric]}"


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
    else:
        assert spec.threshold is not None
        words = f"{_LABELS[metric]} {spec.comparison} {fmt_number(spec.threshold)} {_UNITS[metric]}"
    return words + (f" for {fmt_seconds(spec.duration_s)}" if spec.duration_s else "")


def firing_message(spec: AlarmRuleSpec, task: TaskSnapshot, value: float | str) -> str:
    """'Task orders-to-sh (task-…): lag 12,345 records > 10,000 for 60 s'."""
    held = f" for {fmt_seconds(spec.duration_s)}" if spec.duration_s else ""
    head = _task_label(task, task.id)
    metric = spec.metric
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
        if task.error and value == "Failed":
            return f"{head}: {words}{held}: {task.error}"
        return f"{head}: {words}{held}"
    if metric == "error" and value and task.error:
        return f"{head}: has had an error{held}: {task.error}"
    return f"{head}: {describe_value(spec, value, task)}{held}"


def resolved_message(
    spec: AlarmRuleSpec, task: TaskSnapshot | None, task_id: str, value: float | str | None, why: str | None
) -> str:
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
    kind: Literal["firing", "resolved", "test"],
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
    if isinstance(value, float) and spec.metric in ("lag",) + FLAG_METRICS and value == int(value):
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


# ---- evaluation ------------------------------------------------------------------------


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


# ---- the controller's job --------------------------------------------------------------


def deliver_event(
    alarms: AlarmStore, dispatcher: WebhookDispatcher, event_id: int, urls: Sequence[str], payload: dict[str, Any]
) -> None:
    """Hand a stored event to the dispatcher; each outcome is written to its `delivery`."""

    def record(url: str, outcome: Delivery) -> None:
        alarms.record_delivery(event_id, url, outcome.as_json())

    dispatcher.deliver(urls, {"id": event_id, **payload}, record)


@dataclass
class AlarmEvaluator:
    """The controller's alarm job: every `interval_s` (the controller may tick faster),
    evaluate every rule against the tasks, store state and events together, and send the
    events through the webhook dispatcher's own threads.

    Register `(evaluator.name, evaluator.run_due)` as a controller periodic job;
    `run_once()` evaluates now. On its first run after a start or a takeover it sends
    again the deliveries of the last `redeliver_window_s` that never finished (a webhook
    receiver may so see an event twice: events carry an `id`).
    """

    store: Store
    interval_s: float = 2.0
    dispatcher: WebhookDispatcher | None = None
    # Where the default dispatcher may send (public addresses only unless allowed).
    policy: WebhookPolicy = field(default_factory=WebhookPolicy)
    redeliver_window_s: float = 600.0
    event_retention_s: float = 30 * 86_400.0
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    name: str = "alarms"
    alarms: AlarmStore = field(init=False)
    _last_run: float = field(init=False, default=-math.inf)
    _last_prune: float = field(init=False, default=-math.inf)
    _started: bool = field(init=False, default=False)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.alarms = AlarmStore(self.store)
        if self.dispatcher is None:
            self.dispatcher = WebhookDispatcher(name="alarm-webhook", policy=self.policy)

    def run_due(self) -> None:
        """Run if `interval_s` has passed since the last run."""
        if time.monotonic() - self._last_run < self.interval_s:
            return
        self.run_once()

    def run_once(self) -> list[int]:
        """Evaluate every rule now; the ids of the events this created."""
        with self._lock:
            self._last_run = time.monotonic()
            assert self.dispatcher is not None
            if not self._started:
                self._started = True
                self._redeliver()
            now = self.clock()
            tasks = [TaskSnapshot.of(t) for t in self.store.tasks.all()]
            created: list[int] = []
            for row in self.alarms.list_rules():
                try:
                    created += self._evaluate_row(row, tasks, now)
                except Exception:
                    log.exception("alarm rule %s could not be evaluated", row.id)
            if time.monotonic() - self._last_prune > 3600:
                self._last_prune = time.monotonic()
                removed = self.alarms.prune_events(now - timedelta(seconds=self.event_retention_s))
                if removed:
                    log.info("alarm events: %d older than the retention removed", removed)
            return created

    def _evaluate_row(self, row: Any, tasks: list[TaskSnapshot], now: datetime) -> list[int]:
        assert self.dispatcher is not None
        rule = AlarmRule(row.id, spec_of_row(row))
        state = dict(row.state or {})
        new_state, events = evaluate_rule(rule, row.enabled, tasks, now, state)
        if new_state == state and not events:
            return []
        stored = self.alarms.commit_evaluation(row, new_state, events)
        if stored is None:
            return []  # the rule changed meanwhile: the next run sees the new definition
        for event_row in stored:
            log.info("alarm %s: %s", event_row.kind, event_row.payload["message"])
            deliver_event(self.alarms, self.dispatcher, event_row.id, rule.spec.webhooks, event_row.payload)
        return [e.id for e in stored]

    def _redeliver(self) -> None:
        assert self.dispatcher is not None
        since = self.clock() - timedelta(seconds=self.redeliver_window_s)
        for event_row in self.alarms.unfinished_deliveries(since):
            urls = [u for u, d in event_row.delivery.items() if d.get("pending")]
            log.info("alarm event %d: delivering again to %d webhook(s)", event_row.id, len(urls))
            deliver_event(self.alarms, self.dispatcher, event_row.id, urls, event_row.payload)

    def close(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.close()
