"""Domain views built in memory, for tests of pure rules (no store, no broker): the
fields a rule reads are given, every other field gets a plain default."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ksync.domain.instance import InstanceSecurity, InstanceView
from ksync.domain.status import Desired, MemberState, TaskStatus
from ksync.domain.task import TaskView
from ksync.domain.workers import MemberView
from ksync.spec import TaskSpec

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def task_view(
    task_id: str,
    source: str = "ins-src",
    target: str = "ins-dst",
    *,
    name: str | None = None,
    desired: str = "running",
    status: str = "Unassigned",
    **fields: Any,
) -> TaskView:
    spec = TaskSpec.model_validate(
        {
            "name": name or task_id,
            "source": {"instance_id": source, "topics": ["orders"]},
            "target": {"instance_id": target},
        }
    )
    values: dict[str, Any] = {
        "id": task_id,
        "name": spec.name,
        "spec": spec,
        "desired": Desired(desired),
        "status": TaskStatus(status),
        "generation": 1,
        "topics": (),
        "error": None,
        "warnings": (),
        "paused_at": None,
        "reset_start": None,
        "topics_resolved_at": None,
        "metrics": None,
        "external": None,
        "created_at": EPOCH,
        "updated_at": EPOCH,
    }
    return TaskView(**{**values, **fields})


def instance_view(instance_id: str, cluster_id: str, **fields: Any) -> InstanceView:
    values: dict[str, Any] = {
        "id": instance_id,
        "name": instance_id,
        "bootstrap_servers": "127.0.0.1:9",
        "region": None,
        "zone": None,
        "security": InstanceSecurity(),
        "has_secrets": False,
        "cluster_id": cluster_id,
        "broker_count": 1,
        "sync_quota_mb_s": None,
        "external": None,
        "created_at": EPOCH,
        "updated_at": EPOCH,
    }
    return InstanceView(**{**values, **fields})


def member_view(
    slot: int,
    worker: str = "w1",
    state: str = "running",
    partitions: list[tuple[str, int]] | None = None,
    generation: int = 1,
    error: str | None = None,
    task_id: str = "task-a",
) -> MemberView:
    return MemberView(
        task_id=task_id,
        slot=slot,
        worker_id=worker,
        generation=generation,
        state=MemberState(state),
        partitions=tuple(partitions or ()),
        progress=(),
        error=error,
        warnings=(),
        records_total=0,
        metrics=None,
        updated_at=EPOCH,
    )
