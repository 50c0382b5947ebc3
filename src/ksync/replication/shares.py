"""Partition shares: which member slot of a task copies each source partition.

A task's members do not form a consumer group; each copies a fixed share of the task's
partitions, decided by `slot_of` alone (docs/design.md, "Partition shares"). The function
is pure, so every member, the worker and a test compute the same owner without asking
anyone.

Invariants:
* Stable: a partition's slot depends only on its topic's name, its number and
  `task_max`, so adding a topic or partitions to a topic never moves an existing
  partition to another slot; only a change of `task_max` moves partitions (and restarts
  the task's members, see `ksync.control.lifecycle.update_options`).
* Even: consecutive partitions of one topic go to consecutive slots (8 partitions over 2
  slots are 4 and 4), and each topic starts at a slot of its own, from a hash of its name,
  so many one-partition topics spread about evenly too.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping

Key = tuple[str, int]  # (topic, partition)


def slot_of(topic: str, partition: int, task_max: int) -> int:
    """The slot (0 .. task_max - 1) whose member copies `topic`[`partition`].

    CRC-32 rather than Python's `hash`: the same in every process and every release.
    """
    return (zlib.crc32(topic.encode()) + partition) % task_max


def share(partitions: Mapping[str, int], slot: int, task_max: int) -> set[Key]:
    """The partitions of `partitions` (topic -> partition count) that slot `slot` copies."""
    return {
        (topic, p)
        for topic, count in partitions.items()
        for p in range(count)
        if slot_of(topic, p, task_max) == slot
    }
