"""Records lost to retention, from member reports to the task's metrics and its topics'
warnings: exact across member restarts, counted once per report. Pure, no broker (the
members' side is in tests/replication/test_lost_history.py)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from factories import member_view, task_view

from ksync.api.schemas import Task
from ksync.domain.topics import TopicMapping, lost_to_retention
from ksync.monitoring.aggregate import Aggregator


def reporting(run: str, lost: int, progress: tuple[dict[str, Any], ...] = ()) -> Any:
    return replace(
        member_view(0),
        metrics={"run_id": run, "bytes_total": 0, "lost_total": lost},
        progress=progress,
    )


def test_lost_records_add_up_over_member_runs_and_the_window_shows_only_recent_ones() -> None:
    agg = Aggregator()
    task = task_view("task-a")
    current: dict[str, Any] = {}

    def observe(at: float, member: Any) -> dict[str, Any]:
        nonlocal task, current
        out, _ = agg.observe(task, [member], now=at)
        if out is not None:
            current = out
            task = replace(task, metrics=out)
        return current

    assert observe(100, reporting("r1", 0))["lost_records_total"] == 0
    seen = observe(103, reporting("r1", 30))
    assert (seen["lost_records_total"], seen["lost_records"]) == (30, 30)
    seen = observe(106, reporting("r1", 30))  # reported again: counted once
    assert (seen["lost_records_total"], seen["lost_records"]) == (30, 30)
    seen = observe(109, reporting("r2", 5))  # a restarted member counts from zero
    assert (seen["lost_records_total"], seen["lost_records"]) == (35, 35)
    seen = observe(130, reporting("r2", 5))  # nothing new in the last 10 s
    assert (seen["lost_records_total"], seen["lost_records"]) == (35, 0)


def test_each_topic_shows_the_loss_of_its_partitions_in_words() -> None:
    entry = {
        "topic": "orders",
        "partition": 1,
        "committed_offset": 80,
        "end_offset": 90,
        "lost_records": 40,
        "lost_first": 10,
        "lost_earliest": 50,
    }
    other = {"topic": "orders", "partition": 0, "committed_offset": 5, "end_offset": 5}
    task = task_view(
        "task-a", topics=(TopicMapping("orders", "bk.orders", 2), TopicMapping("b", "bk.b", 1))
    )
    shown = Task.of(task, [reporting("r1", 40, (entry, other))])
    assert [t.warnings for t in shown.topics] == [[lost_to_retention("orders", 1, 40, 10, 50)], []]
    assert [(p.partition, p.lost_records) for p in shown.progress] == [(0, None), (1, 40)]
    assert "orders partition 1: 40 records lost to retention" in shown.topics[0].warnings[0]


def test_a_topic_mapping_keeps_its_topic_id_through_the_store_and_reads_older_rows() -> None:
    mapping = TopicMapping("orders", "bk.orders", 3, topic_id="UQOpvp5GSy6EQfjSaqiRyw")
    assert TopicMapping.from_json(mapping.as_json()) == mapping
    older = {"source": "orders", "target": "bk.orders", "partitions": 3}
    assert TopicMapping.from_json(older).topic_id is None
    assert "topic_id" not in TopicMapping("orders", "bk.orders", 3).as_json()
