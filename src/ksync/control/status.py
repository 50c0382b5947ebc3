"""Status derivation: from desired state and what workers report, the task's status.

Invariant (DESIGN.md "Lifecycle"): Running only when every slot runs on a live worker
with the task's current generation *and* the union of the members' partitions covers
every partition of the resolved topics; anything short of that is Unassigned. Failed is
decided by the controller (persistent errors) and stays until the user starts the task.
"""

from __future__ import annotations

from dataclasses import dataclass

from ksync.store.tables import MemberRow

# States of a member that may still read or write records.
RUNNING_STATES = ("starting", "running", "restarting", "stopping")


@dataclass(frozen=True)
class Derived:
    status: str
    error: str | None = None


def live_members(members: list[MemberRow], generation: int, live: set[str]) -> list[MemberRow]:
    """Members of the current generation that run on live workers."""
    return [
        m
        for m in members
        if m.generation == generation and m.worker_id in live and m.state in RUNNING_STATES
    ]


def derive_status(
    desired: str,
    current_status: str,
    generation: int,
    slots: dict[int, str | None],
    members: list[MemberRow],
    live: set[str],
    expected_partitions: set[tuple[str, int]] | None,
) -> Derived:
    """The status a task shows now. `expected_partitions` is None before topics resolve."""
    if desired == "deleted":
        return Derived("Terminating")
    if desired == "paused":
        running = [m for m in members if m.worker_id in live and m.state in RUNNING_STATES]
        # Paused only once every member committed and stopped; until then it shows what
        # it was (the CKafka face calls this "pausing").
        return Derived("Paused" if not running else current_status)
    if current_status == "Failed":
        return Derived("Failed")
    current = [m for m in members if m.generation == generation and m.worker_id in live]
    for m in current:
        if m.state == "failed" and m.error:
            return Derived("Failed", f"member {m.slot}: {m.error}")
    if expected_partitions is None or any(w is None for w in slots.values()) or not slots:
        return Derived("Unassigned")
    by_slot = {m.slot: m for m in live_members(members, generation, live)}
    for slot, worker in slots.items():
        member = by_slot.get(slot)
        if member is None or member.worker_id != worker or member.state != "running":
            return Derived("Unassigned")
    owned = {(t, p) for m in by_slot.values() for t, p in m.partitions}
    return Derived("Running" if expected_partitions <= owned else "Unassigned")
