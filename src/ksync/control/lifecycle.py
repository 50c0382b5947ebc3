"""The task service: create, reconfigure, pause, start, restart, delete a task.

Each operation only records desired state (the controller and workers converge to it)
and is decided on the locked task, so two concurrent calls cannot both win. The native
API and the compatible faces all go through these functions.

Rules (docs/design.md "Lifecycle and statuses"):
* An operation that makes no sense in the current status raises `Conflict` with a
  sentence saying why; repeating an operation that is already under way is harmless.
* Start within the pause retention of `paused_at` resumes from the committed progress.
  Start after it drops the progress and restarts from the given start point, or from
  `latest` when none is given (`retention_expired` is the one place this is decided).
* Start on a Failed task and restart move the task to a new generation: every member
  stops and starts again, and a status observed for the old generation is discarded.
* Some options change what a task is rather than how it runs (`PAUSED_ONLY`): they change
  only while the task is paused (or failed: nothing runs then), so no member is cut off
  in the middle of its work and the change takes effect from one clean start.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from ksync.domain.errors import Conflict, InvalidField, LimitExceeded, NotFound
from ksync.domain.status import Desired, TaskStatus
from ksync.domain.task import KEEP, NO_CHANGE, Keep, TaskChange, TaskView
from ksync.patterns import PatternError
from ksync.replication.policy import ReplicationPolicy
from ksync.replication.provenance import cycle_warnings
from ksync.replication.topic_filter import TopicFilter
from ksync.spec import StartPoint, TargetSpec, TaskOptions, TaskSpec
from ksync.store.repo import Store, utcnow

log = logging.getLogger(__name__)

# How long a paused task keeps its progress (`ksync server --pause-retention`).
DEFAULT_PAUSE_RETENTION = timedelta(hours=24)
# A retention that never expires: a stopped Kafka Connect connector keeps its offsets
# however long it stays stopped (the Connect face's stop, KIP-875).
NEVER_EXPIRES = timedelta.max


def progress_kept_until(paused_at: datetime | None, retention: timedelta) -> datetime | None:
    """Until when a task paused at `paused_at` keeps its progress: a start after it
    begins again from a start point. None: never paused, or a retention that never ends."""
    if paused_at is None:
        return None
    try:
        return paused_at + retention
    except OverflowError:
        return None  # NEVER_EXPIRES


def retention_expired(paused_at: datetime | None, retention: timedelta, now: datetime) -> bool:
    """Whether a task paused at `paused_at` has outlived its pause retention, so that
    starting it drops its progress. A task that was never paused keeps it."""
    until = progress_kept_until(paused_at, retention)
    return until is not None and now > until


# Options that change only while nothing runs (see the module docstring): `mode` decides
# whether members copy records at all.
PAUSED_ONLY = ("mode",)


def _check_paused_only(task: TaskView, options: TaskOptions) -> None:
    """`Conflict` when `options` changes a `PAUSED_ONLY` option of a task that runs."""
    changed = [
        name for name in PAUSED_ONLY if getattr(options, name) != getattr(task.spec.options, name)
    ]
    if not changed or task.desired == Desired.PAUSED or task.status == TaskStatus.FAILED:
        return
    name = changed[0]
    raise Conflict(
        f"options.{name}: task {task.id} is running; {name} can change only while the task "
        f"is paused: pause it first, then change {name} "
        f"({getattr(task.spec.options, name)} -> {getattr(options, name)}) and start it"
    )


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
    _check_naming(spec, same_cluster=src.cluster_id == dst.cluster_id)
    _check_name_free(store, spec.name, task_id)


def _check_name_free(store: Store, name: str, task_id: str | None) -> None:
    """Conflict when another live task (not `task_id`) is named `name`."""
    for other in store.tasks.live_named(name):
        if other != task_id:
            raise Conflict(f"name: a task named '{name}' already exists ({other})")


def check_room(store: Store, max_tasks: int) -> None:
    """`LimitExceeded` when the store already holds `max_tasks` tasks (`ksync server
    --max-tasks`). Tasks being deleted do not count: they are gone once their members stop.

    A face that writes anything before it creates the task (the Connect face registers the
    clusters of a connector config) calls this first, so a refused create writes nothing.
    Concurrent creates on several servers may pass the cap by the number of simultaneous
    calls: the count and the insert are not one transaction."""
    count = store.tasks.count_live()
    if count >= max_tasks:
        raise LimitExceeded(
            f"this server allows at most {max_tasks} tasks and has {count}: delete a task, or "
            "ask the operator to raise --max-tasks (ksync server option)",
            option="--max-tasks",
        )


def _check_naming(spec: TaskSpec, same_cluster: bool) -> None:
    """The target names the policy gives must be allowed (`InvalidField` on
    `target.topic_map`): no merge under keep_partition, and within one cluster no topic
    mapped onto itself or onto a topic the task reads."""
    policy = ReplicationPolicy.of(spec.target)
    if same_cluster:
        onto_itself = sorted(s for s, t in spec.target.topic_map.items() if s == t)
        if onto_itself:
            raise InvalidField(
                "target.topic_map",
                f"source and target are the same Kafka cluster: {', '.join(onto_itself)} "
                "would be synced onto itself; map it to another name",
            )
        read_back = sorted(set(spec.target.topic_map.values()) & set(spec.source.topics))
        if read_back:
            raise InvalidField(
                "target.topic_map",
                f"source and target are the same Kafka cluster: {', '.join(read_back)} would "
                "be both read and written by this task; map to a topic the task does not read",
            )
    selects: Callable[[str], bool]
    try:
        selects = TopicFilter.from_spec(spec.source).should_replicate
    except PatternError:
        selects = spec.source.topics.__contains__  # reported when the selection runs
    problem = policy.merge_problem(spec.source.topics, selects, spec.target.keep_partition)
    if problem is not None:
        raise InvalidField("target.topic_map", problem)


def create(
    store: Store, spec: TaskSpec, external: Mapping[str, Any] | None = None, *, max_tasks: int
) -> TaskView:
    """Create a task (status Unassigned); warns when it closes a sync loop. Refused with
    `LimitExceeded` past `max_tasks` (see `check_room`)."""
    check_room(store, max_tasks)
    check_spec(store, spec)
    task = store.tasks.add(spec, warnings=[], external=external)
    log.info(
        "task %s (%s) created: %s -> %s",
        task.id,
        spec.name,
        spec.source.instance_id,
        spec.target.instance_id,
    )
    instances = {i.id: i for i in store.instances.all()}
    # Only a task between the same two clusters the other way can close a loop with it.
    src, dst = instances[task.source_id].cluster_id, instances[task.target_id].cluster_id
    back = store.tasks.between(
        [i.id for i in instances.values() if i.cluster_id == dst],
        [i.id for i in instances.values() if i.cluster_id == src],
    )
    warnings = cycle_warnings(task, back, instances)
    if warnings:
        task = store.tasks.observe(task.id, TaskChange(warnings=tuple(warnings))) or task
    return task


def reconfigure(
    store: Store, task_id: str, spec: TaskSpec, external: Mapping[str, Any] | None = None
) -> TaskView:
    """Replace a task's spec; its members restart with it (progress is kept)."""
    check_spec(store, spec, task_id)

    def decide(task: TaskView) -> TaskChange:
        _gone(task)
        _check_paused_only(task, spec.options)
        _check_delivery_change(task, spec)
        if task.desired != Desired.RUNNING:
            return TaskChange(
                spec=spec,
                external=KEEP if external is None else external,
                generation=_generation_for(task, spec),
            )
        return TaskChange(
            spec=spec,
            external=KEEP if external is None else external,
            generation=task.generation + 1,
            status=TaskStatus.UNASSIGNED,
            error=None,
            event="configuration changed",
        )

    return store.tasks.change(task_id, decide)


