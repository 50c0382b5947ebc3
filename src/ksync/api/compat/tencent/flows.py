"""`DescribeTaskStatus`: how far the latest operation on a DataHub task has come.

ksync's DataHub actions only record what is wanted and return; the controller and the
workers get there. Tencent follows such work by a FlowId, but the SDK's answers to the
DataHub actions (DatahubTaskIdRes) have no FlowId field, so a task's FlowId is its TaskId
read as a number (`flow_id`): the latest create, modify, pause, resume, restart or delete
of a task is followed by it. Status 0 done, 1 failed, 2 under way.
"""

from __future__ import annotations

from typing import Any

from ksync.api.compat.tencent.context import Context
from ksync.api.compat.tencent.errors import RESOURCE_NOT_FOUND, TencentError, bad_value
from ksync.api.compat.tencent.params import Params
from ksync.domain.errors import NotFound
from ksync.domain.status import Desired, MemberState, TaskStatus
from ksync.domain.task import TaskView
from ksync.domain.workers import MemberView

# A task's FlowId: the 8 characters after `task-` read as a base-36 number (below 2**42,
# so any JSON client keeps it exact), and back.
_FLOW_BASE = 36
_TASK_PREFIX = "task-"


def flow_id(task_id: str) -> int:
    """The FlowId DescribeTaskStatus knows a task by (its TaskId as a number)."""
    return int(task_id.removeprefix(_TASK_PREFIX), _FLOW_BASE)


def _task_of_flow(flow: int) -> str:
    digits = ""
    while flow:
        flow, digit = divmod(flow, _FLOW_BASE)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[digit] + digits
    return _TASK_PREFIX + digits.rjust(8, "0")


# TaskStatusResponse.Status: 0 done, 1 failed, 2 under way.
FLOW_DONE, FLOW_FAILED, FLOW_RUNNING = 0, 1, 2


def flow_status(row: TaskView, members: list[MemberView]) -> int:
    """Whether the task's latest operation is done: it is Paused as asked, or Running with
    a running member of its current generation in every slot (so a new TasksMax is done
    once its members run) (0); it Failed (1); or it is on its way (2: Unassigned,
    pausing, members of the new generation starting, Terminating)."""
    if row.deleted:
        return FLOW_RUNNING
    if row.status == TaskStatus.FAILED:
        return FLOW_FAILED
    if row.desired == Desired.PAUSED:
        return FLOW_DONE if row.status == TaskStatus.PAUSED else FLOW_RUNNING
    running = {
        m.slot
        for m in members
        if m.generation == row.generation and m.state == MemberState.RUNNING
    }
    done = row.status == TaskStatus.RUNNING and running >= set(range(row.spec.options.task_max))
    return FLOW_DONE if done else FLOW_RUNNING


def task_status(ctx: Context, p: Params) -> dict[str, Any]:
    """DescribeTaskStatus of a FlowId (see the module docstring). Once a deletion
    finishes, the task and its flow are gone (ResourceNotFound)."""
    flow = p.integer("FlowId", required=True)
    p.done()
    if flow < 0 or flow >= _FLOW_BASE**8:
        raise bad_value("FlowId", f"{flow} is not a FlowId: ksync's are 0 to {_FLOW_BASE**8 - 1}")
    task_id = _task_of_flow(flow)
    try:
        row = ctx.store.tasks.get(task_id)
    except NotFound:
        raise TencentError(
            RESOURCE_NOT_FOUND,
            f"FlowId: no task has flow {flow} (task {task_id}); a deleted task's flow is gone "
            "once its members stopped",
        ) from None
    status = flow_status(row, ctx.store.workers.members(row.id))
    output = f"task {row.id} ({row.name}): {row.status}"
    if row.deleted:
        output += ", deletion under way"
    elif row.desired == Desired.PAUSED and status == FLOW_RUNNING:
        output += ", pause under way"
    elif status == FLOW_RUNNING:
        output += ", members starting"
    if status == FLOW_FAILED and row.error:
        output += f": {row.error}"
    return {"Result": {"Status": status, "Output": output}}
