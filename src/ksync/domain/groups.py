"""The consumer group of a task: its members form one group on the source cluster, named
`ksync-<task id>` (docs/design.md "Processes and data flow").

Kafka's group coordinator spreads the task's partitions over the members of this group,
and its committed offsets are the task's progress: the controller deletes it to reset
progress, and the faces show it (Tencent's `DescribeDatahubGroupOffsets`).
"""

from __future__ import annotations

GROUP_PREFIX = "ksync-"


def group_id(task_id: str) -> str:
    """The consumer group of task `task_id`'s members on its source cluster."""
    return GROUP_PREFIX + task_id


def task_of_group(group: str) -> str | None:
    """The task whose members form `group`, or None for a group ksync did not name."""
    if not group.startswith(GROUP_PREFIX) or group == GROUP_PREFIX:
        return None
    return group[len(GROUP_PREFIX) :]