def _check_delivery_change(task: TaskView, spec: TaskSpec) -> None:
    """`options.delivery` changes only while every member is stopped: a member copying at
    least once and one copying exactly once must never hold the task at once, and the
    next start moves the progress over (the larger of the source and target groups'
    commits, `ksync.replication.transactions`). Conflict otherwise."""
    old, new = task.spec.options.delivery, spec.options.delivery
    if old == new:
        return
    if task.desired != Desired.PAUSED:
        raise Conflict(
            f"task {task.id} is running; pause it before changing options.delivery "
            f"from {old} to {new}, then start it again (its progress is kept)"
        )
    if task.status != TaskStatus.PAUSED:
        raise Conflict(
            f"task {task.id} is still stopping its members; change options.delivery "
            "once it is Paused"
        )


def _generation_for(task: TaskView, spec: TaskSpec) -> int | Keep:
    """A new generation when `spec` changes `task_max`: every member's share of the
    partitions changes, so none of the new members may start before every old one has
    stopped, which the controller and workers guarantee across generations only
    (`ksync.domain.workers.in_the_way`)."""
    if spec.options.task_max != task.spec.options.task_max:
        return task.generation + 1
    return KEEP


def _renamed(task: TaskView, policy: ReplicationPolicy) -> str:
    """The event sentence for the topics whose target topic `policy` changes ('' if none)."""
    moves = [
        f"{m.source} now goes to {policy.target_topic(m.source)} (was {m.target})"
        for m in task.topics
        if policy.target_topic(m.source) != m.target
    ]
    if not moves:
        return ""
    return (
        f"target.topic_map changed: {'; '.join(moves)}; records copied before stay on the old "
        "target topic, and each topic goes on from its committed progress"
    )


