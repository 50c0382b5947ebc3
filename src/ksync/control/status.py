"""Status derivation: from desired state and what workers report, the task's status.

Invariant (docs/design.md "Lifecycle and statuses"): Running only when every slot runs
on a live worker with the task's current generation, the union of the members' partitions covers every
partition of the resolved topics, *and* no member is left without partitions while there
are enough to go round (Kafka's assignors give every member one when partitions >=
members, so an idle member means a rebalance is still moving partitions to it); anything
short of that is Unassigned. Failed is
decided by the controller (persistent errors) and stays until the user starts the task.
A task that copies no records (`options.mode: metadata`) has no members: it is Running
once its topic selection is resolved, since keeping its topics in step is all it does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ksync.domain.status import Desired, MemberState, TaskStatus
from ksync.domain.workers import MemberView


@dataclass(frozen=True)
class Derived:
    status: TaskStatus
    error: str | None = None


def live_members(members: Sequence[MemberView], generation: int, live: set[str]) -> list[MemberView]:
    """Members of the current generation that run on live workers."""
    return [m for m in members if m.generation == generation and m.worker_id in live and m.active]


def derive_status(
    desired: Desired,
    current_status: TaskStatus,
    generation: int,
    slots: dict[int, str | None],
    members: Sequence[MemberView],
    live: set[str],
    expected_partitions: set[tuple[str, int]] | None,
    copies_records: bool = True,
) -> Derived:
    """The status a task shows now. `expected_partitions` is None before topics resolve;
    `copies_records` is False for a metadata-only task (it runs no member)."""
    if desired == Desired.DELETED:
        return Derived(TaskStatus.TERMINATING)
    if desired == Desired.PAUSED:
        running = [m for m in members if m.worker_id in live and m.active]
        # Paused only once every member committed and stopped; until then it shows what
        # it was (the CKafka face calls this "pausing").
        return Derived(TaskStatus.PAUSED if not running else current_status)
    if current_status == TaskStatus.FAILED:
        return Derived(TaskStatus.FAILED)
    current = [m for m in members if m.generation == generation and m.worker_id in live]
    for m in current:
        if m.state == MemberState.FAILED and m.error:
            return Derived(TaskStatus.FAILED, f"member {m.slot}: {m.error}")
    if not copies_records:
        return Derived(TaskStatus.UNASSIGNED if expected_partitions is None else TaskStatus.RUNNING)
    if expected_partitions is None or any(w is None for w in slots.values()) or not slots:
        return Derived(TaskStatus.UNASSIGNED)
    by_slot = {m.slot: m for m in live_members(members, generation, live)}
    for slot, worker in slots.items():
        member = by_slot.get(slot)
        if member is None or member.worker_id != worker or member.state != MemberState.RUNNING:
            return Derived(TaskStatus.UNASSIGNED)
    owned = {(t, p) for m in by_slot.values() for t, p in m.partitions}
    if not expected_partitions <= owned:
        return Derived(TaskStatus.UNASSIGNED)
    if len(expected_partitions) >= len(slots) and any(not m.partitions for m in by_slot.values()):
        return Derived(TaskStatus.UNASSIGNED)
    return Derived(TaskStatus.RUNNING)
