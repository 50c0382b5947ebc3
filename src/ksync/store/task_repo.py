"""Tasks and their status events.

Rows stay here: readers get a `TaskView` (the spec validated once, statuses as enums,
topic mappings as values), writers hand in a `TaskChange`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ksync.domain.errors import NotFound
from ksync.domain.status import Desired, TaskStatus
from ksync.domain.task import KEEP, TaskChange, TaskEvent, TaskView
from ksync.domain.topics import TopicMapping
from ksync.spec import STORED, StartPoint, TaskSpec
from ksync.store.base import Repository, as_utc, new_id, utcnow
from ksync.store.offset_repo import forget_task
from ksync.store.tables import MemberRow, SlotRow, TaskEventRow, TaskRow

# Task id -> (the stored spec as read, its TaskSpec). Validating a spec costs about
# 0.2 ms, and every tick, heartbeat and task listing reads every task: with 500 tasks
# that was a tenth of a second each time. A spec is frozen, so one read of the same
# stored document is shared; a changed document is validated again.
_specs: dict[str, tuple[dict[str, Any], TaskSpec]] = {}


def _spec_of(row: TaskRow) -> TaskSpec:
    cached = _specs.get(row.id)
    if cached is not None and cached[0] == row.spec:
        return cached[1]
    spec = TaskSpec.model_validate(row.spec, context=STORED)
    _specs[row.id] = (row.spec, spec)
    return spec


def task_view(row: TaskRow) -> TaskView:
    """The view of a row. A stored spec is read with the STORED context: it was checked
    when it was saved, and a rule added since must not make the task unreadable."""
    return TaskView(
        id=row.id,
        name=row.name,
        spec=_spec_of(row),
        desired=Desired(row.desired),
        status=TaskStatus(row.status),
        generation=row.generation,
        topics=tuple(TopicMapping.from_json(t) for t in row.topics),
        error=row.error,
        warnings=tuple(row.warnings),
        paused_at=as_utc(row.paused_at) if row.paused_at is not None else None,
        reset_start=StartPoint.model_validate(row.reset_start) if row.reset_start else None,
        topics_resolved_at=(
            as_utc(row.topics_resolved_at) if row.topics_resolved_at is not None else None
        ),
        metrics=row.metrics,
        external=row.external,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


def _columns(change: TaskChange) -> dict[str, Any]:
    """The column values a change writes (fields left at KEEP are not among them)."""
    out: dict[str, Any] = {}
    if change.desired is not KEEP:
        out["desired"] = change.desired.value
    if change.status is not KEEP:
        out["status"] = change.status.value
    if change.generation is not KEEP:
        out["generation"] = change.generation
    if change.error is not KEEP:
        out["error"] = change.error
    if change.warnings is not KEEP:
        out["warnings"] = list(change.warnings)
    if change.topics is not KEEP:
        out["topics"] = [t.as_json() for t in change.topics]
    if change.topics_resolved_at is not KEEP:
        out["topics_resolved_at"] = change.topics_resolved_at
    if change.paused_at is not KEEP:
        out["paused_at"] = change.paused_at
    if change.reset_start is not KEEP:
        start = change.reset_start
        out["reset_start"] = start.model_dump(mode="json") if start is not None else None
    if change.spec is not KEEP:
        out["spec"] = change.spec.model_dump(mode="json")
        out["name"] = change.spec.name
    if change.external is not KEEP:
        out["external"] = dict(change.external) if change.external is not None else None
    return out


class TaskRepo(Repository):
    """Create, read, change and forget tasks; every status change is logged as an event."""

    def add(
        self, spec: TaskSpec, warnings: list[str], external: Mapping[str, Any] | None = None
    ) -> TaskView:
        """A new task: desired running, Unassigned until its members own every partition."""
        now = utcnow()
        row = TaskRow(
            id=new_id("task"),
            name=spec.name,
            spec=spec.model_dump(mode="json"),
            desired=Desired.RUNNING.value,
            status=TaskStatus.UNASSIGNED.value,
            error=None,
            warnings=list(warnings),
            topics=[],
            generation=1,
            paused_at=None,
            external=dict(external) if external is not None else None,
            created_at=now,
            updated_at=now,
        )
        with self.session() as s:
            s.add(row)
            s.add(
                TaskEventRow(
                    task_id=row.id, at=now, status=row.status, message="task created"
                )
            )
        return task_view(row)

    def get(self, task_id: str) -> TaskView:
        """One task, or NotFound."""
        with self.reading() as s:
            row = s.get(TaskRow, task_id)
            if row is None:
                raise NotFound(f"task {task_id} does not exist")
            return task_view(row)

    def all(self) -> list[TaskView]:
        """Every task (those being deleted too), oldest first."""
        with self.reading() as s:
            return [task_view(r) for r in s.scalars(select(TaskRow).order_by(TaskRow.created_at))]

    def between(self, source_ids: Iterable[str], target_ids: Iterable[str]) -> list[TaskView]:
        """The tasks (those being deleted too) reading one of `source_ids` and writing one
        of `target_ids`, oldest first: found in SQL, not by reading every task."""
        sources, targets = list(source_ids), list(target_ids)
        if not sources or not targets:
            return []
        with self.reading() as s:
            return [
                task_view(r)
                for r in s.scalars(
                    select(TaskRow)
                    .where(
                        TaskRow.spec["source"]["instance_id"].as_string().in_(sources),
                        TaskRow.spec["target"]["instance_id"].as_string().in_(targets),
                    )
                    .order_by(TaskRow.created_at)
                )
            ]

    def count_live(self) -> int:
        """How many tasks there are, those being deleted left out."""
        with self.reading() as s:
            return s.scalar(
                select(func.count()).select_from(TaskRow).where(TaskRow.desired != Desired.DELETED.value)
            ) or 0

    def live_named(self, name: str) -> list[str]:
        """The ids of the tasks named `name` that are not being deleted."""
        with self.reading() as s:
            return list(
                s.scalars(
                    select(TaskRow.id)
                    .where(TaskRow.name == name, TaskRow.desired != Desired.DELETED.value)
                    .order_by(TaskRow.created_at)
                )
            )

    def change(self, task_id: str, decide: Callable[[TaskView], TaskChange]) -> TaskView:
        """Apply a user operation atomically: `decide` sees the task as locked and returns
        the change (or raises Conflict); a status change is logged with `change.event`."""
        with self.session() as s:
            row = _locked(s, task_id)
            if row is None:
                raise NotFound(f"task {task_id} does not exist")
            change = decide(task_view(row))
            columns = _columns(change)
            new_status = columns.get("status")
            if new_status is not None and new_status != row.status:
                message = change.event or f"{row.status} -> {new_status}"
                s.add(TaskEventRow(task_id=task_id, at=utcnow(), status=new_status, message=message))
            for key, value in columns.items():
                setattr(row, key, value)
            row.updated_at = utcnow()
            return task_view(row)

    def observe(
        self, task_id: str, change: TaskChange, expect_generation: int | None = None
    ) -> TaskView | None:
        """Write what the controller observed (status, error, warnings, topics); a status
        change is logged with the error, if any, as its message. None if the task is gone.

        With `expect_generation`, nothing is written if the task moved to another
        generation meanwhile (a user's start or restart wins over a stale observation).
        """
        with self.session() as s:
            row = _locked(s, task_id)
            if row is None:
                return None
            if expect_generation is not None and row.generation != expect_generation:
                return task_view(row)
            columns = _columns(change)
            new_status = columns.get("status")
            if new_status is not None and new_status != row.status:
                message = columns.get("error") or f"{row.status} -> {new_status}"
                s.add(TaskEventRow(task_id=task_id, at=utcnow(), status=new_status, message=message))
            dirty = False
            for key, value in columns.items():
                if getattr(row, key) != value:
                    setattr(row, key, value)
                    dirty = True
            if dirty:
                row.updated_at = utcnow()
            return task_view(row)

    def remove(self, task_id: str) -> None:
        """Forget a task entirely (after its members stopped)."""
        _specs.pop(task_id, None)
        with self.session() as s:
            s.execute(delete(TaskRow).where(TaskRow.id == task_id))
            s.execute(delete(SlotRow).where(SlotRow.task_id == task_id))
            s.execute(delete(MemberRow).where(MemberRow.task_id == task_id))
            s.execute(delete(TaskEventRow).where(TaskEventRow.task_id == task_id))
            forget_task(s, task_id)

    def events(self, task_id: str, limit: int = 200) -> list[TaskEvent]:
        """The task's status changes, newest first."""
        with self.reading() as s:
            return [
                TaskEvent(at=as_utc(e.at), status=TaskStatus(e.status), message=e.message)
                for e in s.scalars(
                    select(TaskEventRow)
                    .where(TaskEventRow.task_id == task_id)
                    .order_by(TaskEventRow.id.desc())
                    .limit(limit)
                )
            ]


def _locked(s: Session, task_id: str) -> TaskRow | None:
    return s.get(TaskRow, task_id, with_for_update=True)
