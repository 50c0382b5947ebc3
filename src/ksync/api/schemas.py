"""API response shapes (separate from the tables and from the input specs)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from ksync.spec import SaslMechanism, SecurityProtocol, SourceSpec, TargetSpec, TaskOptions
from ksync.store.repo import WorkerInfo, as_utc
from ksync.store.tables import InstanceRow, MemberRow, TaskRow


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
    def of(cls, row: InstanceRow) -> Instance:
        sec = row.security
        return cls(
            id=row.id,
            name=row.name,
            bootstrap_servers=row.bootstrap_servers,
            region=row.region,
            zone=row.zone,
            security=PublicSecurity(
                protocol=sec["protocol"],
                sasl_mechanism=sec.get("sasl_mechanism"),
                username=sec.get("username"),
            ),
            sync_quota_mb_s=row.sync_quota_mb_s,
            cluster_id=row.cluster_id,
            broker_count=row.broker_count,
            created_at=as_utc(row.created_at),
            updated_at=as_utc(row.updated_at),
        )


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


class PartitionProgress(BaseModel):
    topic: str
    partition: int
    committed_offset: int | None
    end_offset: int | None
    lag: int | None


class Task(BaseModel):
    id: str
    name: str
    source: SourceSpec
    target: TargetSpec
    options: TaskOptions
    status: str
    error: str | None
    warnings: list[str]
    topics: list[TopicMapping]
    progress: list[PartitionProgress]
    paused_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: TaskRow, members: list[MemberRow]) -> Task:
        spec = row.spec
        return cls(
            id=row.id,
            name=row.name,
            source=SourceSpec.model_validate(spec["source"]),
            target=TargetSpec.model_validate(spec["target"]),
            options=TaskOptions.model_validate(spec["options"]),
            status=row.status,
            error=row.error,
            warnings=list(row.warnings),
            topics=[TopicMapping(**t) for t in row.topics],
            progress=progress_of(row, members),
            paused_at=as_utc(row.paused_at) if row.paused_at else None,
            created_at=as_utc(row.created_at),
            updated_at=as_utc(row.updated_at),
        )


def progress_of(row: TaskRow, members: list[MemberRow]) -> list[PartitionProgress]:
    """Per-partition committed offset, end offset and lag, from the members' reports.

    A partition that no member reports right now (paused task, rebalance) keeps the last
    value any member reported for it.
    """
    best: dict[tuple[str, int], dict[str, Any]] = {}
    for m in sorted(members, key=lambda m: m.updated_at):
        for p in m.progress:
            best[(p["topic"], p["partition"])] = p
    out = []
    for (topic, partition), p in sorted(best.items()):
        committed, end = p.get("committed_offset"), p.get("end_offset")
        lag = max(0, end - committed) if committed is not None and end is not None else None
        out.append(PartitionProgress(
            topic=topic, partition=partition, committed_offset=committed, end_offset=end, lag=lag
        ))
    return out


class TaskList(BaseModel):
    tasks: list[Task]


class WorkerMember(BaseModel):
    task_id: str
    slot: int
    state: str
    partitions: int


class Worker(BaseModel):
    id: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    members: list[WorkerMember]

    @classmethod
    def of(cls, info: WorkerInfo, members: list[MemberRow]) -> Worker:
        return cls(
            id=info.id,
            host=info.host,
            pid=info.pid,
            started_at=info.started_at,
            heartbeat_at=info.heartbeat_at,
            members=[
                WorkerMember(task_id=m.task_id, slot=m.slot, state=m.state, partitions=len(m.partitions))
                for m in members
                if m.worker_id == info.id and m.state != "stopped"
            ],
        )


class WorkerList(BaseModel):
    workers: list[Worker]


class TaskEvent(BaseModel):
    at: datetime
    status: str
    message: str


class TaskEventList(BaseModel):
    events: list[TaskEvent]
