"""API response shapes (separate from the tables and from the input specs)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from ksync.control.cutover import CutoverEvent
from ksync.control.instances import Direction, Traffic, TrafficPoint
from ksync.control.lifecycle import progress_kept_until
from ksync.domain.group_offsets import GroupOffsetView
from ksync.domain.instance import InstanceView
from ksync.domain.status import MemberState, TaskStatus
from ksync.domain.task import TaskEvent as TaskEventView
from ksync.domain.task import TaskView
from ksync.domain.topics import BlockedBy, TopicState
from ksync.domain.workers import MemberView, WorkerView
from ksync.monitoring.progress import lost_warnings, partition_progress
from ksync.spec import (
    SaslMechanism,
    SecurityProtocol,
    SourceSpec,
    StartPoint,
    TargetSpec,
    TaskOptions,
)


class PublicSecurity(BaseModel):
    protocol: SecurityProtocol
    sasl_mechanism: SaslMechanism | None = None
    username: str | None = None


class Instance(BaseModel):
    id: str
    name: str
    bootstrap_servers: str
    region: str | None
    zone: str | None
    security: PublicSecurity
    sync_quota_mb_s: float | None = None
    cluster_id: str
    broker_count: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: InstanceView) -> Instance:
        """The API shape of an instance (its view holds no secrets to leave out)."""
        return cls.model_validate(view, from_attributes=True)


class InstanceList(BaseModel):
    instances: list[Instance]


class Topic(BaseModel):
    name: str
    partitions: int
    replication_factor: int


class TopicList(BaseModel):
    topics: list[Topic]


class TopicMapping(BaseModel):
    source: str
    target: str
    partitions: int
    # syncing | blocked | excluded; `error` says why a blocked topic is not copied.
    state: TopicState = "syncing"
    error: str | None = None
    # What ksync could not apply to it while it keeps syncing (a config the target refuses,
    # partitions it cannot add, a new target name it refuses), then records of its
    # partitions that the source deleted before they were copied, one sentence per
    # partition (naming it and the count), as the members that saw it report.
    warnings: list[str] = []
    # Who blocked it: "topic" (the target topic cannot take it) or "record" (the target
    # refuses one of its records); None while it is not blocked.
    blocked_by: BlockedBy | None = None


class PartitionProgress(BaseModel):
    topic: str
    partition: int
    committed_offset: int | None
    end_offset: int | None
    lag: int | None
    # Records the source deleted (retention) before they were copied, as reported by the
    # member holding the partition (since it started); the last gap's offsets
    # lost_first to lost_earliest - 1.
    lost_records: int | None = None
    lost_first: int | None = None
    lost_earliest: int | None = None


class LatencyMs(BaseModel):
    p50: float | None = None
    p99: float | None = None
    max: float | None = None


class TaskMetrics(BaseModel):
    """The last ~10 s, refreshed every few seconds by the controller."""

    records_per_s: float = 0.0
    bytes_per_s: float = 0.0
    source_records_per_s: float = 0.0
    lag: int = 0
    latency_ms: LatencyMs = LatencyMs()
    records_total: int = 0
    bytes_total: int = 0
    throttled: bool = False
    # Records the source deleted (retention) before they were copied: since the task
    # began, and in the last ~10 s (what the `records_lost` alarm metric reads).
    lost_records_total: int = 0
    lost_records: int = 0
    # Records the target refused that options.errors (tolerance all) sent to the
    # dead-letter topic, or skipped when it names none, since the task began.
    dead_lettered_total: int = 0
    skipped_refused_total: int = 0


class TaskLimits(BaseModel):
    """The caps in force: the task's own and its instances' sync quotas (MB/s)."""

    throttle_mb_s: float | None
    qps_limit: int | None
    source_quota_mb_s: float | None
    target_quota_mb_s: float | None
    throttled: bool


class Task(BaseModel):
    """A task as the API shows it. A metadata-only task (`options.mode: metadata`) copies
    no records: `copies_records` is false, and it has no `metrics` or `progress` (null and
    empty, not zero: nothing is stalled)."""

    id: str
    name: str
    source: SourceSpec
    target: TargetSpec
    options: TaskOptions
    status: TaskStatus
    error: str | None
    warnings: list[str]
    topics: list[TopicMapping]
    # False for a metadata-only task: its topics are kept in step, no record is copied.
    copies_records: bool = True
    progress: list[PartitionProgress]
    metrics: TaskMetrics | None
    limits: TaskLimits
    paused_at: datetime | None
    # Until when a paused task keeps its progress: a start after it begins from the
    # start point given with it (default latest). None while not paused.
    progress_kept_until: datetime | None = None
    # A progress reset asked for (POST /api/v1/tasks/{id}/reset) and not done yet: the
    # next start copies from this point. None otherwise.
    reset_start: StartPoint | None = None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(
        cls,
        task: TaskView,
        members: list[MemberView],
        quotas: dict[str, float | None] | None = None,
        pause_retention: timedelta | None = None,
    ) -> Task:
        """The API shape; `quotas` maps instance id -> sync_quota_mb_s (to show limits),
        `pause_retention` (the server's) dates `progress_kept_until`."""
        spec = task.spec
        copies = spec.options.copies_records
        # Left from a time the task copied records (it was in mode data): not its state now.
        metrics = TaskMetrics.model_validate(task.metrics) if task.metrics and copies else None
        quotas = quotas or {}
        progress = partition_progress(members) if copies else []
        lost = lost_warnings(progress)
        return cls(
            id=task.id,
            name=task.name,
            source=spec.source,
            target=spec.target,
            options=spec.options,
            status=task.status,
            error=task.error,
            warnings=list(task.warnings),
            topics=[
                TopicMapping(
                    source=t.source,
                    target=t.target,
                    partitions=t.partitions,
                    state=t.state,
                    error=t.error,
                    warnings=[*([t.warning] if t.warning else []), *lost.get(t.source, [])],
                    blocked_by=t.blocked_by,
                )
                for t in task.topics
            ],
            copies_records=copies,
            progress=[PartitionProgress(**p) for p in progress],
            metrics=metrics,
            limits=TaskLimits(
                throttle_mb_s=spec.options.throttle_mb_s,
                qps_limit=spec.options.qps_limit,
                source_quota_mb_s=quotas.get(task.source_id),
                target_quota_mb_s=quotas.get(task.target_id),
                throttled=bool(metrics and metrics.throttled),
            ),
            paused_at=task.paused_at,
            progress_kept_until=(
                progress_kept_until(task.paused_at, pause_retention)
                if pause_retention is not None
                else None
            ),
            reset_start=task.reset_start,
            created_at=task.created_at,
            updated_at=task.updated_at,
        )


def progress_of(members: list[MemberView]) -> list[PartitionProgress]:
    """Committed offset, end offset and lag per partition, from what members reported."""
    return [PartitionProgress(**p) for p in partition_progress(members)]


class TaskList(BaseModel):
    tasks: list[Task]


class WorkerMember(BaseModel):
    task_id: str
    slot: int
    state: MemberState
    partitions: int


class Worker(BaseModel):
    id: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    # Members it hosts at most (`--max-members`); null = no cap.
    max_members: int | None
    members: list[WorkerMember]

    @classmethod
    def of(cls, info: WorkerView, members: Sequence[MemberView]) -> Worker:
        return cls(
            id=info.id,
            host=info.host,
            pid=info.pid,
            started_at=info.started_at,
            heartbeat_at=info.heartbeat_at,
            max_members=info.max_members,
            members=[
                WorkerMember(
                    task_id=m.task_id, slot=m.slot, state=m.state, partitions=len(m.partitions)
                )
                for m in members
                if m.worker_id == info.id and m.state != MemberState.STOPPED
            ],
        )


class WorkerList(BaseModel):
    workers: list[Worker]


class TaskEvent(BaseModel):
    at: datetime
    status: TaskStatus
    message: str

    @classmethod
    def of(cls, event: TaskEventView) -> TaskEvent:
        return cls.model_validate(event, from_attributes=True)


class TaskEventList(BaseModel):
    events: list[TaskEvent]


class MetricPoint(BaseModel):
    at: datetime
    records_per_s: float
    bytes_per_s: float
    lag: int


class TotalPoint(MetricPoint):
    source_records_per_s: float
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    latency_max_ms: float | None


class MetricSeries(BaseModel):
    topic: str
    partition: int | None = None
    points: list[MetricPoint]


class TaskMetricHistory(BaseModel):
    task_id: str
    since: datetime
    step: int
    by: str
    total: list[TotalPoint]
    series: list[MetricSeries]


class TrafficByTask(BaseModel):
    task_id: str
    name: str
    records_per_s: float
    bytes_per_s: float


class TrafficDirection(BaseModel):
    records_per_s: float
    bytes_per_s: float
    by_task: list[TrafficByTask]

    @classmethod
    def of(cls, direction: Direction) -> TrafficDirection:
        return cls(
            records_per_s=direction.records_per_s,
            bytes_per_s=direction.bytes_per_s,
            by_task=[
                TrafficByTask(
                    task_id=t.task_id,
                    name=t.name,
                    records_per_s=t.records_per_s,
                    bytes_per_s=t.bytes_per_s,
                )
                for t in direction.by_task
            ],
        )


class InstanceTraffic(BaseModel):
    instance_id: str
    sync_quota_mb_s: float | None
    read: TrafficDirection
    written: TrafficDirection

    @classmethod
    def of(cls, traffic: Traffic) -> InstanceTraffic:
        return cls(
            instance_id=traffic.instance.id,
            sync_quota_mb_s=traffic.instance.sync_quota_mb_s,
            read=TrafficDirection.of(traffic.read),
            written=TrafficDirection.of(traffic.written),
        )


class InstanceTrafficPoint(BaseModel):
    """One step of sync traffic: read from the instance (in) and written to it (out)."""

    at: datetime
    read_records_per_s: float
    read_bytes_per_s: float
    written_records_per_s: float
    written_bytes_per_s: float


class InstanceTrafficHistory(BaseModel):
    """Sync traffic through an instance over time, against its sync quota (MB/s, 10^6
    bytes, of record values read from or written to it; null: none)."""

    instance_id: str
    sync_quota_mb_s: float | None
    since: datetime
    step: int
    points: list[InstanceTrafficPoint]

    @classmethod
    def of(
        cls, instance: InstanceView, since: datetime, step: int, points: Sequence[TrafficPoint]
    ) -> InstanceTrafficHistory:
        return cls(
            instance_id=instance.id,
            sync_quota_mb_s=instance.sync_quota_mb_s,
            since=since,
            step=step,
            points=[InstanceTrafficPoint(**vars(p)) for p in points],
        )


class GroupOffset(BaseModel):
    """One group's partition in a task's consumer-group offset sync."""

    group: str
    topic: str
    partition: int
    target_topic: str
    source_offset: int = Field(description="The group's committed offset on the source.")
    target_offset: int | None = Field(
        description="Its translation on the target (None: no offset pair covers it yet)."
    )
    target_committed: int | None = Field(description="What the target group has committed.")
    lag: int | None = Field(description="Records the target group is behind the translation.")
    synced_at: datetime | None = Field(description="When the target group last held it.")
    checked_at: datetime
    note: str | None = Field(description="Why it was not written at the last look.")

    @classmethod
    def of(cls, v: GroupOffsetView) -> GroupOffset:
        return cls(
            group=v.group_id,
            topic=v.topic,
            partition=v.partition,
            target_topic=v.target_topic,
            source_offset=v.source_offset,
            target_offset=v.target_offset,
            target_committed=v.target_committed,
            lag=v.lag,
            synced_at=v.synced_at,
            checked_at=v.checked_at,
            note=v.note,
        )


class ResumePoint(BaseModel):
    """Where a cut-over group resumes on one target partition."""

    topic: str
    target_topic: str
    partition: int
    source_offset: int = Field(description="The group's last committed offset on the source.")
    offset: int = Field(description="The offset written for the group on the target.")
    exact: bool = Field(
        description="True when its consumers read no record again; else within the re-read bound."
    )


class CutoverResume(BaseModel):
    """What to point a cut-over group's consumers at."""

    target_instance: str
    bootstrap_servers: str
    group: str
    topics: list[dict[str, str]] = Field(description="Each source topic and its target topic.")
    partitions: list[ResumePoint]


class CutoverStep(BaseModel):
    """One line of a cutover's answer (newline-delimited JSON, one step as it happens).

    `step` is check, stop, wait, offsets or result; the last line is the result, whose
    `state` is `cut_over`, `checked` (a dry run that passed), `refused` or `timed_out`."""

    step: str
    state: str
    message: str
    resume: CutoverResume | None = None

    @classmethod
    def of(cls, e: CutoverEvent) -> CutoverStep:
        resume = None
        if e.resume is not None:
            r = e.resume
            resume = CutoverResume(
                target_instance=r.target_instance,
                bootstrap_servers=r.bootstrap_servers,
                group=r.group,
                topics=[{"source": s, "target": t} for s, t in r.topics],
                partitions=[
                    ResumePoint(
                        topic=p.topic,
                        target_topic=p.target_topic,
                        partition=p.partition,
                        source_offset=p.source_offset,
                        offset=p.offset,
                        exact=p.exact,
                    )
                    for p in r.partitions
                ],
            )
        return cls(step=e.step, state=e.state, message=e.message, resume=resume)


class GroupOffsetList(BaseModel):
    enabled: bool
    interval_s: float
    reread_bound: int = Field(
        description="The most records a consumer re-reads per partition after failing over."
    )
    offsets: list[GroupOffset]
