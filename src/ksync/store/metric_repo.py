"""Task metrics: the controller's current view of each task, and the 24-hour history."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update

from ksync.domain.metrics import MetricPoint
from ksync.store.base import Repository, as_utc, rowcount
from ksync.store.tables import MetricPointRow, TaskRow


class MetricRepo(Repository):
    """Current metrics per task and the 10-second history points."""

    def set_current(self, task_id: str, metrics: Mapping[str, Any]) -> None:
        """The controller's latest metrics for a task (no status event, no updated_at)."""
        with self.session() as s:
            s.execute(update(TaskRow).where(TaskRow.id == task_id).values(metrics=dict(metrics)))

    def add_point(self, task_id: str, at: datetime, data: Mapping[str, Any]) -> None:
        """One 10-second step of a task's history."""
        with self.session() as s:
            s.add(MetricPointRow(task_id=task_id, at=at, data=dict(data)))

    def record(
        self,
        currents: Mapping[str, Mapping[str, Any]],
        at: datetime,
        points: Mapping[str, Mapping[str, Any]],
    ) -> None:
        """Several tasks' latest metrics and history points at `at`, in one transaction
        (what `set_current` and `add_point` do for one task)."""
        with self.session() as s:
            for task_id, metrics in currents.items():
                s.execute(update(TaskRow).where(TaskRow.id == task_id).values(metrics=dict(metrics)))
            s.add_all(MetricPointRow(task_id=t, at=at, data=dict(d)) for t, d in points.items())

    def points(self, task_id: str, since: datetime) -> list[MetricPoint]:
        """A task's history from `since`, oldest first."""
        with self.reading() as s:
            return [
                MetricPoint(at=as_utc(p.at), data=p.data)
                for p in s.scalars(
                    select(MetricPointRow)
                    .where(MetricPointRow.task_id == task_id, MetricPointRow.at >= since)
                    .order_by(MetricPointRow.at)
                )
            ]

    def prune(self, before: datetime, task_ids: set[str]) -> int:
        """Drop points older than `before` and those of tasks that no longer exist."""
        with self.session() as s:
            old = rowcount(s.execute(delete(MetricPointRow).where(MetricPointRow.at < before)))
            orphans = (
                rowcount(s.execute(delete(MetricPointRow).where(MetricPointRow.task_id.not_in(task_ids))))
                if task_ids
                else 0
            )
        return old + orphans
