"""Replication policy: how a source topic name becomes a target topic name."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReplicationPolicy:
    """Target name = `prefix + separator + source`; an empty prefix keeps the name."""

    prefix: str = ""
    separator: str = "."

    def target_topic(self, source_topic: str) -> str:
        if not self.prefix:
            return source_topic
        return f"{self.prefix}{self.separator}{source_topic}"
