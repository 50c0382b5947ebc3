"""Workers, the member slots the controller gives them, and what their members report."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update

from ksync.store.base import Repository, as_utc, utcnow
from ksync.store.tables import MemberRow, SlotRow, TaskRow, WorkerRow


@dataclass(frozen=True)
class WorkerInfo:
    id: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime


@dataclass(frozen=True)
class MemberReport:
    """A worker's report about one member it runs."""

    task_id: str
    slot: int
    generation: int
    state: str
    partitions: list[list[Any]]
    progress: list[dict[str, Any]]
    error: str | None
    warnings: list[str]
    records_total: int
    metrics: dict[str, Any] | None = None


class WorkerRepo(Repository):
    """Heartbeats, slot assignments and member reports."""

    def heartbeat(self, worker_id: str, host: str, pid: int, reports: Iterable[MemberReport]) -> None:
        """Record that `worker_id` is alive and what its members are doing."""
        now = utcnow()
        with self.session() as s:
            row = s.get(WorkerRow, worker_id)
            if row is None or row.pid != pid or row.host != host:
                if row is not None:
                    s.delete(row)
                    s.flush()
                s.add(WorkerRow(id=worker_id, host=host, pid=pid, started_at=now, heartbeat_at=now))
            else:
                row.heartbeat_at = now
            reported = set()
            for r in reports:
                reported.add((r.task_id, r.slot))
                m = s.get(MemberRow, (r.task_id, r.slot))
                if m is None:
                    m = MemberRow(task_id=r.task_id, slot=r.slot)
                    s.add(m)
                m.worker_id = worker_id
                m.generation = r.generation
                m.state = r.state
                m.partitions = r.partitions
                m.progress = r.progress
                m.error = r.error
                m.warnings = r.warnings
                m.records_total = r.records_total
                m.metrics = r.metrics
                m.updated_at = now
            # Members this worker ran before and no longer runs are stopped.
            for m in s.scalars(select(MemberRow).where(MemberRow.worker_id == worker_id)):
                if (m.task_id, m.slot) not in reported and m.state != "stopped":
                    m.state = "stopped"
                    m.partitions = []
                    m.updated_at = now

    def remove(self, worker_id: str) -> None:
        """A worker that shuts down cleanly leaves at once instead of timing out."""
        with self.session() as s:
            s.execute(delete(WorkerRow).where(WorkerRow.id == worker_id))
            s.execute(
                update(MemberRow)
                .where(MemberRow.worker_id == worker_id)
                .values(state="stopped", partitions=[], updated_at=utcnow())
            )

    def all(self) -> list[WorkerInfo]:
        with self.session() as s:
            return [
                WorkerInfo(w.id, w.host, w.pid, as_utc(w.started_at), as_utc(w.heartbeat_at))
                for w in s.scalars(select(WorkerRow).order_by(WorkerRow.id))
            ]

    def expire(self, timeout: timedelta) -> list[str]:
        """Delete workers whose heartbeat is older than `timeout`; their members stop."""
        cutoff = utcnow() - timeout
        dead = [w.id for w in self.all() if w.heartbeat_at < cutoff]
        for worker_id in dead:
            self.remove(worker_id)
        return dead

    def slots(self) -> list[SlotRow]:
        with self.session() as s:
            return list(s.scalars(select(SlotRow)))

    def set_slots(self, task_id: str, assignment: dict[int, str | None]) -> None:
        """Replace a task's slot -> worker assignment."""
        with self.session() as s:
            s.execute(delete(SlotRow).where(SlotRow.task_id == task_id))
            for slot, worker_id in assignment.items():
                s.add(SlotRow(task_id=task_id, slot=slot, worker_id=worker_id))

    def assignments_for(self, worker_id: str) -> list[tuple[TaskRow, int]]:
        """The (task, slot) pairs the controller gave to `worker_id`."""
        with self.session() as s:
            rows = s.execute(
                select(TaskRow, SlotRow.slot)
                .join(SlotRow, SlotRow.task_id == TaskRow.id)
                .where(SlotRow.worker_id == worker_id)
            ).all()
            return [(task, slot) for task, slot in rows]

    def members(self, task_id: str | None = None) -> list[MemberRow]:
        with self.session() as s:
            q = select(MemberRow)
            if task_id is not None:
                q = q.where(MemberRow.task_id == task_id)
            return list(s.scalars(q.order_by(MemberRow.task_id, MemberRow.slot)))