def _gone(task: TaskView) -> None:
    if task.deleted:
        raise Conflict(f"task {task.id} is being deleted (Terminating): nothing else can be done with it")


def pause(store: Store, task_id: str) -> TaskView:
    """Stop the members after they commit their progress; the status becomes Paused."""

    def decide(task: TaskView) -> TaskChange:
        _gone(task)
        if task.desired == Desired.PAUSED:
            if task.status == TaskStatus.PAUSED:
                raise Conflict(f"task {task.id} is already paused; start it to resume")
            return NO_CHANGE  # a pause is under way
        if task.status == TaskStatus.FAILED:
            raise Conflict(
                f"task {task.id} has failed and runs nothing to pause; start it to try again, "
                "or delete it"
            )
        return TaskChange(desired=Desired.PAUSED, paused_at=utcnow(), event="pause requested")

    return store.tasks.change(task_id, decide)


def start(
    store: Store, task_id: str, start_point: StartPoint | None, pause_retention: timedelta
) -> TaskView:
    """Resume a paused task, or try a failed one again. After `pause_retention` (see
    `retention_expired`) the progress restarts from `start_point`, default latest."""

    def decide(task: TaskView) -> TaskChange:
        _gone(task)
        if task.desired == Desired.RUNNING:
            if task.status == TaskStatus.FAILED:
                return TaskChange(
                    generation=task.generation + 1,
                    status=TaskStatus.UNASSIGNED,
                    error=None,
                    event="started again after failure",
                )
            if task.status == TaskStatus.RUNNING:
                raise Conflict(f"task {task.id} is already running")
            return NO_CHANGE  # a start is under way
        if not retention_expired(task.paused_at, pause_retention, utcnow()):
            reset = task.reset_start
            return TaskChange(
                desired=Desired.RUNNING,
                paused_at=None,
                status=TaskStatus.UNASSIGNED,
                event="start requested"
                + (f" after a progress reset: copying from {_start_words(reset)}" if reset else ""),
            )
        # A reset the user asked for while paused (`reset_progress`) beats the default.
        point = start_point or task.reset_start or StartPoint(type="latest")
        source = task.spec.source.model_copy(update={"start": point})
        return TaskChange(
            desired=Desired.RUNNING,
            paused_at=None,
            status=TaskStatus.UNASSIGNED,
            spec=task.spec.model_copy(update={"source": source}),
            reset_start=point,
            event=(
                f"started after the pause retention ({pause_retention.total_seconds():.0f}s): "
                f"progress reset to {point.type}"
            ),
        )

    return store.tasks.change(task_id, decide)


def reset_progress(store: Store, task_id: str, start_point: StartPoint | None = None) -> TaskView:
    """Forget a paused task's progress: its next start copies from `start_point` (which
    becomes the task's start point), or from the start point it has. Every topic starts
    over, a source topic deleted and created again included (its new topic id is taken).

    Only once every member stopped, so no commit can land after the reset (the controller
    then deletes the consumer group before any member starts).
    """

    def decide(task: TaskView) -> TaskChange:
        _gone(task)
        if task.desired != Desired.PAUSED:
            raise Conflict(f"task {task.id} is not paused; pause it before resetting its progress")
        if task.status != TaskStatus.PAUSED:
            raise Conflict(f"task {task.id} is still stopping its members; try again in a moment")
        point = start_point or task.spec.source.start
        spec: TaskSpec | Keep = KEEP
        if start_point is not None:
            source = task.spec.source.model_copy(update={"start": start_point})
            spec = task.spec.model_copy(update={"source": source})
        return TaskChange(spec=spec, reset_start=point)

    return store.tasks.change(task_id, decide)


