"""`/api/v1/tasks`: create, inspect and delete sync tasks. Every call only writes desired
state and returns at once; the controller and workers converge to it."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from ksync.api.deps import SettingsDep, StoreDep
from ksync.api.errors import ApiError, invalid
from ksync.api.schemas import Task, TaskEventList, TaskEvent, TaskList
from ksync.replication.provenance import cycle_warnings
from ksync.control import lifecycle
from ksync.spec import StartPoint, TaskSpec
from ksync.store.repo import NotFound, Store, as_utc
from ksync.store.tables import TaskRow

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"])


def task_view(store: Store, row: TaskRow) -> Task:
    return Task.of(row, store.members(row.id))


def _check_spec(store: Store, spec: TaskSpec) -> None:
    """Rules that need the store: known instances, no topic synced onto itself."""
    try:
        src = store.get_instance(spec.source.instance_id)
    except NotFound:
        raise invalid("source.instance_id", f"instance {spec.source.instance_id} does not exist") from None
    try:
        dst = store.get_instance(spec.target.instance_id)
    except NotFound:
        raise invalid("target.instance_id", f"instance {spec.target.instance_id} does not exist") from None
    if src.cluster_id == dst.cluster_id and not spec.target.topic_prefix:
        raise invalid(
            "target.topic_prefix",
            f"source and target are the same Kafka cluster ({src.cluster_id}); with an empty "
            "prefix every topic would be synced onto itself: set a prefix",
        )
    if any(t.name == spec.name and t.desired != "deleted" for t in store.list_tasks()):
        raise ApiError(409, "conflict", f"name: a task named '{spec.name}' already exists")


@router.post("", status_code=202, response_model=Task)
def create_task(spec: TaskSpec, store: StoreDep) -> Task:
    """Create a sync task; it starts as Unassigned and converges to Running."""
    _check_spec(store, spec)
    instances = {i.id: i for i in store.list_instances()}
    row = store.add_task(spec, warnings=[])
    warnings = cycle_warnings(row, store.list_tasks(), instances)
    if warnings:
        row = store.update_task(row.id, warnings=warnings) or row
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
