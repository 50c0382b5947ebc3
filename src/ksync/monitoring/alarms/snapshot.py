"""What a rule can see of a task, and how a rule's metric is read from it.

No data is not a breach: a metric the task does not report right now (a new task, a
paused task, metrics older than `METRICS_STALE_S`) reads as None, and a condition on
None never holds. Traffic metrics (lag, latency_p99, records_per_s, stalled,
records_lost) and topic counts (blocked_topics, read from the task's topic states) are
read only for tasks that are meant to run: a paused task is not stalled.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ksync.domain.status import Desired
from ksync.domain.task import TaskView
from ksync.domain.topics import TopicMapping
from ksync.store.base import as_utc

# Task metrics older than this are no data (the controller writes them every few seconds).
METRICS_STALE_S = 60.0


@dataclass(frozen=True)
class TaskSnapshot:
    """What a rule can see of a task."""

    id: str
    name: str
    status: str
    desired: str = Desired.RUNNING
    error: str | None = None
    metrics: Mapping[str, Any] | None = None
    topics: tuple[TopicMapping, ...] = ()

    @property
    def blocked_topics(self) -> tuple[TopicMapping, ...]:
        """The topics the task selected but cannot copy now."""
        return tuple(t for t in self.topics if t.state == "blocked")

    @classmethod
    def of(cls, task: TaskView) -> TaskSnapshot:
        """From a stored task."""
        return cls(
            id=task.id,
            name=task.name,
            status=task.status,
            desired=task.desired,
            error=task.error,
            metrics=task.metrics,
            topics=task.topics,
        )


def number(value: Any) -> float | None:
    """A finite number from task metrics, or None (booleans and NaN are not numbers)."""
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
    if task.desired != Desired.RUNNING:
        return None
    if metric == "blocked_topics":
        return float(len(task.blocked_topics))
    metrics = _fresh_metrics(task, now)
    if metrics is None:
        return None
    if metric == "lag":
        return number(metrics.get("lag"))
    if metric == "latency_p99":
        latency = metrics.get("latency_ms")
        return number(latency.get("p99")) if isinstance(latency, Mapping) else None
    if metric == "records_per_s":
        return number(metrics.get("records_per_s"))
    if metric == "records_lost":
        return number(metrics.get("lost_records"))
    if metric == "stalled":
        copied = number(metrics.get("records_per_s"))
        offered = number(metrics.get("source_records_per_s"))
        if copied is None or offered is None:
            return None
        return 1.0 if copied == 0 and offered > 0 else 0.0
    raise ValueError(f"unknown metric {metric}")
