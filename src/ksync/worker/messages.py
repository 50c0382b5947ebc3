"""What a worker and its member processes say to each other (`ksync.worker.pool`).

Each message is a small frozen value, pickled over the socket pair between the two
processes. A member is named by its run id, not its slot: a slot's next member may start
while the last one still reports its final state.
"""

from __future__ import annotations

from dataclasses import dataclass

from ksync.replication.member import MemberConfig, MemberSnapshot
from ksync.replication.throttle import Limits


@dataclass(frozen=True)
class Start:
    """Start a member for `cfg` under `run_id`, with its share of the traffic limits."""

    run_id: str
    cfg: MemberConfig
    limits: Limits | None


@dataclass(frozen=True)
class Stop:
    """Ask the member to commit its progress and exit."""

    run_id: str


@dataclass(frozen=True)
class Topics:
    """A new topic mapping and layout for the member (`Member.update_topics`)."""

    run_id: str
    topics: dict[str, str]
    partitions: dict[str, int]
    partitions_at_start: dict[str, int]


@dataclass(frozen=True)
class SetLimits:
    """The member's new share of its task's traffic limits."""

    run_id: str
    limits: Limits


@dataclass(frozen=True)
class Shutdown:
    """Stop every member (each commits), then exit."""


@dataclass(frozen=True)
class Reports:
    """The member process's members as they are now, by run id."""

    snapshots: dict[str, MemberSnapshot]


@dataclass(frozen=True)
class Exited:
    """A member finished running: its last state, and whether a restart cannot mend it."""

    run_id: str
    snapshot: MemberSnapshot
    persistent: bool


ToChild = Start | Stop | Topics | SetLimits | Shutdown
ToWorker = Reports | Exited
