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
    whether it is copied, and the sentence saying why not when it is blocked. `topic_id`:
    the source topic's Kafka topic id when the task first saw it; a topic deleted and
    created again under its name has another, and is blocked, not copied on top of what
    the old one left on the target (`replication.topic_mirror`). `acls_granted`: the READ
    ACLs ksync itself created on the target topic (`options.sync_topic_acls`), each as
    (principal, host, ALLOW or DENY): only these does it remove again when the source no
    longer has them (`replication.acl_sync`). `blocked_at`: for a topic
    a member blocked, the (partition, offset) of the record the target refused; the topic
    stays blocked until a member has copied past it, even while no member reports the
    block (a restarted member has not read that far yet). `warning`: what the controller
    could not apply to a topic that still syncs (a config the target refuses, partitions
    it cannot add, a new target name it refuses: the old configuration keeps running),
    also among the task's warnings; set afresh at every topic refresh.
    """

    source: str
    target: str
    partitions: int
    partitions_at_start: int | None = None
    state: TopicState = "syncing"
    error: str | None = None
    blocked_by: BlockedBy | None = None
    topic_id: str | None = None
    acls_granted: tuple[tuple[str, str, str], ...] = ()
    blocked_at: tuple[int, int] | None = None
    warning: str | None = None

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
        if self.topic_id is not None:
            out["topic_id"] = self.topic_id
        if self.acls_granted:
            out["acls_granted"] = [list(a) for a in self.acls_granted]
        if self.blocked_at is not None:
            out["blocked_at"] = {"partition": self.blocked_at[0], "offset": self.blocked_at[1]}
        if self.warning is not None:
            out["warning"] = self.warning
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TopicMapping:
        """The mapping as `as_json` stored it (or as stored before `partitions_at_start`,
        `state` and `topic_id`: syncing, id not known yet)."""
        at_start = data.get("partitions_at_start")
        state = data.get("state", "syncing")
        at = data.get("blocked_at")
        return cls(
            source=data["source"],
            target=data["target"],
            partitions=int(data["partitions"]),
            partitions_at_start=None if at_start is None else int(at_start),
            state=state if state in TOPIC_STATES else "syncing",
            error=data.get("error"),
            blocked_by=data.get("blocked_by"),
            topic_id=data.get("topic_id"),
            acls_granted=tuple(
                (str(p), str(h), str(perm)) for p, h, perm in data.get("acls_granted") or ()
            ),
            blocked_at=None if at is None else (int(at["partition"]), int(at["offset"])),
            warning=data.get("warning"),
        )

    def with_partitions_at_start(self, value: int) -> TopicMapping:
        """The same mapping with `partitions_at_start` decided."""
        return replace(self, partitions_at_start=value)

    def blocked(
        self, error: str, by: BlockedBy = "topic", at: tuple[int, int] | None = None
    ) -> TopicMapping:
        """The same mapping, blocked for the reason `error` (by a member: at the record
        `at`, partition and offset, when known)."""
        return replace(self, state="blocked", error=error, blocked_by=by, blocked_at=at)

    def noted(self, warning: str) -> TopicMapping:
        """The same mapping, still synced, with what could not be applied to it."""
        return replace(self, warning=warning)

    def with_topic_id(self, topic_id: str | None) -> TopicMapping:
        """The same mapping, for the source topic with id `topic_id`."""
        return replace(self, topic_id=topic_id)

    def with_acls_granted(self, granted: tuple[tuple[str, str, str], ...]) -> TopicMapping:
        """The same mapping, with the READ ACLs ksync created on its target topic."""
        return replace(self, acls_granted=granted)

    def unblocked(self) -> TopicMapping:
        """The same mapping, syncing."""
        return replace(self, state="syncing", error=None, blocked_by=None, blocked_at=None)


def lost_to_retention(topic: str, partition: int, records: int, first: int, earliest: int) -> str:
    """The warning for records of a partition that the source deleted (retention) before
    ksync copied them: `records` in all, the last gap being offsets `first` to
    `earliest` - 1; copying goes on from `earliest`, the earliest record left."""
    gap = f"offsets {first} to {earliest - 1}"
    return (
        f"topic {topic} partition {partition}: {records} record{'s' if records != 1 else ''} "
        f"lost to retention: the source deleted them before ksync copied them (the task was "
        f"paused or behind for longer than the topic's retention; last gap {gap}); copying "
        f"goes on from offset {earliest}, the earliest record left"
    )


def past_the_end(topic: str, partition: int, position: int, end: int, earliest: int) -> str:
    """The warning for a partition whose progress lies beyond its end on the source (its
    log was truncated, or the topic was recreated): copied again from its first record."""
    return (
        f"topic {topic} partition {partition}: the task's position {position} is past the "
        f"partition's end {end} on the source (its log was truncated, or the topic was "
        f"deleted and created again); copying goes on from offset {earliest}, the earliest "
        "record left, so records may repeat on the target"
    )


def recreated_topic(source: str, target: str, known_id: str, topic_id: str) -> str:
    """Why a source topic deleted and created again under its name is not copied."""
    return (
        f"source topic {source} was deleted and created again (topic id {known_id} before, "
        f"{topic_id} now): its offsets start over, so ksync does not copy it on top of what "
        f"the old topic left in target topic {target}. To copy the new topic, pause the task, "
        "reset its progress (POST /api/v1/tasks/<id>/reset, `ksync task reset`, or DELETE "
        "/connectors/<name>/offsets on the Connect face) and start it; delete target topic "
        f"{target} first if the old topic's records must not stay in front of the new ones. "
        "The rest of the task keeps flowing"
    )


def deleted_topic(source: str, target: str) -> str:
    """Why a source topic the task copied shows as blocked once the source deleted it."""
    return (
        f"source topic {source} no longer exists on the source (deleted): nothing is copied "
        f"from it; if a topic of that name is created again, ksync blocks it rather than copy "
        f"it on top of target topic {target}, until the task's progress is reset"
    )
