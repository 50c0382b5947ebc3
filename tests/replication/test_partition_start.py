"""Where a partition with no progress starts: the task's start point for what existed when
the task started, the first record for what appeared later. Pure rules, no broker."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from ksync.domain.topics import TopicMapping
from ksync.replication.partition_start import (
    EARLIEST,
    carry_start_layout,
    partition_start,
    resolve_offsets,
    restart_layout,
)
from ksync.spec import StartPoint

LATEST = StartPoint(type="latest")
AT_T = StartPoint(type="timestamp", timestamp_ms=1_700_000_000_000)


@pytest.mark.parametrize("start", [LATEST, AT_T, EARLIEST], ids=lambda s: s.type)
def test_partitions_that_existed_at_the_start_use_the_start_point(start: StartPoint) -> None:
    assert [partition_start(start, p, 3) for p in range(3)] == [start] * 3


@pytest.mark.parametrize("start", [LATEST, AT_T, EARLIEST], ids=lambda s: s.type)
def test_partitions_added_later_start_at_their_first_record(start: StartPoint) -> None:
    assert [partition_start(start, p, 3) for p in (3, 4, 10)] == [EARLIEST] * 3


def test_every_partition_of_a_topic_that_joined_later_starts_at_its_first_record() -> None:
    assert [partition_start(LATEST, p, 0) for p in range(4)] == [EARLIEST] * 4


def test_a_topic_with_no_known_layout_uses_the_start_point_for_every_partition() -> None:
    assert [partition_start(LATEST, p, None) for p in range(4)] == [LATEST] * 4


def m(source: str, partitions: int, at_start: int | None = None) -> TopicMapping:
    return TopicMapping(source, f"bk.{source}", partitions, at_start)


def test_the_first_resolution_counts_every_partition_as_existing_at_the_start() -> None:
    assert carry_start_layout([], [m("a", 3), m("b", 1)], started=False) == [
        m("a", 3, 3),
        m("b", 1, 1),
    ]


def test_a_topic_new_to_a_started_task_counts_no_partition_as_existing_at_the_start() -> None:
    # Also when the first resolution matched nothing: `started` says it happened.
    assert carry_start_layout([], [m("late", 2)], started=True) == [m("late", 2, 0)]


def test_a_grown_topic_keeps_its_count_from_the_start() -> None:
    previous = [m("a", 3, 3), m("b", 2, 0)]
    current = [m("a", 5), m("b", 4), m("c", 1)]
    assert carry_start_layout(previous, current, started=True) == [
        m("a", 5, 3),
        m("b", 4, 0),
        m("c", 1, 0),
    ]


def test_a_topic_stored_before_the_layout_existed_counts_its_partitions_known_then() -> None:
    assert carry_start_layout([m("a", 3)], [m("a", 6)], started=True) == [m("a", 6, 3)]


def test_a_topic_that_left_the_selection_and_came_back_is_new_again() -> None:
    first = carry_start_layout([m("a", 2, 2)], [], started=True)
    assert carry_start_layout(first, [m("a", 2)], started=True) == [m("a", 2, 0)]


def test_a_progress_reset_makes_every_current_partition_start_at_the_start_point() -> None:
    assert restart_layout([m("a", 5, 3), m("late", 2, 0)]) == [m("a", 5, 5), m("late", 2, 2)]


def test_the_stored_form_round_trips_and_omits_an_undecided_layout() -> None:
    assert TopicMapping.from_json(m("a", 4, 2).as_json()) == m("a", 4, 2)
    assert m("a", 4).as_json() == {
        "source": "a",
        "target": "bk.a",
        "partitions": 4,
        "state": "syncing",
        "error": None,
    }
    assert TopicMapping.from_json({"source": "a", "target": "bk.a", "partitions": 4}) == m("a", 4)


@dataclass
class Found:
    """An entry of offsets_for_times' answer (a TopicPartition's `error` cannot be set
    from Python, and no broker answers one partition of a lookup with an error on cue)."""

    topic: str
    partition: int
    offset: int
    error: KafkaError | None = None


class Lookup:
    """Offsets by time answered from a table; None: no record at or after the time."""

    def __init__(self, by_time: dict[int, int | KafkaError], end: int) -> None:
        self.by_time = by_time
        self.end = end

    def offsets_for_times(self, partitions: list[TopicPartition], timeout: float = 0) -> list[Any]:
        out = []
        for tp in partitions:
            found = self.by_time[tp.partition]
            if isinstance(found, KafkaError):
                out.append(Found(tp.topic, tp.partition, -1, found))
            else:
                out.append(Found(tp.topic, tp.partition, found))
        return out

    def get_watermark_offsets(self, partition: Any, timeout: float = 0, cached: bool = False) -> tuple[int, int]:
        return (0, self.end)

    def list_topics(self, topic: str | None = None, timeout: float = 0) -> object:
        return None


def test_a_timestamp_with_no_record_after_it_starts_at_the_end() -> None:
    tps = [TopicPartition("t", 0), TopicPartition("t", 1)]
    got = resolve_offsets(Lookup({0: 12, 1: -1}, end=40), tps, [AT_T, AT_T], 1.0)
    assert [(tp.partition, tp.offset) for tp in got] == [(0, 12), (1, 40)]


def test_a_timestamp_lookup_that_failed_for_a_partition_never_starts_it_at_its_end() -> None:
    tps = [TopicPartition("t", 0), TopicPartition("t", 1)]
    refused = KafkaError(KafkaError.NOT_LEADER_FOR_PARTITION)
    with pytest.raises(KafkaException) as raised:
        resolve_offsets(Lookup({0: 12, 1: refused}, end=40), tps, [AT_T, AT_T], 1.0)
    err = raised.value.args[0]
    assert err.code() == KafkaError.NOT_LEADER_FOR_PARTITION
    assert "t[1]" in err.str()
