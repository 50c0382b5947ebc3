"""Topic selection: an explicit list, a regex, or both, minus an exclude regex."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ksync.kafka.admin import is_internal_topic
from ksync.patterns import NameSelection
from ksync.spec import SourceSpec


@dataclass(frozen=True)
class TopicFilter:
    """Answers one question: should this source topic be synced?

    Regexes match the whole topic name (as Kafka's and MM2's topic patterns do), in time
    linear in the name (`ksync.patterns`). Internal topics (`__*`) never match, even when
    listed.
    """

    selection: NameSelection

    @classmethod
    def from_spec(cls, source: SourceSpec) -> TopicFilter:
        """The filter of a source spec; PatternError naming the field if a stored pattern
        cannot run."""
        return cls(
            NameSelection.of(
                source.topics,
                ("source.topic_regex", source.topic_regex),
                ("source.exclude_regex", source.exclude_regex),
            )
        )

    @property
    def names(self) -> frozenset[str]:
        """The topics the user listed by name."""
        return self.selection.names

    def should_replicate(self, topic: str) -> bool:
        return not is_internal_topic(topic) and self.selection.selects(topic)

    def select(self, existing: Iterable[str]) -> list[str]:
        """The existing topics to sync, sorted."""
        return sorted(t for t in existing if self.should_replicate(t))
