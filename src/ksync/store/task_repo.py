"""Tasks and their status events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, select

from ksync.domain.errors import NotFound
from ksync.spec import STORED, StartPoint, TaskSpec
from ksync.store.base import Repository, new_id, utcnow
from ksync.store.tables import MemberRow, SlotRow, TaskEventRow, TaskRow


class TaskRepo(Repository):
    """Create, read, change and forget tasks; every status change is logged as an event."""

    def add(
        self, spec: TaskSpec, warnings: list[str], external: dict[str, Any] | None = None
    ) -> TaskRow:
        now = utcnow()
        row = TaskRow(
            id=new_id("task"),
            name=spec.name,
            spec=spec.model_dump(mode="json"),
            desired="running",
            status="Unassigned",
            error=None,
            warnings=list(warnings),
            topics=[],
            generation=1,
            paused_at=None,
            external=external,
            created_at=now,
            updated_at=now,
        )
        with self.session() as s:
            s.add(row)
            s.add(TaskEventRow(task_id=row.id, at=now, status="Unassigned", message="task created"))
        return row

    def get(self, task_id: str) -> TaskRow:
        with self.session() as s:
            row = s.get(TaskRow, task_id)
        if row is None:
            raise NotFound(f"task {task_id} does not exist")
        return row

    def all(self) -> list[TaskRow]:
        with self.session() as s:
            return list(s.scalars(select(TaskRow).order_by(TaskRow.created_at)))

    def change(self, task_id: str, decide: Callable[[TaskRow], dict[str, Any]]) -> TaskRow:
        """Apply a user operation atomically: `decide` sees the locked row and returns the
        changes (or raises Conflict); a status change is logged as an event."""
        with self.session() as s:
            row = s.get(TaskRow, task_id, with_for_update=True)
            if row is None:
                raise NotFound(f"task {task_id} does not exist")
            changes = decide(row)
            if "status" in changes and changes["status"] != row.status:
                s.add(
                    TaskEventRow(
                        task_id=task_id,
                        at=utcnow(),
                        status=changes["status"],
                        message=changes.pop("event", f"{row.status} -> {changes['status']}"),
                    )
                )
            changes.pop("event", None)
            for key, value in changes.items():
                setattr(row, key, value)
            row.updated_at = utcnow()
        return row

    def observe(
        self, task_id: str, expect_generation: int | None = None, **changes: Any
    ) -> TaskRow | None:
        """Write observed fields (status, error, warnings, topics); logs status changes.

        With `expect_generation`, nothing is written if the task moved to another
        generation meanwhile (a user's start or restart wins over a stale observation).
        """
        with self.session() as s:
            row = s.get(TaskRow, task_id, with_for_update=True)
            if row is None:
                return None
            if expect_generation is not None and row.generation != expect_generation:
                return row
            new_status = changes.get("status")
            if new_status is not None and new_status != row.status:
                message = changes.get("error") or f"{row.status} -> {new_status}"
                s.add(TaskEventRow(task_id=task_id, at=utcnow(), status=new_status, message=message))
            dirty = False
            for key, value in changes.items():
                if getattr(row, key) != value:
                    setattr(row, key, value)
                    dirty = True
            if dirty:
                row.updated_at = utcnow()
        return row

    def remove(self, task_id: str) -> None:
        """Forget a task entirely (after its members stopped)."""
        with self.session() as s:
            s.execute(delete(TaskRow).where(TaskRow.id == task_id))
            s.execute(delete(SlotRow).where(SlotRow.task_id == task_id))
            s.execute(delete(MemberRow).where(MemberRow.task_id == task_id))
            s.execute(delete(TaskEventRow).where(TaskEventRow.task_id == task_id))

    def events(self, task_id: str, limit: int = 200) -> list[TaskEventRow]:
        with self.session() as s:
            return list(
                s.scalars(
                    select(TaskEventRow)
                    .where(TaskEventRow.task_id == task_id)
                    .order_by(TaskEventRow.id.desc())
                    .limit(limit)
                )
            )


def task_spec(row: TaskRow) -> TaskSpec:
    return TaskSpec.model_validate(row.spec, context=STORED)


def start_point(row: TaskRow) -> StartPoint:
    return task_spec(row).source.start
