"""Workers, the member slots the controller gives them, and what their members report."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import defer

from ksync.domain.status import MemberState
from ksync.domain.task import TaskView
from ksync.domain.workers import MemberReport, MemberView, WorkerView
from ksync.store.base import Repository, as_utc, utcnow
from ksync.store.offset_repo import add_pairs
from ksync.store.tables import MemberRow, SlotRow, TaskRow, WorkerRow
from ksync.store.task_repo import task_view

_STOPPED = MemberState.STOPPED.value


def member_view(row: MemberRow, metrics: bool = True) -> MemberView:
    """The view of a member row (partitions as (topic, partition) tuples); without
    `metrics` its metrics are left out (None), for a row read without them."""
    return MemberView(
        task_id=row.task_id,
        slot=row.slot,
        worker_id=row.worker_id,
        generation=row.generation,
        state=MemberState(row.state),
        partitions=tuple((str(t), int(p)) for t, p in row.partitions),
        progress=tuple(row.progress),
        error=row.error,
        warnings=tuple(row.warnings),
        records_total=row.records_total,
        metrics=row.metrics if metrics else None,
        updated_at=as_utc(row.updated_at),
    )


class WorkerRepo(Repository):
    """Heartbeats, slot assignments and member reports."""

    def heartbeat(
        self,
        worker_id: str,
        host: str,
        pid: int,
        reports: Iterable[MemberReport],
        max_members: int | None = None,
    ) -> None:
        """Record that `worker_id` is alive, how many members it may host (None: no cap)
        and what its members are doing."""
        now = utcnow()
        with self.session() as s:
            row = s.get(WorkerRow, worker_id)
            if row is None or row.pid != pid or row.host != host:
                if row is not None:
                    s.delete(row)
                    s.flush()
                s.add(
                    WorkerRow(
                        id=worker_id,
                        host=host,
                        pid=pid,
                        started_at=now,
                        heartbeat_at=now,
                        max_members=max_members,
                    )
                )
            else:
                row.heartbeat_at = now
                row.max_members = max_members
            reports = list(reports)
            # Every row this heartbeat touches, in one query (one per report held the
            # write lock for seconds with hundreds of members): this worker's, and those
            # of its reports' tasks (a member may have moved here from another worker).
            task_ids = {r.task_id for r in reports}
            rows = {
                (m.task_id, m.slot): m
                for m in s.scalars(
                    select(MemberRow).where(
                        or_(MemberRow.worker_id == worker_id, MemberRow.task_id.in_(task_ids))
                    )
                )
            }
            reported = set()
            for r in reports:
                reported.add((r.task_id, r.slot))
                m = rows.get((r.task_id, r.slot))
                if m is None:
                    m = MemberRow(task_id=r.task_id, slot=r.slot)
                    s.add(m)
                m.worker_id = worker_id
                m.generation = r.generation
                m.state = r.state.value
                m.partitions = [[t, p] for t, p in r.partitions]
                m.progress = [dict(p) for p in r.progress]
                m.error = r.error
                m.warnings = list(r.warnings)
                m.records_total = r.records_total
                m.metrics = dict(r.metrics) if r.metrics is not None else None
                m.updated_at = now
                add_pairs(s, r.task_id, r.offset_pairs)
            # Members this worker ran before and no longer runs are stopped.
            for m in rows.values():
                if m.worker_id == worker_id and (m.task_id, m.slot) not in reported and m.state != _STOPPED:
                    m.state = _STOPPED
                    m.partitions = []
                    m.updated_at = now

    def remove(self, worker_id: str) -> None:
        """A worker that shuts down cleanly leaves at once instead of timing out."""
        with self.session() as s:
            s.execute(delete(WorkerRow).where(WorkerRow.id == worker_id))
            s.execute(
                update(MemberRow)
                .where(MemberRow.worker_id == worker_id)
                .values(state=_STOPPED, partitions=[], updated_at=utcnow())
            )

    def all(self) -> list[WorkerView]:
        """Every worker that has not left or expired, by id."""
        with self.reading() as s:
            return [
                WorkerView(
                    w.id,
                    w.host,
                    w.pid,
                    as_utc(w.started_at),
                    as_utc(w.heartbeat_at),
                    w.max_members,
                )
                for w in s.scalars(select(WorkerRow).order_by(WorkerRow.id))
            ]

    def expire(self, timeout: timedelta) -> list[str]:
        """Delete workers whose heartbeat is older than `timeout`; their members stop."""
        cutoff = utcnow() - timeout
        dead = [w.id for w in self.all() if w.heartbeat_at < cutoff]
        for worker_id in dead:
            self.remove(worker_id)
        return dead

    def slot_map(self) -> dict[str, dict[int, str | None]]:
        """Task id -> slot -> the worker the controller gave it (None: no live worker)."""
        out: dict[str, dict[int, str | None]] = {}
        with self.reading() as s:
            for row in s.scalars(select(SlotRow)):
                out.setdefault(row.task_id, {})[row.slot] = row.worker_id
        return out

    def set_slots(self, task_id: str, assignment: dict[int, str | None]) -> None:
        """Replace a task's slot -> worker assignment."""
        with self.session() as s:
            s.execute(delete(SlotRow).where(SlotRow.task_id == task_id))
            for slot, worker_id in assignment.items():
                s.add(SlotRow(task_id=task_id, slot=slot, worker_id=worker_id))

    def assignments_for(self, worker_id: str) -> list[tuple[TaskView, int]]:
        """The (task, slot) pairs the controller gave to `worker_id`."""
        with self.reading() as s:
            rows = s.execute(
                select(TaskRow, SlotRow.slot)
                .join(SlotRow, SlotRow.task_id == TaskRow.id)
                .where(SlotRow.worker_id == worker_id)
            ).all()
            return [(task_view(task), slot) for task, slot in rows]

    def members(self, task_id: str | None = None, metrics: bool = True) -> list[MemberView]:
        """What workers last reported about each member slot (of one task, or of all).
        `metrics=False` leaves each member's metrics out (None): the largest part of a
        row, which the API's task answers do not show (their task's metrics do)."""
        with self.reading() as s:
            q = select(MemberRow)
            if task_id is not None:
                q = q.where(MemberRow.task_id == task_id)
            if not metrics:
                q = q.options(defer(MemberRow.metrics, raiseload=True))
            return [
                member_view(m, metrics)
                for m in s.scalars(q.order_by(MemberRow.task_id, MemberRow.slot))
            ]