def _start_words(point: StartPoint) -> str:
    """A start point in words, for the task's events."""
    if point.type == "timestamp":
        return f"the records at or after timestamp {point.timestamp_ms} ms"
    return f"the {point.type} offsets"


def restart(store: Store, task_id: str) -> TaskView:
    """Stop and start every member (progress is kept)."""

    def decide(task: TaskView) -> TaskChange:
        _gone(task)
        if task.desired == Desired.PAUSED:
            raise Conflict(f"task {task.id} is paused; start it instead of restarting")
        return TaskChange(
            generation=task.generation + 1,
            status=TaskStatus.UNASSIGNED,
            error=None,
            event="restart requested",
        )

    return store.tasks.change(task_id, decide)


def delete(store: Store, task_id: str) -> TaskView:
    """Stop the sync and forget the task once every member stopped (then 404)."""

    def decide(task: TaskView) -> TaskChange:
        if task.deleted:
            return NO_CHANGE
        return TaskChange(
            desired=Desired.DELETED, status=TaskStatus.TERMINATING, event="delete requested"
        )

    return store.tasks.change(task_id, decide)


def update_options(
    store: Store,
    task_id: str,
    options: Mapping[str, Any],
    name: str | None = None,
    external: Mapping[str, Any] | None = None,
    topic_map: Mapping[str, str] | None = None,
) -> TaskView:
    """Change options on a task in place, without a restart: limits apply within a
    heartbeat, sync_topic_configs and sync_topic_acls the next refresh; `mode` only while
    the task is paused (Conflict otherwise, see `PAUSED_ONLY`); a change of client tuning
    (`TaskOptions.tuning`) restarts the task's members, and one of task_max moves the task
    to a new generation (every member restarts with its new share, progress kept).
    `name` renames the task (unique, as on create) and `external` replaces what the faces
    keep about it; neither restarts anything.

    `topic_map` (when given) replaces `target.topic_map`. A topic whose target topic it
    changes goes on from its committed progress into the new target topic once the
    controller has resolved the new names (at once, not at the next periodic refresh):
    the records copied before stay on the old target topic, nothing is copied twice or
    deleted (logged with the topics concerned). The whole history under the new name takes
    a new task, or a progress reset (`reset_progress`) of the whole task.

    Raises pydantic's ValidationError for bad values (the edge turns it into a 422),
    `InvalidField` for a naming the policy forbids (a 422 too) and Conflict for a name
    another task has; nothing is written then."""
    current = store.tasks.get(task_id)
    same_cluster = False
    if topic_map is not None:
        src = store.instances.get(current.spec.source.instance_id)
        dst = store.instances.get(current.spec.target.instance_id)
        same_cluster = src.cluster_id == dst.cluster_id

    def decide(task: TaskView) -> TaskChange:
        _gone(task)
        merged = TaskOptions.model_validate(
            {**task.spec.options.model_dump(mode="json"), **options}
        )
        _check_paused_only(task, merged)
        update: dict[str, Any] = {"options": merged}
        if name is not None and name != task.name:
            update["name"] = TaskSpec.model_validate(
                {**task.spec.model_dump(mode="json"), "name": name}
            ).name
            _check_name_free(store, name, task.id)
        if topic_map is not None:
            update["target"] = TargetSpec.model_validate(
                {**task.spec.target.model_dump(mode="json"), "topic_map": dict(topic_map)}
            )
        spec = task.spec.model_copy(update=update)
        _check_delivery_change(task, spec)
        if topic_map is not None:
            _check_naming(spec, same_cluster)
            renamed = _renamed(task, ReplicationPolicy.of(spec.target))
            if renamed:
                log.info("task %s: %s", task.id, renamed)
        kept: Mapping[str, Any] | Keep = KEEP if external is None else external
        generation = _generation_for(task, spec)
        if generation == KEEP:
            return TaskChange(spec=spec, external=kept)
        return TaskChange(
            spec=spec,
            external=kept,
            generation=generation,
            event=(
                f"task_max {task.spec.options.task_max} -> {merged.task_max}: every member "
                "restarts with its new share of the partitions"
            ),
        )

    return store.tasks.change(task_id, decide)
