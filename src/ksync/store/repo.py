"""The store: every read and write of ksync's state goes through `Store`.

Each method is one short transaction. Times are UTC; with several machines their clocks
must agree (NTP) to within a fraction of `worker_timeout`.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, Engine, Result, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ksync.domain.errors import Conflict, NotFound
from ksync.spec import STORED, Connection, InstanceSpec, SecuritySpec, StartPoint, TaskSpec
from ksync.store.tables import (
    InstanceRow,
    LeaseRow,
    MemberRow,
    MetricPointRow,
    SlotRow,
    TaskEventRow,
    TaskRow,
    WorkerRow,
)

_ID_CHARS = string.ascii_lowercase + string.digits


def new_id(prefix: str) -> str:
    """`prefix-` + 8 random lowercase letters and digits (CKafka's id shape)."""
    return prefix + "-" + "".join(secrets.choice(_ID_CHARS) for _ in range(8))


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every one we store is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def security_to_json(sec: SecuritySpec) -> dict[str, Any]:
    """Serialise security settings with the secret values (for the store only)."""
    data = sec.model_dump()
    for key in ("password", "ca_pem"):
        value = getattr(sec, key)
        data[key] = value.get_secret_value() if value is not None else None
    return data


@dataclass(frozen=True)
class WorkerInfo:
    id: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime


@dataclass(frozen=True)
class MemberReport:
    """A worker's report about one member it runs."""

    task_id: str
    slot: int
    generation: int
    state: str
    partitions: list[list[Any]]
    progress: list[dict[str, Any]]
    error: str | None
    warnings: list[str]
    records_total: int
    metrics: dict[str, Any] | None = None


class Store:
    """Typed access to the database; safe to share between threads."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions.begin() as s:
            yield s

    # ---- instances ----------------------------------------------------------------

    def add_instance(
        self,
        spec: InstanceSpec,
        cluster_id: str,
        broker_count: int,
        external: dict[str, Any] | None = None,
    ) -> InstanceRow:
        now = utcnow()
        row = InstanceRow(
            id=new_id("ins"),
            name=spec.name,
            bootstrap_servers=spec.bootstrap_servers,
            region=spec.region,
            zone=spec.zone,
            security=security_to_json(spec.security),
            cluster_id=cluster_id,
            broker_count=broker_count,
            external=external,
            sync_quota_mb_s=spec.sync_quota_mb_s,
            created_at=now,
            updated_at=now,
        )
        with self.session() as s:
            s.add(row)
        return row

    def set_instance_external(self, instance_id: str, external: dict[str, Any] | None) -> None:
        with self.session() as s:
            row = s.get(InstanceRow, instance_id)
            if row is None:
                raise NotFound(f"instance {instance_id} does not exist")
            row.external = external

    def update_instance(
        self, instance_id: str, spec: InstanceSpec, cluster_id: str, broker_count: int
    ) -> InstanceRow:
        """Replace an instance's settings; tasks using it get a new generation."""
        with self.session() as s:
            row = s.get(InstanceRow, instance_id)
            if row is None:
                raise NotFound(f"instance {instance_id} does not exist")
            row.name = spec.name
            row.bootstrap_servers = spec.bootstrap_servers
            row.region = spec.region
            row.zone = spec.zone
            row.security = security_to_json(spec.security)
            row.cluster_id = cluster_id
            row.broker_count = broker_count
            row.sync_quota_mb_s = spec.sync_quota_mb_s
            row.updated_at = utcnow()
            for task in s.scalars(select(TaskRow)):
                if instance_id in _instances_of(task):
                    task.generation += 1
                    task.updated_at = row.updated_at
        return row

    def get_instance(self, instance_id: str) -> InstanceRow:
        with self.session() as s:
            row = s.get(InstanceRow, instance_id)
        if row is None:
            raise NotFound(f"instance {instance_id} does not exist")
        return row

    def list_instances(self) -> list[InstanceRow]:
        with self.session() as s:
            return list(s.scalars(select(InstanceRow).order_by(InstanceRow.created_at)))

    def delete_instance(self, instance_id: str) -> None:
        with self.session() as s:
            row = s.get(InstanceRow, instance_id)
            if row is None:
                raise NotFound(f"instance {instance_id} does not exist")
            users = [t.id for t in s.scalars(select(TaskRow)) if instance_id in _instances_of(t)]
            if users:
                raise Conflict(
                    f"instance {instance_id} is used by task(s) {', '.join(sorted(users))}; "
                    "delete those tasks first"
                )
            s.delete(row)

    def connection(self, instance_id: str) -> Connection:
        row = self.get_instance(instance_id)
        return Connection(
            instance_id=row.id,
            bootstrap_servers=row.bootstrap_servers,
            security=SecuritySpec.model_validate(row.security),
            name=row.name,
        )

    # ---- tasks --------------------------------------------------------------------

    def add_task(
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

    def get_task(self, task_id: str) -> TaskRow:
        with self.session() as s:
            row = s.get(TaskRow, task_id)
        if row is None:
            raise NotFound(f"task {task_id} does not exist")
        return row

    def list_tasks(self) -> list[TaskRow]:
        with self.session() as s:
            return list(s.scalars(select(TaskRow).order_by(TaskRow.created_at)))

    def change_task(self, task_id: str, decide: Callable[[TaskRow], dict[str, Any]]) -> TaskRow:
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

    def update_task(
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

    def remove_task(self, task_id: str) -> None:
        """Forget a task entirely (after its members stopped)."""
        with self.session() as s:
            s.execute(delete(TaskRow).where(TaskRow.id == task_id))
            s.execute(delete(SlotRow).where(SlotRow.task_id == task_id))
            s.execute(delete(MemberRow).where(MemberRow.task_id == task_id))
            s.execute(delete(TaskEventRow).where(TaskEventRow.task_id == task_id))

    def task_events(self, task_id: str, limit: int = 200) -> list[TaskEventRow]:
        with self.session() as s:
            return list(
                s.scalars(
                    select(TaskEventRow)
                    .where(TaskEventRow.task_id == task_id)
                    .order_by(TaskEventRow.id.desc())
                    .limit(limit)
                )
            )

    # ---- metrics ------------------------------------------------------------------

    def set_task_metrics(self, task_id: str, metrics: dict[str, Any]) -> None:
        """The controller's latest metrics for a task (no status event, no updated_at)."""
        with self.session() as s:
            s.execute(update(TaskRow).where(TaskRow.id == task_id).values(metrics=metrics))

    def add_metric_point(self, task_id: str, at: datetime, data: dict[str, Any]) -> None:
        with self.session() as s:
            s.add(MetricPointRow(task_id=task_id, at=at, data=data))

    def metric_points(self, task_id: str, since: datetime) -> list[MetricPointRow]:
        with self.session() as s:
            return list(
                s.scalars(
                    select(MetricPointRow)
                    .where(MetricPointRow.task_id == task_id, MetricPointRow.at >= since)
                    .order_by(MetricPointRow.at)
                )
            )

    def prune_metric_points(self, before: datetime, task_ids: set[str]) -> int:
        """Drop points older than `before` and those of tasks that no longer exist."""
        with self.session() as s:
            old = _rowcount(s.execute(delete(MetricPointRow).where(MetricPointRow.at < before)))
            orphans = (
                _rowcount(s.execute(delete(MetricPointRow).where(MetricPointRow.task_id.not_in(task_ids))))
                if task_ids
                else 0
            )
        return old + orphans

    # ---- workers, slots and members ------------------------------------------------

    def heartbeat(self, worker_id: str, host: str, pid: int, reports: Iterable[MemberReport]) -> None:
        """Record that `worker_id` is alive and what its members are doing."""
        now = utcnow()
        with self.session() as s:
            row = s.get(WorkerRow, worker_id)
            if row is None or row.pid != pid or row.host != host:
                if row is not None:
                    s.delete(row)
                    s.flush()
                s.add(WorkerRow(id=worker_id, host=host, pid=pid, started_at=now, heartbeat_at=now))
            else:
                row.heartbeat_at = now
            reported = set()
            for r in reports:
                reported.add((r.task_id, r.slot))
                m = s.get(MemberRow, (r.task_id, r.slot))
                if m is None:
                    m = MemberRow(task_id=r.task_id, slot=r.slot)
                    s.add(m)
                m.worker_id = worker_id
                m.generation = r.generation
                m.state = r.state
                m.partitions = r.partitions
                m.progress = r.progress
                m.error = r.error
                m.warnings = r.warnings
                m.records_total = r.records_total
                m.metrics = r.metrics
                m.updated_at = now
            # Members this worker ran before and no longer runs are stopped.
            for m in s.scalars(select(MemberRow).where(MemberRow.worker_id == worker_id)):
                if (m.task_id, m.slot) not in reported and m.state != "stopped":
                    m.state = "stopped"
                    m.partitions = []
                    m.updated_at = now

    def remove_worker(self, worker_id: str) -> None:
        """A worker that shuts down cleanly leaves at once instead of timing out."""
        with self.session() as s:
            s.execute(delete(WorkerRow).where(WorkerRow.id == worker_id))
            s.execute(
                update(MemberRow)
                .where(MemberRow.worker_id == worker_id)
                .values(state="stopped", partitions=[], updated_at=utcnow())
            )

    def list_workers(self) -> list[WorkerInfo]:
        with self.session() as s:
            return [
                WorkerInfo(w.id, w.host, w.pid, as_utc(w.started_at), as_utc(w.heartbeat_at))
                for w in s.scalars(select(WorkerRow).order_by(WorkerRow.id))
            ]

    def expire_workers(self, timeout: timedelta) -> list[str]:
        """Delete workers whose heartbeat is older than `timeout`; their members stop."""
        cutoff = utcnow() - timeout
        dead = [w.id for w in self.list_workers() if w.heartbeat_at < cutoff]
        for worker_id in dead:
            self.remove_worker(worker_id)
        return dead

    def slots(self) -> list[SlotRow]:
        with self.session() as s:
            return list(s.scalars(select(SlotRow)))

    def set_slots(self, task_id: str, assignment: dict[int, str | None]) -> None:
        """Replace a task's slot -> worker assignment."""
        with self.session() as s:
            s.execute(delete(SlotRow).where(SlotRow.task_id == task_id))
            for slot, worker_id in assignment.items():
                s.add(SlotRow(task_id=task_id, slot=slot, worker_id=worker_id))

    def assignments_for(self, worker_id: str) -> list[tuple[TaskRow, int]]:
        """The (task, slot) pairs the controller gave to `worker_id`."""
        with self.session() as s:
            rows = s.execute(
                select(TaskRow, SlotRow.slot)
                .join(SlotRow, SlotRow.task_id == TaskRow.id)
                .where(SlotRow.worker_id == worker_id)
            ).all()
            return [(task, slot) for task, slot in rows]

    def members(self, task_id: str | None = None) -> list[MemberRow]:
        with self.session() as s:
            q = select(MemberRow)
            if task_id is not None:
                q = q.where(MemberRow.task_id == task_id)
            return list(s.scalars(q.order_by(MemberRow.task_id, MemberRow.slot)))

    # ---- leases -------------------------------------------------------------------

    def try_lease(self, name: str, holder: str, ttl: timedelta) -> bool:
        """Take or renew lease `name` for `holder`; False while someone else holds it."""
        now = utcnow()
        try:
            with self.session() as s:
                row = s.get(LeaseRow, name, with_for_update=True)
                if row is None:
                    s.add(LeaseRow(name=name, holder=holder, expires_at=now + ttl))
                    return True
                if row.holder != holder and as_utc(row.expires_at) > now:
                    return False
                row.holder = holder
                row.expires_at = now + ttl
                return True
        except IntegrityError:  # another process inserted the lease first
            return False

    def release_lease(self, name: str, holder: str) -> None:
        with self.session() as s:
            s.execute(delete(LeaseRow).where(LeaseRow.name == name, LeaseRow.holder == holder))


def _rowcount(result: Result[Any]) -> int:
    """Rows a DELETE or UPDATE touched (its result is always a cursor result)."""
    assert isinstance(result, CursorResult)
    return result.rowcount


def _instances_of(task: TaskRow) -> set[str]:
    return {task.spec["source"]["instance_id"], task.spec["target"]["instance_id"]}


def task_spec(row: TaskRow) -> TaskSpec:
    return TaskSpec.model_validate(row.spec, context=STORED)


def start_point(row: TaskRow) -> StartPoint:
    return task_spec(row).source.start
