"""The offset sync service: what the faces ask about a task's consumer-group offset sync
(`ksync.replication.group_sync` does the syncing)."""

from __future__ import annotations

from ksync.domain.errors import Conflict, InvalidField
from ksync.domain.group_offsets import GroupOffsetView
from ksync.domain.groups import task_of_group
from ksync.store.repo import Store


def group_offsets(store: Store, task_id: str) -> list[GroupOffsetView]:
    """The last offset sync of each selected group's partitions (NotFound for no task)."""
    store.tasks.get(task_id)
    return store.offsets.syncs(task_id)


def reset_group(store: Store, task_id: str, group: str) -> None:
    """Ask the next sync to write `group`'s translated offsets even where that lowers the
    target group's (offsets otherwise only move forward). Conflict when the task does not
    sync group offsets; InvalidField for a group ksync never syncs."""
    task = store.tasks.get(task_id)
    if not task.spec.options.sync_group_offsets.enabled:
        raise Conflict(
            f"task {task_id} does not sync consumer-group offsets: set "
            "options.sync_group_offsets.enabled first"
        )
    if not group or len(group) > 255:
        raise InvalidField("group", "give a consumer group id of 1 to 255 characters")
    if task_of_group(group) is not None:
        raise InvalidField("group", f"{group} is a ksync task's own group, which is never synced")
    store.offsets.request_reset(task_id, group)
