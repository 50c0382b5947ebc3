"""Workers and the members they run, as the controller and the faces see them, and the
report a worker writes about each member with every heartbeat."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ksync.domain.status import ACTIVE_MEMBER_STATES, MemberState


@dataclass(frozen=True)
class WorkerView:
    """A live worker process and its last heartbeat."""

    id: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    # How many members it hosts at most (`--max-members`); None = no cap.
    max_members: int | None = None


@dataclass(frozen=True)
class MemberView:
    """What a worker last reported about the member it runs for one slot of a task."""

    task_id: str
    slot: int
    worker_id: str
    generation: int
    state: MemberState
    partitions: tuple[tuple[str, int], ...]
    # Per partition: topic, partition, committed_offset, end_offset.
    progress: tuple[dict[str, Any], ...]
    error: str | None
    warnings: tuple[str, ...]
    records_total: int
    # Cumulative counters since the member started (see monitoring.latency, aggregate).
    metrics: Mapping[str, Any] | None
    updated_at: datetime

    @property
    def active(self) -> bool:
        """The member may still read or write records."""
        return self.state in ACTIVE_MEMBER_STATES


def in_the_way(
    members: Iterable[MemberView], generation: int, slot: int | None = None
) -> list[MemberView]:
    """The members of a task that may still copy a partition that a member of
    `generation` (in `slot`, if given) would own, so that it must not start yet.

    Two members never copy one partition at once (docs/design.md, "Partition shares"):
    within a generation the slots' shares are disjoint (a change of `task_max` starts a new
    generation), so what stands in the way is an active member of another generation, or
    the slot's own member of this generation still active on another worker.
    """
    return [m for m in members if m.active and blocks(m.generation, m.slot, generation, slot)]


def blocks(other_generation: int, other_slot: int, generation: int, slot: int | None) -> bool:
    """Whether an active member (`other_generation`, `other_slot`) may hold a partition of
    the share a member of `generation` (in `slot`, if given) would take: the rule of
    `in_the_way`, for callers that know their members first-hand."""
    return other_generation != generation or (slot is not None and other_slot == slot)


@dataclass(frozen=True)
class MemberReport:
    """A worker's report about one member it runs (written with every heartbeat)."""

    task_id: str
    slot: int
    generation: int
    state: MemberState
    partitions: Sequence[tuple[str, int]]
    progress: Sequence[Mapping[str, Any]]
    error: str | None
    warnings: Sequence[str]
    records_total: int
    metrics: Mapping[str, Any] | None = None
    # Offset pairs recorded since the last report: (source topic, target topic,
    # partition, source offset, target offset), for offset sync
    # (`ksync.replication.offset_translation`).
    offset_pairs: Sequence[tuple[str, str, int, int, int]] = ()
