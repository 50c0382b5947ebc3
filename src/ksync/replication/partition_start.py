"""Where a partition with no committed progress starts.

Invariant: the task's start point (`earliest`, `latest`, `timestamp`) applies only to the
partitions that existed when the task started: when its topic selection was first
resolved, or when its progress was last reset. Anything that appears later has no history
to skip and starts at its first record (`earliest`), as MirrorMaker 2's tasks do:

* a partition added to a topic already being synced (partition >= `partitions_at_start`);
* every partition of a topic that joined the selection later (`partitions_at_start` = 0):
  a new topic matching the regex, a topic added by a configuration change, a topic whose
  target could not be created at first.

The controller decides `partitions_at_start` once per topic and keeps it in the task's
stored topics, so every member, restarted or not, on any worker, decides alike. A member
resolves a partition's start only on its first assignment and commits it at once, so the
decision is never taken twice for one partition.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from confluent_kafka import OFFSET_BEGINNING, KafkaError, KafkaException, TopicPartition

from ksync.domain.topics import TopicMapping
from ksync.kafka.errors import partition_errors
from ksync.spec import StartPoint

EARLIEST = StartPoint(type="earliest")


def partition_start(
    start: StartPoint, partition: int, partitions_at_start: int | None
) -> StartPoint:
    """The start point of `partition` of a topic whose first `partitions_at_start`
    partitions existed when the task started (None: not known, taken as all of them)."""
    if partitions_at_start is not None and partition >= partitions_at_start:
        return EARLIEST
    return start


def carry_start_layout(
    previous: Iterable[TopicMapping], current: Sequence[TopicMapping], started: bool
) -> list[TopicMapping]:
    """`current` (a fresh resolution of the selection) with `partitions_at_start` set.

    A topic the task already syncs keeps the value it had (one stored before the value
    existed counts all its partitions then known). A topic new to the task gets 0 once the
    task has `started` (its selection was resolved before); at the first resolution every
    topic gets its current partition count, so the start point applies to all of it.
    """
    known = {
        m.source: m.partitions if m.partitions_at_start is None else m.partitions_at_start
        for m in previous
    }
    return [
        m.with_partitions_at_start(known.get(m.source, 0 if started else m.partitions))
        for m in current
    ]


def restart_layout(topics: Iterable[TopicMapping]) -> list[TopicMapping]:
    """After a progress reset the start point applies again to every partition there is,
    and each topic's id is taken afresh at the next refresh: a topic deleted and created
    again is then copied as the new topic it is."""
    return [m.with_partitions_at_start(m.partitions).with_topic_id(None) for m in topics]


class _OffsetLookup(Protocol):
    """The consumer calls a start resolution needs (a `Consumer` has them all)."""

    def offsets_for_times(
        self, partitions: list[TopicPartition], timeout: float = ...
    ) -> list[TopicPartition]: ...

    def get_watermark_offsets(
        self, partition: TopicPartition, timeout: float = ..., cached: bool = ...
    ) -> tuple[int, int] | None: ...

    def list_topics(self, topic: str | None = ..., timeout: float = ...) -> object: ...


def resolve_offsets(
    consumer: _OffsetLookup,
    partitions: Sequence[TopicPartition],
    starts: Sequence[StartPoint],
    timeout_s: float,
) -> list[TopicPartition]:
    """Numeric offsets for `partitions`, each from its start point in `starts`.

    A timestamp finds the first record at or after it (ListOffsets by time, one request
    for all such partitions); with none there, the partition starts at its end. A
    partition the lookup answers with an error raises KafkaException with that error.
    """
    out: dict[tuple[str, int], int] = {}
    by_time: dict[int, list[TopicPartition]] = {}
    for tp, start in zip(partitions, starts, strict=True):
        if start.type == "timestamp":
            assert start.timestamp_ms is not None
            by_time.setdefault(start.timestamp_ms, []).append(tp)
            continue
        marks = consumer.get_watermark_offsets(tp, timeout=timeout_s, cached=False)
        index = 0 if start.type == "earliest" else 1
        out[(tp.topic, tp.partition)] = marks[index] if marks is not None else OFFSET_BEGINNING
    for ts, tps in by_time.items():
        query = [TopicPartition(tp.topic, tp.partition, ts) for tp in tps]
        found_all = consumer.offsets_for_times(query, timeout=timeout_s)
        failed = partition_errors(found_all)
        if failed:
            # An errored lookup's offset (-1) would read as "no record at or after the
            # timestamp" and start the partition at its end, skipping records.
            topic, partition, err = failed[0]
            raise KafkaException(
                KafkaError(err.code(), f"looking up {topic}[{partition}] by timestamp: {err.str()}")
            )
        for found in found_all:
            offset = found.offset
            if offset < 0:  # no record at or after the timestamp: start at the end
                marks = consumer.get_watermark_offsets(found, timeout=timeout_s, cached=False)
                offset = marks[1] if marks is not None else OFFSET_BEGINNING
            out[(found.topic, found.partition)] = offset
    return [
        TopicPartition(tp.topic, tp.partition, out[(tp.topic, tp.partition)]) for tp in partitions
    ]


# What a lookup on a partition added moments ago may meet before metadata catches up.
_NEW_PARTITION_ERRORS = frozenset(
    {
        KafkaError._UNKNOWN_PARTITION,
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.LEADER_NOT_AVAILABLE,
    }
)


def first_offsets(
    consumer: _OffsetLookup,
    partitions: Sequence[TopicPartition],
    start: StartPoint,
    partitions_at_start: Mapping[str, int],
    timeout_s: float,
    stop: threading.Event,
) -> list[TopicPartition] | None:
    """Numeric start offsets for `partitions`, which have no committed progress: the task's
    `start`, or the first record of a newcomer (`partition_start`).

    A partition added moments ago may be unknown to the consumer's metadata (the group
    leader's view assigned it) or still without a leader: the topics' metadata is read
    again until the lookup succeeds or `timeout_s` passes. None when `stop` is set while
    waiting; a KafkaException for any other failure.
    """
    starts = [
        partition_start(start, tp.partition, partitions_at_start.get(tp.topic)) for tp in partitions
    ]
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return resolve_offsets(consumer, partitions, starts, timeout_s)
        except KafkaException as exc:
            if exc.args[0].code() not in _NEW_PARTITION_ERRORS or time.monotonic() > deadline:
                raise
        if stop.wait(0.2):
            return None
        for topic in sorted({tp.topic for tp in partitions}):
            consumer.list_topics(topic, timeout=min(5.0, timeout_s))
