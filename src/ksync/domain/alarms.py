"""Alarm rules as a user defines them, and the events they cause: the values the API, the
store and the alarm job (`ksync.monitoring.alarms`) share. Nothing here does I/O.

A rule watches one metric of one task (or of every task, `task_id` null) and compares it
with a threshold (or, for `status`, with a status).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ksync.domain.status import TaskStatus
from ksync.spec import Name

# Counts of the task's topics in a state, read from its `topics` (not its metrics) while
# it is meant to run; compared with a number, by default `> 0` ("when any topic is so").
TOPIC_METRICS: tuple[str, ...] = ("blocked_topics",)
METRICS: tuple[str, ...] = (
    "status",
    "error",
    "lag",
    "latency_p99",
    "records_per_s",
    "stalled",
    "records_lost",
    *TOPIC_METRICS,
)
# Compared with a number threshold. records_lost: records the source deleted (retention)
# before they were copied, in the last ~10 s, so `> 0` fires once per loss and resolves.
NUMERIC_METRICS: tuple[str, ...] = (
    "lag",
    "latency_p99",
    "records_per_s",
    "records_lost",
    *TOPIC_METRICS,
)
# Yes/no conditions, compared as 0/1 (default: `== 1`, i.e. "when it is so").
FLAG_METRICS = ("error", "stalled")
# Read only while the task is meant to run (desired running).
TRAFFIC_METRICS = ("lag", "latency_p99", "records_per_s", "stalled", "records_lost")
COMPARISONS = (">", ">=", "<", "<=", "==", "!=")

Comparison = Literal[">", ">=", "<", "<=", "==", "!="]
EventKind = Literal["firing", "resolved", "test"]

MAX_WEBHOOKS = 10
MAX_DURATION_S = 7 * 86_400.0


def webhook_problem(url: str) -> str | None:
    """Why `url` cannot be a webhook, or None: http(s) with a host, and nothing else.

    Where the URL's host resolves to is checked separately, when a rule is saved and at
    each delivery (`ksync.monitoring.alarms.webhook_policy`): it can change."""
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

    `threshold` is a number for lag (records), latency_p99 (ms), records_per_s and
    records_lost (records lost to retention in the last ~10 s), and
    0/1 for error and stalled (default `== 1`: "fire when it has an error / is stalled");
    a `status` rule compares the task's status (`status`) with `==` or `!=` instead.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Name
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
        if metric in TOPIC_METRICS and data.get("comparison") is None and data.get("threshold") is None:
            data = {**data, "comparison": ">", "threshold": 0.0}
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
                    f"status is required with metric 'status': one of {', '.join(TaskStatus)}"
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
    """`value <comparison> target`; an order between a status and anything is never true."""
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


@dataclass(frozen=True)
class AlarmRule:
    """A stored rule: its id and its definition."""

    id: str
    spec: AlarmRuleSpec


@dataclass(frozen=True)
class AlarmEvent:
    """One firing, resolve or test, before it is stored; `payload` is what webhooks get."""

    rule_id: str
    task_id: str | None
    kind: EventKind
    at: datetime
    payload: dict[str, Any]


def _moment(value: str) -> datetime:
    """A time a rule's state keeps as ISO text, in UTC."""
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Alert:
    """A rule's condition holding for one task: `pending` until `duration_s` has passed,
    then `firing`; `value` is the metric when it began to hold, or when it fired."""

    task_id: str
    state: Literal["pending", "firing"]
    since: datetime
    firing_since: datetime | None
    value: float | str | None


@dataclass(frozen=True)
class AlarmRuleView:
    """A stored rule as every face sees it: its definition, and per task the state of
    its condition (`{"pending_since", "firing_since", "value"}`, written by the alarm
    job; `ksync.monitoring.alarms.evaluation` owns its meaning)."""

    id: str
    spec: AlarmRuleSpec
    state: Mapping[str, Mapping[str, Any]]
    created_at: datetime
    updated_at: datetime

    @property
    def rule(self) -> AlarmRule:
        """The rule as the evaluation takes it."""
        return AlarmRule(self.id, self.spec)

    @property
    def firing(self) -> bool:
        """Whether the rule has fired for some task and not resolved yet."""
        return any(entry.get("firing_since") for entry in self.state.values())

    def alerts(self) -> list[Alert]:
        """The tasks whose condition holds now, by task id."""
        return [
            Alert(
                task_id=task_id,
                state="firing" if entry.get("firing_since") else "pending",
                since=_moment(entry["pending_since"]),
                firing_since=_moment(entry["firing_since"]) if entry.get("firing_since") else None,
                value=entry.get("value"),
            )
            for task_id, entry in sorted(self.state.items())
        ]


@dataclass(frozen=True)
class AlarmEventView:
    """A stored event: what the webhooks got (`payload`, with the event's `id`) and, per
    webhook URL, how its delivery went (`{"status", "attempts", "error", "pending"}`)."""

    id: int
    rule_id: str
    task_id: str | None
    kind: EventKind
    at: datetime
    payload: Mapping[str, Any]
    delivery: Mapping[str, Mapping[str, Any]]
