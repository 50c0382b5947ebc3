"""Topic selection: an explicit list, a regex, or both, minus an exclude regex."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ksync.kafka.admin import is_internal_topic
from ksync.patterns import Pattern, compile_pattern
from ksync.spec import SourceSpec


@dataclass(frozen=True)
class TopicFilter:
    """Answers one question: should this source topic be synced?

    Regexes match the whole topic name (as Kafka's and MM2's topic patterns do), in time
    linear in the name (`ksync.patterns`). Internal topics (`__*`) never match, even when
    listed.
    """

    names: frozenset[str]
    include: Pattern | None
    exclude: Pattern | None

    @classmethod
    def from_spec(cls, source: SourceSpec) -> TopicFilter:
        """The filter of a source spec; PatternError naming the field if a stored pattern
        cannot run."""
        return cls(
            names=frozenset(source.topics),
            include=compile_pattern("source.topic_regex", source.topic_regex)
            if source.topic_regex
            else None,
            exclude=compile_pattern("source.exclude_regex", source.exclude_regex)
            if source.exclude_regex
            else None,
        )

    def should_replicate(self, topic: str) -> bool:
        if is_internal_topic(topic):
            return False
        if self.exclude is not None and self.exclude.fullmatch(topic):
            return False
        return topic in self.names or (
            self.include is not None and self.include.fullmatch(topic) is not None
        )

    def select(self, existing: Iterable[str]) -> list[str]:
        """The existing topics to sync, sorted."""
        return sorted(t for t in existing if self.should_replicate(t))
