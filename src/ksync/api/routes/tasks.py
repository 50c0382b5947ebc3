"""`/api/v1/tasks`: create, inspect and delete sync tasks. Every call only writes desired
state and returns at once; the controller and workers converge to it."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from ksync.api.deps import SettingsDep, StoreDep
from ksync.api.errors import invalid
from ksync.api.schemas import Task, TaskEventList, TaskEvent, TaskList
from ksync.control import lifecycle
from ksync.spec import StartPoint, TaskSpec
from ksync.store.repo import Store, as_utc
from ksync.store.tables import TaskRow

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"])


def task_view(store: Store, row: TaskRow) -> Task:
    return Task.of(row, store.members(row.id))


@router.post("", status_code=202, response_model=Task)
def create_task(spec: TaskSpec, store: StoreDep) -> Task:
    """Create a sync task; it starts as Unassigned and converges to Running."""
    try:
        row = lifecycle.create(store, spec)
    except lifecycle.SpecError as exc:
        raise invalid(exc.field, exc.message) from None
    return task_view(store, row)


@router.get("", response_model=TaskList)
def list_tasks(store: StoreDep) -> TaskList:
    """Every task with its status, topics and progress."""
    members = store.members()
    return TaskList(
        tasks=[Task.of(t, [m for m in members if m.task_id == t.id]) for t in store.list_tasks()]
    )


@router.get("/{task_id}", response_model=Task)
def get_task(task_id: str, store: StoreDep) -> Task:
    """One task, or 404 (also once a deleted task's members have all stopped)."""
    return task_view(store, store.get_task(task_id))


@router.get("/{task_id}/events", response_model=TaskEventList)
def task_events(task_id: str, store: StoreDep) -> TaskEventList:
    """The task's status changes, newest first."""
    store.get_task(task_id)
    return TaskEventList(
        events=[
            TaskEvent(at=as_utc(e.at), status=e.status, message=e.message)
            for e in store.task_events(task_id)
        ]
    )


@router.delete("/{task_id}", status_code=202, response_model=Task)
def delete_task(task_id: str, store: StoreDep) -> Task:
    """Stop the sync and forget the task: copied data, topics and instances stay."""
    return task_view(store, lifecycle.delete(store, task_id))


@router.post("/{task_id}/pause", status_code=202, response_model=Task)
def pause_task(task_id: str, store: StoreDep) -> Task:
    """Members commit their progress and stop; the status becomes Paused."""
    return task_view(store, lifecycle.pause(store, task_id))


class StartRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: StartPoint | None = None


@router.post("/{task_id}/start", status_code=202, response_model=Task)
def start_task(
    task_id: str, store: StoreDep, settings: SettingsDep, body: StartRequest | None = None
) -> Task:
    """Resume a paused task (or retry a failed one). After the pause retention, progress
    restarts from `start` (default: latest)."""
    retention = timedelta(seconds=settings.pause_retention_s)
    point = body.start if body is not None else None
    return task_view(store, lifecycle.start(store, task_id, point, retention))


@router.post("/{task_id}/restart", status_code=202, response_model=Task)
def restart_task(task_id: str, store: StoreDep) -> Task:
    """Stop and start every member; progress is kept."""
    return task_view(store, lifecycle.restart(store, task_id))
