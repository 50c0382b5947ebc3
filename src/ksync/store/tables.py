"""Table definitions. Schema changes go through an Alembic migration in `migrations/`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON, datetime: DateTime(timezone=True)}


class InstanceRow(Base):
    __tablename__ = "instances"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    bootstrap_servers: Mapped[str] = mapped_column(Text)
    region: Mapped[str | None] = mapped_column(String(64))
    zone: Mapped[str | None] = mapped_column(String(64))
    # Includes secrets, sealed (ksync.store.sealed): opened only to build Kafka clients,
    # never returned by an API.
    security: Mapped[dict[str, Any]] = mapped_column(JSON)
    cluster_id: Mapped[str] = mapped_column(String(128))
    broker_count: Mapped[int] = mapped_column(Integer)
    # What a compatible face keeps about the instance (e.g. Tencent's ResourceName);
    # the native API ignores it.
    external: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    sync_quota_mb_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class TaskRow(Base):
    __tablename__ = "tasks"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    # What the user wants: running | paused | deleted. The controller converges to it.
    desired: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    warnings: Mapped[list[Any]] = mapped_column(JSON)
    topics: Mapped[list[Any]] = mapped_column(JSON)
    # When the controller first resolved the topic selection. From then on a topic that
    # joins it is new to the task and copied from its first record (replication.partition_start).
    topics_resolved_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # Bumped to make every member stop and start again (restart, new instance settings).
    generation: Mapped[int] = mapped_column(Integer, default=1)
    paused_at: Mapped[datetime | None]
    # Set when a task is started after its pause retention: the controller drops the
    # committed progress and members restart from this start point.
    reset_start: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # What a compatible face keeps about the task (a Connect config with its ignored
    # keys, Tencent's TaskType…); the native API ignores it.
    external: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # The controller's latest view: rates, lag, latency, totals (see monitoring.aggregate).
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class WorkerRow(Base):
    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
    # The worker's --max-members, sent with every heartbeat (None: no cap).
    max_members: Mapped[int | None] = mapped_column(Integer, nullable=True)


class SlotRow(Base):
    """A task's member slot and the worker the controller gave it to."""

    __tablename__ = "slots"

    task_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True)
    worker_id: Mapped[str | None] = mapped_column(String(128))


class MemberRow(Base):
    """What a worker last reported about the member it runs for a slot."""

    __tablename__ = "members"

    task_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True)
    worker_id: Mapped[str] = mapped_column(String(128))
    generation: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    partitions: Mapped[list[Any]] = mapped_column(JSON)
    progress: Mapped[list[Any]] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    warnings: Mapped[list[Any]] = mapped_column(JSON)
    records_total: Mapped[int] = mapped_column(BigInteger, default=0)
    # Cumulative counters since the member started: bytes, per-partition records, latency
    # histogram buckets (see monitoring.latency).
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    updated_at: Mapped[datetime]


class LeaseRow(Base):
    """A named lease (the controller role): held by `holder` until `expires_at`."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime]


class TaskEventRow(Base):
    __tablename__ = "task_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(String(32), index=True)
    at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)


class MetricPointRow(Base):
    """One task's metrics over one 10-second step; kept for 24 hours."""

    __tablename__ = "metric_points"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class AlarmRuleRow(Base):
    __tablename__ = "alarm_rules"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    task_id: Mapped[str | None] = mapped_column(String(32))  # None: every task
    metric: Mapped[str] = mapped_column(String(32))
    comparison: Mapped[str] = mapped_column(String(8))
    threshold: Mapped[float] = mapped_column(Float)
    # The status a `status` rule compares with (its threshold is then unused).
    status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    duration_s: Mapped[float] = mapped_column(Float)
    webhooks: Mapped[list[Any]] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(Boolean)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AlarmEventRow(Base):
    __tablename__ = "alarm_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule_id: Mapped[str] = mapped_column(String(32), index=True)
    task_id: Mapped[str | None] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # firing | resolved | test
    at: Mapped[datetime]
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    delivery: Mapped[dict[str, Any]] = mapped_column(JSON)


class ConsoleSessionRow(Base):
    """A console login: the SHA-256 of the cookie's random token (the token itself is
    never stored), the API key it proves, and when it stops being accepted."""

    __tablename__ = "console_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(index=True)


class OffsetPairRow(Base):
    """An offset pair a member recorded (offset sync): the record at `source_offset` of
    the source topic's `partition` is at `target_offset` of the target topic's."""

    __tablename__ = "offset_pairs"

    task_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    target_topic: Mapped[str] = mapped_column(String(255), primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, primary_key=True)
    target_offset: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source_topic: Mapped[str] = mapped_column(String(255))
    source_offset: Mapped[int] = mapped_column(BigInteger)


class GroupOffsetRow(Base):
    """The last offset sync of one consumer group's partition on a task."""

    __tablename__ = "group_offsets"

    task_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    group_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    topic: Mapped[str] = mapped_column(String(255), primary_key=True)  # the source topic
    partition: Mapped[int] = mapped_column(Integer, primary_key=True)
    target_topic: Mapped[str] = mapped_column(String(255))
    source_offset: Mapped[int] = mapped_column(BigInteger)
    # The translation of source_offset (None: no pair at or below it yet).
    target_offset: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # What the target group had committed when last looked at.
    target_committed: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # When target_offset was last written to the target group.
    synced_at: Mapped[datetime | None] = mapped_column(nullable=True)
    checked_at: Mapped[datetime]
    # Why the offset was not written at the last look (active members…); None when it was.
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


class GroupOffsetResetRow(Base):
    """A user's request to write a group's translated offsets even if that lowers them."""

    __tablename__ = "group_offset_resets"

    task_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    group_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    requested_at: Mapped[datetime]


class SecretCheckRow(Base):
    """A known text sealed with the store's secret key when the store first had one: each
    start opens it, so a wrong key stops the process at once (ksync.store.secret_repo)."""

    __tablename__ = "secret_check"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    sealed: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
