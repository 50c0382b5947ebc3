"""`/api/v1/tasks`: create, inspect and delete sync tasks. Every call but the cutover (which
streams its steps while it waits) only writes desired state and returns at once; the
controller and workers converge to it."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ksync.api.deps import HistorySince, HistoryStep, SettingsDep, StoreDep, TaskListingDep
from ksync.api.errors import documented
from ksync.api.schemas import (
    CutoverStep,
    GroupOffset,
    GroupOffsetList,
    Task,
    TaskEvent,
    TaskEventList,
    TaskList,
    TaskMetricHistory,
)
from ksync.control import cutover, group_offsets, lifecycle
from ksync.domain.task import TaskView
from ksync.domain.workers import MemberView
from ksync.monitoring import history
from ksync.replication.member import MemberConfig
from ksync.replication.offset_translation import reread_bound
from ksync.settings import Settings
from ksync.spec import StartPoint, TaskSpec
from ksync.store.repo import Store, utcnow

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"])


def task_view(store: Store, settings: Settings, task: TaskView) -> Task:
    """The API shape of one task, with its members' progress, the quotas in force and
    until when a paused task keeps its progress."""
    return Task.of(
        task, store.workers.members(task.id, metrics=False), _quotas(store), settings.pause_retention
    )


def _quotas(store: Store) -> dict[str, float | None]:
    return {i.id: i.sync_quota_mb_s for i in store.instances.all()}


@router.post("", status_code=202, response_model=Task, responses=documented(409, 422))
def create_task(spec: TaskSpec, store: StoreDep, settings: SettingsDep) -> Task:
    """Create a sync task; it starts as Unassigned and converges to Running. 409 when the
    server holds `--max-tasks` tasks already."""
    return task_view(store, settings, lifecycle.create(store, spec, max_tasks=settings.max_tasks))


@router.get("", response_model=TaskList)
def list_tasks(listing: TaskListingDep) -> Response:
    """Every task with its status, topics and progress. A change made through this
    server shows at once; throughput, lag and other servers' changes may be up to 3 s old
    (`ksync.api.task_listing`)."""
    return Response(listing.get(), media_type="application/json")


def render_task_list(store: Store, settings: Settings) -> bytes:
    """The JSON of `GET /api/v1/tasks`, from the store as it is now."""
    by_task: dict[str, list[MemberView]] = defaultdict(list)
    for m in store.workers.members(metrics=False):
        by_task[m.task_id].append(m)
    quotas = _quotas(store)
    retention = settings.pause_retention
    tasks = TaskList(tasks=[Task.of(t, by_task[t.id], quotas, retention) for t in store.tasks.all()])
    # The answer is built from validated models: FastAPI's own pass over a returned model
    # (dump, validate again, with every topic-name rule of every spec, then dump) was
    # most of this call's time with hundreds of tasks.
    return tasks.model_dump_json().encode()


class TargetPatch(BaseModel):
    """What of a task's target can change in place: the names of its target topics."""

    model_config = ConfigDict(extra="forbid")

    topic_map: dict[str, str]


class TaskPatch(BaseModel):
    """Options to change on a running task (any subset of TaskOptions), and its
    `target.topic_map` (replaced as a whole)."""

    model_config = ConfigDict(extra="forbid")

    options: dict[str, Any] = Field(default_factory=dict)
    target: TargetPatch | None = None


@router.patch("/{task_id}", response_model=Task, responses=documented(404, 409, 422))
def update_task(task_id: str, patch: TaskPatch, store: StoreDep, settings: SettingsDep) -> Task:
    """Change options in place: throttle_mb_s, qps_limit, task_max, sync_topic_configs, and
    the client tuning (compression, linger_ms, batch_bytes, fetch_max_bytes), with which the
    members restart from their committed progress. `target.topic_map` renames target
    topics: a topic whose target changes goes on into the new one from its committed
    progress (what was copied stays on the old one). Bad values: 422, nothing changed."""
    topic_map = patch.target.topic_map if patch.target is not None else None
    try:
        row = lifecycle.update_options(store, task_id, patch.options, topic_map=topic_map)
    except ValidationError as exc:
        # Errors of the target's names are the TargetSpec's, the others the options'.
        raise RequestValidationError(
            [
                {**e, "loc": ("body", *_patch_loc(e["loc"]))}
                for e in exc.errors()
            ]
        ) from None
    return task_view(store, settings, row)


