"""Replication policy: how a source topic name becomes a target topic name, and back.

This is the one place the naming rule is written (MM2's `ReplicationPolicy`): the
controller names target topics with it, and the faces that describe or parse naming (the
Kafka Connect and Tencent Cloud faces) ask it rather than joining strings themselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ksync.spec import TargetSpec


@dataclass(frozen=True)
class ReplicationPolicy:
    """Target name = `prefix + separator + source`; an empty prefix keeps the name."""

    prefix: str = ""
    separator: str = "."

    @classmethod
    def of(cls, target: TargetSpec) -> ReplicationPolicy:
        """The policy a task's target settings describe."""
        return cls(target.topic_prefix, target.separator)

    def target_topic(self, source_topic: str) -> str:
        """The target topic `source_topic` is copied to."""
        if not self.prefix:
            return source_topic
        return f"{self.prefix}{self.separator}{source_topic}"

    def source_topic(self, target_topic: str) -> str | None:
        """The reverse (MM2's `topicSource`): what follows this policy's prefix in
        `target_topic`, or None when the name does not carry the prefix, so is not a
        target topic of this policy. With an empty prefix every name is its own source."""
        if not self.prefix:
            return target_topic
        head = self.prefix + self.separator
        return target_topic[len(head) :] if target_topic.startswith(head) else None

    def is_target_topic(self, topic: str) -> bool:
        """Whether `topic` carries this policy's prefix: a topic it names, which a task on
        one cluster must never read back (it would copy its own copies)."""
        return bool(self.prefix) and self.source_topic(topic) is not None

    def target_pattern(self) -> str:
        """A regex matching every name this policy gives (for configs stored as regexes)."""
        if not self.prefix:
            return ".*"
        return re.escape(self.prefix) + re.escape(self.separator) + ".*"
