"""A task's topic mappings: which source topic goes to which target topic, and whether it
is being copied.

The controller decides them (replication.topic_mirror) and stores them with the task; the
worker hands the syncing ones to its members, and every face shows them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal, get_args

# syncing: copied. blocked: selected but not copied now, for the reason in `error`; retried
# at every topic refresh, and resumed where its progress stopped once the cause is gone.
# excluded: named by the user but left out by the selection rules (the exclude regex).
TopicState = Literal["syncing", "blocked", "excluded"]
TOPIC_STATES: tuple[TopicState, ...] = get_args(TopicState)

# Who blocked a topic: the controller, because the target topic cannot take it ("topic":
# too few partitions, refused to create it, authorization), or a member, because the
# target refused one of its records ("record"). Members never get a topic the controller
# blocked; a topic a member blocked stays with the member, which retries it itself.
BlockedBy = Literal["topic", "record"]


@dataclass(frozen=True)
class TopicMapping:
    """A source topic, its target topic and partition count, as a task stores it.

    `partitions_at_start`: how many of its partitions existed when the task started; those
    begin at the task's start point, later ones at their first record (see
    `partition_start`). None until the controller has decided it. `state` and `error`:
    whether it is copied, and the sentence saying why not when it is blocked.
    """

    source: str
    target: str
    partitions: int
    partitions_at_start: int | None = None
    state: TopicState = "syncing"
    error: str | None = None
    blocked_by: BlockedBy | None = None

    @property
    def syncing(self) -> bool:
        """Members copy this topic."""
        return self.state == "syncing"

    @property
    def copied(self) -> bool:
        """Members hold this topic's partitions: it is syncing, or a member blocked it
        (and pauses it) after the target refused one of its records."""
        return self.syncing or self.blocked_by == "record"

    def as_json(self) -> dict[str, object]:
        """The mapping as the store keeps it and the faces show it (`partitions_at_start`
        only once decided, `error` only when blocked)."""
        out: dict[str, object] = {
            "source": self.source,
            "target": self.target,
            "partitions": self.partitions,
            "state": self.state,
            "error": self.error,
        }
        if self.partitions_at_start is not None:
            out["partitions_at_start"] = self.partitions_at_start
        if self.blocked_by is not None:
            out["blocked_by"] = self.blocked_by
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TopicMapping:
        """The mapping as `as_json` stored it (or as stored before `partitions_at_start`
        and `state`: syncing)."""
        at_start = data.get("partitions_at_start")
        state = data.get("state", "syncing")
        return cls(
            source=data["source"],
            target=data["target"],
            partitions=int(data["partitions"]),
            partitions_at_start=None if at_start is None else int(at_start),
            state=state if state in TOPIC_STATES else "syncing",
            error=data.get("error"),
            blocked_by=data.get("blocked_by"),
        )

    def with_partitions_at_start(self, value: int) -> TopicMapping:
        """The same mapping with `partitions_at_start` decided."""
        return replace(self, partitions_at_start=value)

    def blocked(self, error: str, by: BlockedBy = "topic") -> TopicMapping:
        """The same mapping, blocked for the reason `error`."""
        return replace(self, state="blocked", error=error, blocked_by=by)

    def unblocked(self) -> TopicMapping:
        """The same mapping, syncing."""
        return replace(self, state="syncing", error=None, blocked_by=None)
