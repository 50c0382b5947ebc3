"""What Kafka Connect shows of a ksync task: the connector's and its tasks' states, and
the stopped state this face adds on top of a pause.

* States: Unassigned/Running/Paused/Failed -> UNASSIGNED/RUNNING/PAUSED/FAILED (the
  connector's `trace` is the task's error); each Connect task is one member slot.
* Stop (KIP-875) is a pause marked with the pause's time in the task's `connect` part:
  any later pause or start, from any API, leaves the mark stale.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ksync.api.compat.connect.config import CONNECTOR_TYPE
from ksync.domain.status import Desired, MemberState, TaskStatus
from ksync.domain.task import TaskView
from ksync.domain.workers import MemberView

# The key under which this face keeps its own fields in a task's `external` column.
EXTERNAL_KEY = "connect"

STATES = {
    TaskStatus.UNASSIGNED: "UNASSIGNED",
    TaskStatus.RUNNING: "RUNNING",
    TaskStatus.PAUSED: "PAUSED",
    TaskStatus.FAILED: "FAILED",
}


def connect_part(row: TaskView) -> dict[str, Any]:
    """What this face keeps about a task (its config, ignored keys, the stop mark)."""
    return row.external_part(EXTERNAL_KEY)


def task_max(row: TaskView) -> int:
    """Connect's `tasks.max`: the task's member slots."""
    return row.spec.options.task_max


def stopped(row: TaskView) -> bool:
    """Stopped through this face (PUT …/stop) and not started since.

    The mark is the pause's time: any later pause or start, from any API, leaves it stale.
    """
    return (
        row.desired == Desired.PAUSED
        and row.paused_at is not None
        and connect_part(row).get("stopped_at") == stop_mark(row.paused_at)
    )


def stop_mark(paused_at: datetime) -> str:
    """The mark a stop leaves: the time of the pause it made."""
    return paused_at.isoformat()


def connect_tasks(row: TaskView) -> range:
    """Connect's task ids: one per member slot, none while stopped (as in Connect), and
    none for a task that copies no records (it runs no member, as an MM2 checkpoint
    connector with nothing to checkpoint has no task)."""
    if stopped(row) or not row.spec.options.copies_records:
        return range(0)
    return range(task_max(row))


def connector_info(row: TaskView, config: dict[str, str]) -> dict[str, Any]:
    """Connect's ConnectorInfo: name, config, task ids, type."""
    return {
        "name": row.name,
        "config": config,
        "tasks": [{"connector": row.name, "task": i} for i in connect_tasks(row)],
        "type": CONNECTOR_TYPE,
    }


def current_members(row: TaskView, members: list[MemberView]) -> dict[int, MemberView]:
    """The members of the task's current generation, by slot."""
    return {m.slot: m for m in members if m.generation == row.generation}


def status_info(row: TaskView, members: list[MemberView], slots: dict[int, str | None]) -> dict[str, Any]:
    """Connect's ConnectorStateInfo, plus a `ksync` extension field.

    The connector's state is the task's status; each Connect task is one member slot:
    PAUSED when the task is, FAILED with the member's error (or the task's, when the
    controller failed it), RUNNING when its member runs, else UNASSIGNED.
    """
    state = STATES.get(row.status, "UNASSIGNED")
    if state == "PAUSED" and stopped(row):
        state = "STOPPED"
    current = current_members(row, members)
    first = current.get(0)
    connector: dict[str, Any] = {
        "state": state,
        "worker_id": slots.get(0) or (first.worker_id if first else "") or "",
    }
    if state == "FAILED":
        connector["trace"] = row.error or "failed"
    tasks = []
    for slot in connect_tasks(row):
        m = current.get(slot)
        entry: dict[str, Any] = {"id": slot}
        if row.status == TaskStatus.PAUSED:
            entry["state"] = "PAUSED"
        elif m is not None and m.state == MemberState.FAILED:
            entry["state"] = "FAILED"
            entry["trace"] = m.error or "failed"
        elif row.status == TaskStatus.FAILED:
            entry["state"] = "FAILED"
            entry["trace"] = row.error or "failed"
        elif m is not None and m.state == MemberState.RUNNING:
            entry["state"] = "RUNNING"
        else:
            entry["state"] = "UNASSIGNED"
        entry["worker_id"] = (m.worker_id if m is not None else None) or slots.get(slot) or ""
        tasks.append(entry)
    return {
        "name": row.name,
        "connector": connector,
        "tasks": tasks,
        "type": CONNECTOR_TYPE,
        "ksync": {
            "task_id": row.id,
            "status": row.status,
            "warnings": list(row.warnings),
            "ignored_config": list(connect_part(row).get("ignored", [])),
        },
    }
