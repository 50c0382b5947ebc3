"""User operations on a task: pause, start, restart, delete.

Each operation only records desired state (the controller and workers converge to it)
and is decided on the locked task row, so two concurrent calls cannot both win. The
native API and the compatible faces all go through these functions.

Rules (DESIGN.md "Lifecycle"):
* An operation that makes no sense in the current status raises `Conflict` with a
  sentence saying why; repeating an operation that is already under way is harmless.
* Start within `pause_retention` of `paused_at` resumes from the committed progress.
  Start after it drops the progress and restarts from the given start point, or from
  `latest` when none is given.
* Start on a Failed task and restart move the task to a new generation: every member
  stops and starts again, and a status observed for the old generation is discarded.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from ksync.domain.errors import Conflict, InvalidField, NotFound
from ksync.replication.provenance import cycle_warnings
from ksync.spec import StartPoint, TaskOptions, TaskSpec
from ksync.store.repo import Store, as_utc, utcnow
from ksync.store.tables import TaskRow

log = logging.getLogger(__name__)


def check_spec(store: Store, spec: TaskSpec, task_id: str | None = None) -> None:
    """Rules that need the store: known instances, no topic synced onto itself (both
    `InvalidField`), a unique name (`Conflict`). `task_id` is the task being reconfigured
    (its own name is fine)."""
    try:
        src = store.instances.get(spec.source.instance_id)
    except NotFound:
        raise InvalidField("source.instance_id", f"instance {spec.source.instance_id} does not exist") from None
    try:
        dst = store.instances.get(spec.target.instance_id)
    except NotFound:
        raise InvalidField("target.instance_id", f"instance {spec.target.instance_id} does not exist") from None
    if src.cluster_id == dst.cluster_id and not spec.target.topic_prefix:
        raise InvalidField(
            "target.topic_prefix",
            f"source and target are the same Kafka cluster ({src.cluster_id}); with an empty "
            "prefix every topic would be synced onto itself: set a prefix",
        )
    for t in store.tasks.all():
        if t.name == spec.name and t.id != task_id and t.desired != "deleted":
            raise Conflict(f"name: a task named '{spec.name}' already exists ({t.id})")


def create(store: Store, spec: TaskSpec, external: dict[str, Any] | None = None) -> TaskRow:
    """Create a task (status Unassigned); warns when it closes a sync loop."""
    check_spec(store, spec)
    row = store.tasks.add(spec, warnings=[], external=external)
    log.info(
        "task %s (%s) created: %s -> %s",
        row.id,
        spec.name,
        spec.source.instance_id,
        spec.target.instance_id,
    )
    instances = {i.id: i for i in store.instances.all()}
    warnings = cycle_warnings(row, store.tasks.all(), instances)
    if warnings:
        row = store.tasks.observe(row.id, warnings=warnings) or row
    return row


def reconfigure(
    store: Store, task_id: str, spec: TaskSpec, external: dict[str, Any] | None = None
) -> TaskRow:
    """Replace a task's spec; its members restart with it (progress is kept)."""
    check_spec(store, spec, task_id)

    def decide(row: TaskRow) -> dict[str, Any]:
        _gone(row)
        changes: dict[str, Any] = {"spec": spec.model_dump(mode="json"), "name": spec.name}
        if external is not None:
            changes["external"] = external
        if row.desired == "running":
            changes.update(generation=row.generation + 1, status="Unassigned", error=None)
            changes["event"] = "configuration changed"
        return changes

    return store.tasks.change(task_id, decide)


def _gone(row: TaskRow) -> None:
    if row.desired == "deleted":
        raise Conflict(f"task {row.id} is being deleted (Terminating): nothing else can be done with it")


def pause(store: Store, task_id: str) -> TaskRow:
    """Stop the members after they commit their progress; the status becomes Paused."""

    def decide(row: TaskRow) -> dict[str, Any]:
        _gone(row)
        if row.desired == "paused":
            if row.status == "Paused":
                raise Conflict(f"task {row.id} is already paused; start it to resume")
            return {}  # a pause is under way
        if row.status == "Failed":
            raise Conflict(
                f"task {row.id} has failed and runs nothing to pause; start it to try again, "
                "or delete it"
            )
        return {"desired": "paused", "paused_at": utcnow(), "event": "pause requested"}

    return store.tasks.change(task_id, decide)


def start(
    store: Store, task_id: str, start_point: StartPoint | None, pause_retention: timedelta
) -> TaskRow:
    """Resume a paused task, or try a failed one again."""

    def decide(row: TaskRow) -> dict[str, Any]:
        _gone(row)
        if row.desired == "running":
            if row.status == "Failed":
                return {
                    "generation": row.generation + 1,
                    "status": "Unassigned",
                    "error": None,
                    "event": "started again after failure",
                }
            if row.status == "Running":
                raise Conflict(f"task {row.id} is already running")
            return {}  # a start is under way
        changes: dict[str, Any] = {
            "desired": "running",
            "paused_at": None,
            "status": "Unassigned",
            "event": "start requested",
        }
        if row.paused_at is not None and utcnow() - as_utc(row.paused_at) > pause_retention:
            point = start_point or StartPoint(type="latest")
            spec = dict(row.spec)
            spec["source"] = {**spec["source"], "start": point.model_dump(mode="json")}
            changes["spec"] = spec
            changes["reset_start"] = point.model_dump(mode="json")
            changes["event"] = (
                f"started after the pause retention ({pause_retention.total_seconds():.0f}s): "
                f"progress reset to {point.type}"
            )
        return changes

    return store.tasks.change(task_id, decide)


def reset_progress(store: Store, task_id: str) -> TaskRow:
    """Forget a paused task's progress: its next start copies from its start point.

    Only once every member stopped, so no commit can land after the reset (the controller
    then deletes the consumer group before any member starts).
    """

    def decide(row: TaskRow) -> dict[str, Any]:
        _gone(row)
        if row.desired != "paused":
            raise Conflict(f"task {row.id} is not paused; pause it before resetting its progress")
        if row.status != "Paused":
            raise Conflict(f"task {row.id} is still stopping its members; try again in a moment")
        return {"reset_start": row.spec["source"]["start"]}

    return store.tasks.change(task_id, decide)


def restart(store: Store, task_id: str) -> TaskRow:
    """Stop and start every member (progress is kept)."""

    def decide(row: TaskRow) -> dict[str, Any]:
        _gone(row)
        if row.desired == "paused":
            raise Conflict(f"task {row.id} is paused; start it instead of restarting")
        return {
            "generation": row.generation + 1,
            "status": "Unassigned",
            "error": None,
            "event": "restart requested",
        }

    return store.tasks.change(task_id, decide)


def delete(store: Store, task_id: str) -> TaskRow:
    """Stop the sync and forget the task once every member stopped (then 404)."""

    def decide(row: TaskRow) -> dict[str, Any]:
        if row.desired == "deleted":
            return {}
        return {"desired": "deleted", "status": "Terminating", "event": "delete requested"}

    return store.tasks.change(task_id, decide)


def update_options(store: Store, task_id: str, options: dict[str, Any]) -> TaskRow:
    """Change options on a task in place, without a restart: limits apply within a
    heartbeat, task_max changes the member slots, sync_topic_configs the next refresh.

    Raises pydantic's ValidationError for bad values (the edge turns it into a 422)."""

    def decide(row: TaskRow) -> dict[str, Any]:
        _gone(row)
        merged = TaskOptions.model_validate({**row.spec["options"], **options})
        spec = dict(row.spec)
        spec["options"] = merged.model_dump(mode="json")
        return {"spec": spec}

    return store.tasks.change(task_id, decide)
