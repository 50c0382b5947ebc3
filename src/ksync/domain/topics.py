"""A task's topic mappings: which source topic goes to which target topic.

The controller decides them (replication.topic_mirror) and stores them with the task; the
worker hands them to its members, and every face shows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TopicMapping:
    """A source topic, its target topic and partition count, as a task stores it.

    `partitions_at_start`: how many of its partitions existed when the task started; those
    begin at the task's start point, later ones at their first record (see
    `partition_start`). None until the controller has decided it.
    """

    source: str
    target: str
    partitions: int
    partitions_at_start: int | None = None

    def as_json(self) -> dict[str, object]:
        """The mapping as the store keeps it (`partitions_at_start` only once decided)."""
        out: dict[str, object] = {
            "source": self.source,
            "target": self.target,
            "partitions": self.partitions,
        }
        if self.partitions_at_start is not None:
            out["partitions_at_start"] = self.partitions_at_start
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TopicMapping:
        """The mapping as `as_json` stored it (or as stored before `partitions_at_start`)."""
        at_start = data.get("partitions_at_start")
        return cls(
            source=data["source"],
            target=data["target"],
            partitions=int(data["partitions"]),
            partitions_at_start=None if at_start is None else int(at_start),
        )

    def with_partitions_at_start(self, value: int) -> TopicMapping:
        """The same mapping with `partitions_at_start` decided."""
        return TopicMapping(self.source, self.target, self.partitions, value)
