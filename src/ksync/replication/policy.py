"""Replication policy: how a source topic name becomes a target topic name, and back.

This is the one place the naming rule is written (MM2's `ReplicationPolicy`): the
controller names target topics with it, the task service checks a task's names with it,
and the faces that describe or parse naming (the Kafka Connect and Tencent Cloud faces)
ask it rather than joining strings themselves.

The rule: a source topic listed in the task's `target.topic_map` goes to the name given
there; every other one to `prefix + separator + name` (the name itself with no prefix).
Several source topics may share one target topic (a merge) only without keep_partition:
partition p of two topics cannot both keep the number p in one topic, so their records
are spread over the target's partitions by key instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from ksync.spec import TargetSpec

MERGE_NEEDS_SPREAD = (
    "partitions of different source topics cannot keep their numbers in one target topic: "
    "set target.keep_partition to false (records are then spread by key), or give each "
    "source topic a target topic of its own"
)


@dataclass(frozen=True)
class ReplicationPolicy:
    """Target name = `topic_map[source]`, else `prefix + separator + source`; an empty
    prefix keeps the name."""

    prefix: str = ""
    separator: str = "."
    topic_map: Mapping[str, str] = field(default_factory=dict, hash=False)

    @classmethod
    def of(cls, target: TargetSpec) -> ReplicationPolicy:
        """The policy a task's target settings describe."""
        return cls(target.topic_prefix, target.separator, dict(target.topic_map))

    def target_topic(self, source_topic: str) -> str:
        """The target topic `source_topic` is copied to."""
        mapped = self.topic_map.get(source_topic)
        if mapped is not None:
            return mapped
        return self.prefixed(source_topic)

    def prefixed(self, source_topic: str) -> str:
        """The name the prefix rule gives `source_topic` (what an unmapped topic gets)."""
        if not self.prefix:
            return source_topic
        return f"{self.prefix}{self.separator}{source_topic}"

    def source_topic(self, target_topic: str) -> str | None:
        """The reverse of the prefix rule (MM2's `topicSource`): what follows this
        policy's prefix in `target_topic`, or None when the name does not carry the prefix.
        With an empty prefix every name is its own source. Mapped names have no reverse
        of their own (several topics may map onto one): see `mapped_sources`."""
        if not self.prefix:
            return target_topic
        head = self.prefix + self.separator
        return target_topic[len(head) :] if target_topic.startswith(head) else None

    def mapped_sources(self, target_topic: str) -> list[str]:
        """The source topics `topic_map` sends to `target_topic`, sorted."""
        return sorted(s for s, t in self.topic_map.items() if t == target_topic)

    def is_target_topic(self, topic: str) -> bool:
        """Whether `topic` is a name this policy gives (it carries the prefix, or the map
        names it): a topic a task on one cluster must never read back (it would copy its
        own copies)."""
        if topic in self.topic_map.values():
            return True
        return bool(self.prefix) and self.source_topic(topic) is not None

    def target_pattern(self) -> str:
        """A regex matching every name the prefix rule gives (for configs stored as
        regexes)."""
        if not self.prefix:
            return ".*"
        return re.escape(self.prefix) + re.escape(self.separator) + ".*"

    def merges(self, sources: Iterable[str]) -> dict[str, list[str]]:
        """Target topics that several of `sources` are copied to, each with them, sorted."""
        by_target: dict[str, list[str]] = {}
        for source in sorted(set(sources)):
            by_target.setdefault(self.target_topic(source), []).append(source)
        return {t: s for t, s in by_target.items() if len(s) > 1}

    def merge_problem(
        self, listed: Iterable[str], selects: Callable[[str], bool], keep_partition: bool
    ) -> str | None:
        """Why this naming is not allowed for a task, or None: under keep_partition no two
        source topics may share a target topic. Checked when a task is saved.

        `listed` are the source topics the task names, `selects` its selection rule. The
        topics that can be known then are the listed and mapped ones, and a topic whose
        prefix name a mapped name takes (`orders-bak` <- `p.x` with prefix `p` means
        topic `x`) when the selection would copy it.
        """
        if not keep_partition:
            return None
        candidates = set(listed) | set(self.topic_map)
        for mapped in self.topic_map.values():
            unmapped = self.source_topic(mapped)
            if unmapped is not None and unmapped not in self.topic_map and selects(unmapped):
                candidates.add(unmapped)
        merged = self.merges(candidates)
        if not merged:
            return None
        target, sources = next(iter(merged.items()))
        return (
            f"source topics {', '.join(sources)} would all be copied to target topic "
            f"{target} with keep_partition true; {MERGE_NEEDS_SPREAD}"
        )