def _patch_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    return ("target", *loc) if loc and loc[0] == "topic_map" else ("options", *loc)


@router.get("/{task_id}/metrics", response_model=TaskMetricHistory, responses=documented(404, 422))
def task_metrics(
    task_id: str,
    store: StoreDep,
    since: HistorySince = 3600,
    step: HistoryStep = 60,
    by: Annotated[Literal["topic", "partition"], Query()] = "topic",
) -> TaskMetricHistory:
    """Throughput, lag and latency over the last `since` seconds (at most 24 h), one point
    per `step`, for the whole task and per topic (or per partition with by=partition).
    Bytes per topic or partition are apportioned by records (an estimate)."""
    store.tasks.get(task_id)
    start = utcnow() - timedelta(seconds=since)
    total, per = history.series(store.metrics.points(task_id, start), start, step, by == "partition")
    return TaskMetricHistory.model_validate(
        {"task_id": task_id, "since": start, "step": step, "by": by, "total": total, "series": per}
    )


@router.get("/{task_id}", response_model=Task, responses=documented(404))
def get_task(task_id: str, store: StoreDep, settings: SettingsDep) -> Task:
    """One task, or 404 (also once a deleted task's members have all stopped)."""
    return task_view(store, settings, store.tasks.get(task_id))


@router.get("/{task_id}/events", response_model=TaskEventList, responses=documented(404))
def task_events(task_id: str, store: StoreDep) -> TaskEventList:
    """The task's status changes, newest first."""
    store.tasks.get(task_id)
    return TaskEventList(events=[TaskEvent.of(e) for e in store.tasks.events(task_id)])


@router.delete("/{task_id}", status_code=202, response_model=Task, responses=documented(404))
def delete_task(task_id: str, store: StoreDep, settings: SettingsDep) -> Task:
    """Stop the sync and forget the task: copied data, topics and instances stay."""
    return task_view(store, settings, lifecycle.delete(store, task_id))


@router.post(
    "/{task_id}/pause", status_code=202, response_model=Task, responses=documented(404, 409)
)
def pause_task(task_id: str, store: StoreDep, settings: SettingsDep) -> Task:
    """Members commit their progress and stop; the status becomes Paused."""
    return task_view(store, settings, lifecycle.pause(store, task_id))


class StartRequest(BaseModel):
    """The body of a start or a progress reset: where copying begins (when it applies)."""

    model_config = ConfigDict(extra="forbid")

    start: StartPoint | None = None


@router.post(
    "/{task_id}/start", status_code=202, response_model=Task, responses=documented(404, 409, 422)
)
def start_task(
    task_id: str, store: StoreDep, settings: SettingsDep, body: StartRequest | None = None
) -> Task:
    """Resume a paused task (or retry a failed one). After the pause retention, progress
    restarts from `start` (default: latest)."""
    point = body.start if body is not None else None
    return task_view(store, settings, lifecycle.start(store, task_id, point, settings.pause_retention))


@router.post(
    "/{task_id}/reset", status_code=202, response_model=Task, responses=documented(404, 409, 422)
)
def reset_task(
    task_id: str, store: StoreDep, settings: SettingsDep, body: StartRequest | None = None
) -> Task:
    """Forget a paused task's progress (409 unless Paused): its next start copies every
    topic from `start` (earliest, latest or a timestamp; default: the task's start point),
    which becomes the task's start point. A source topic deleted and created again is then
    copied as the new topic it is. `reset_start` shows the reset until the start does it."""
    point = body.start if body is not None else None
    return task_view(store, settings, lifecycle.reset_progress(store, task_id, point))


