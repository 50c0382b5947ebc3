"""The words of the lifecycle, each spelled once (docs/design.md "Lifecycle and statuses").

They are `StrEnum`s: a member compares equal to the string stored in the database and
serialises as that string in JSON, so the store and the API keep their formats.
"""

from __future__ import annotations

from enum import StrEnum


class TaskStatus(StrEnum):
    """What a task shows, spelled as the seed spells it."""

    UNASSIGNED = "Unassigned"
    RUNNING = "Running"
    PAUSED = "Paused"
    FAILED = "Failed"
    TERMINATING = "Terminating"


class Desired(StrEnum):
    """What the user asked a task to be; the controller converges the status to it."""

    RUNNING = "running"
    PAUSED = "paused"
    DELETED = "deleted"


class MemberState(StrEnum):
    """What a worker reports about one member it runs."""

    STARTING = "starting"
    RUNNING = "running"
    RESTARTING = "restarting"  # failed on a transient error; started again after a backoff
    STOPPING = "stopping"  # asked to stop; may still copy until it has committed
    STOPPED = "stopped"
    FAILED = "failed"


# States of a member that may still read or write records.
ACTIVE_MEMBER_STATES = frozenset(
    {MemberState.STARTING, MemberState.RUNNING, MemberState.RESTARTING, MemberState.STOPPING}
)