@router.post(
    "/{task_id}/restart", status_code=202, response_model=Task, responses=documented(404, 409)
)
def restart_task(task_id: str, store: StoreDep, settings: SettingsDep) -> Task:
    """Stop and start every member; progress is kept."""
    return task_view(store, settings, lifecycle.restart(store, task_id))


@router.get("/{task_id}/group-offsets", response_model=GroupOffsetList, responses=documented(404))
def task_group_offsets(task_id: str, store: StoreDep) -> GroupOffsetList:
    """Consumer-group offset sync: per selected group and partition, the committed source
    offset, its translation on the target, when it was last synced and why not."""
    opts = store.tasks.get(task_id).spec.options.sync_group_offsets
    return GroupOffsetList(
        enabled=opts.enabled,
        interval_s=opts.interval_s,
        reread_bound=reread_bound(MemberConfig.batch_size),
        offsets=[GroupOffset.of(v) for v in group_offsets.group_offsets(store, task_id)],
    )


class GroupResetRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    group: str = Field(min_length=1, max_length=255)


@router.post(
    "/{task_id}/group-offsets/reset",
    status_code=202,
    response_model=GroupOffsetList,
    responses=documented(404, 409, 422),
)
def reset_group_offsets(task_id: str, body: GroupResetRequest, store: StoreDep) -> GroupOffsetList:
    """Write `group`'s translated offsets at the next sync even where that lowers the
    target group's (offsets otherwise only move forward); still only while the group has
    no active member on the target."""
    group_offsets.reset_group(store, task_id, body.group)
    return task_group_offsets(task_id, store)


class CutoverRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    group: str = Field(min_length=1, max_length=255, description="The consumer group to move.")
    dry_run: bool = Field(default=False, description="Only run the checks; write nothing.")
    timeout_s: float = Field(
        default=300.0, ge=1.0, le=3600.0, description="How long to wait for the source to drain."
    )


class NdjsonStream(StreamingResponse):
    """Newline-delimited JSON, one object a line, sent as each is ready."""

    media_type = "application/x-ndjson"


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """A model's JSON schema with its `$defs` put in place: an OpenAPI document has no
    `$defs` at its root for the `#/$defs/…` references to point at."""
    defs = schema.pop("$defs", {})

    def put(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return put(dict(defs[ref.removeprefix("#/$defs/")]))
            return {k: put(v) for k, v in node.items()}
        if isinstance(node, list):
            return [put(v) for v in node]
        return node

    return dict(put(schema))


def _json_error(status: int) -> dict[str, Any]:
    """An error answer of a route whose success is not JSON: the error still is."""
    return {
        "description": documented(status)[status]["description"],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }


@router.post(
    "/{task_id}/cutover",
    response_class=NdjsonStream,
    responses={
        200: {
            "description": "Newline-delimited JSON: one CutoverStep per line, as each happens; "
            "the last is the result.",
            "content": {"application/x-ndjson": {"itemSchema": _inlined(CutoverStep.model_json_schema())}},
        },
        404: _json_error(404),
        422: _json_error(422),
    },
)
def cutover_group(task_id: str, body: CutoverRequest, store: StoreDep) -> NdjsonStream:
    """Move consumer group `group` to the task's target: check, say which producers to
    stop, wait until the source stands still and its last records and the group's offsets
    are on the target, then say what to point the consumers at. The answer streams each
    step as it happens (a bounded wait: `timeout_s`); a dry run only checks and writes
    nothing. A refusal is the last step's sentence, not an HTTP error, so the checks
    before it are seen too."""
    run = cutover.prepare(store, task_id, body.group, dry_run=body.dry_run, timeout_s=body.timeout_s)
    lines = (CutoverStep.of(e).model_dump_json() + "\n" for e in run.events())
    return NdjsonStream(lines)
