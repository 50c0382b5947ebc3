"""The cutover's pure parts: its checks, lag, and the exact resume offset from the records
after the last offset pair (`ksync.control.cutover`). The run itself is in
tests/e2e/test_cutover.py, on real brokers."""

from __future__ import annotations

from typing import Any

import pytest
from factories import task_view

from ksync.control.cutover import (
    Resume,
    ResumePoint,
    exact_offset,
    lag_words,
    lags,
    pair_below,
    resume_words,
    task_checks,
    topics_check,
)
from ksync.domain.topics import TopicMapping
from ksync.kafka.records import StoredRecord
from ksync.replication.offset_translation import OffsetPair
from ksync.spec import TaskSpec


def _task(status: str = "Running", sync: dict[str, Any] | None = None, mode: str = "data") -> Any:
    spec = TaskSpec.model_validate(
        {
            "name": "t",
            "source": {"instance_id": "ins-src", "topics": ["orders", "pay"]},
            "target": {"instance_id": "ins-dst", "topic_prefix": "dr"},
            "options": {
                "mode": mode,
                "sync_group_offsets": sync if sync is not None else {"enabled": True},
            },
        }
    )
    topics = (TopicMapping("orders", "dr.orders", 2), TopicMapping("pay", "dr.pay", 1))
    return task_view("task-a", status=status, spec=spec, topics=topics)


def _failed(checks: list[Any]) -> list[str]:
    return [c.name for c in checks if not c.ok]


def test_a_running_task_that_syncs_the_group_passes():
    assert _failed(task_checks(_task(), "app")) == []


def test_a_task_not_running_is_refused_with_what_to_do():
    checks = task_checks(_task(status="Paused"), "app")
    assert _failed(checks) == ["running"]
    message = next(c.message for c in checks if not c.ok)
    assert "Paused" in message and "ksync task start task-a" in message


def test_offset_sync_off_is_refused():
    checks = task_checks(_task(sync={"enabled": False}), "app")
    assert _failed(checks) == ["offset_sync"]
    assert "options.sync_group_offsets.enabled" in checks[1].message


@pytest.mark.parametrize(
    "sync",
    [
        {"enabled": True, "groups": ["billing"]},
        {"enabled": True, "groups_regex": "bill.*"},
        {"enabled": True, "groups_exclude_regex": "ap+"},
    ],
)
def test_a_group_outside_the_selection_is_refused(sync):
    checks = task_checks(_task(sync=sync), "app")
    assert _failed(checks) == ["group_selected"]
    assert "not in the task's offset sync selection" in checks[-1].message


def test_a_task_that_copies_no_records_is_refused_it_has_no_offset_pairs():
    checks = task_checks(_task(mode="metadata"), "app")
    assert _failed(checks) == ["copies_records"]
    message = next(c.message for c in checks if not c.ok)
    assert "records no offset pairs" in message and "data task" in message


def test_the_group_must_read_only_copied_topics():
    task = _task()
    assert topics_check(task, "app", {("orders", 0): 5, ("pay", 0): 1}).ok
    outside = topics_check(task, "app", {("orders", 0): 5, ("audit", 0): 3})
    assert not outside.ok and "audit" in outside.message and "does not copy" in outside.message
    none = topics_check(task, "app", {})
    assert not none.ok and "no committed offset" in none.message


def test_lag_is_the_end_minus_the_progress_or_the_log_start():
    ends = {("orders", 0): 100, ("orders", 1): 50, ("pay", 0): 7}
    lag = lags(ends, {("orders", 0): 100, ("orders", 1): 40}, {("pay", 0): 7})
    assert lag == {("orders", 0): 0, ("orders", 1): 10, ("pay", 0): 0}
    assert lag_words(lag).startswith("lag 10:") and "orders[1] 10" in lag_words(lag)
    assert lag_words({("orders", 0): 0}).startswith("lag 0")


def _records(first: int, values: list[str], gaps: set[int] | None = None) -> list[StoredRecord]:
    """Records at consecutive offsets from `first`, skipping the offsets in `gaps`."""
    out, offset = [], first
    for v in values:
        while gaps and offset in gaps:
            offset += 1
        out.append(StoredRecord(offset, b"k-" + v.encode(), v.encode(), 1000 + len(out)))
        offset += 1
    return out


def _copies(first: int, records: list[StoredRecord]) -> list[StoredRecord]:
    """The copies of `records` at consecutive target offsets from `first`."""
    return [StoredRecord(first + i, r.key, r.value, r.timestamp) for i, r in enumerate(records)]


def test_the_resume_point_is_exact_when_the_target_holds_the_same_records():
    source = _records(200, ["a", "b", "c", "d"], gaps={202})  # a compacted or marker gap
    assert [r.offset for r in source] == [200, 201, 203, 204]
    target = _copies(977, source) + _copies(981, _records(205, ["e"]))
    # The group committed 205: it read up to d; it resumes at the copy of e, no re-read.
    assert exact_offset(OffsetPair(200, 977), 205, source, target) == 981


def test_the_pair_itself_is_exact():
    assert exact_offset(OffsetPair(200, 977), 200, [], []) == 977


def test_a_foreign_record_between_the_copies_gives_no_exact_point():
    source = _records(200, ["a", "b", "c"])
    target = _copies(10, source[:1]) + [StoredRecord(11, b"x", b"foreign", 1)] + _copies(12, source[1:])
    assert exact_offset(OffsetPair(200, 10), 203, source, target) is None


def test_a_gap_in_the_target_offsets_gives_no_exact_point():
    source = _records(200, ["a", "b"])
    target = [StoredRecord(10, source[0].key, source[0].value, source[0].timestamp)]
    target.append(StoredRecord(12, source[1].key, source[1].value, source[1].timestamp))
    assert exact_offset(OffsetPair(200, 10), 202, source, target) is None


def test_a_pair_whose_source_record_was_compacted_away_gives_no_exact_point():
    source = _records(201, ["b", "c"])  # the record at 200 is gone from the source
    assert exact_offset(OffsetPair(200, 10), 203, source, _copies(11, source)) is None


def test_a_target_short_of_records_gives_no_exact_point():
    source = _records(200, ["a", "b", "c"])
    assert exact_offset(OffsetPair(200, 10), 203, source, _copies(10, source[:2])) is None


def test_the_pair_below_is_the_largest_at_or_below():
    pairs = [OffsetPair(0, 5), OffsetPair(100, 105), OffsetPair(200, 230)]
    assert pair_below(pairs, 150) == OffsetPair(100, 105)
    assert pair_below(pairs, 200) == OffsetPair(200, 230)
    assert pair_below([OffsetPair(10, 0)], 5) is None


def test_the_resume_words_name_servers_topics_and_offsets():
    resume = Resume(
        target_instance="ins-dst",
        bootstrap_servers="10.0.0.1:9092",
        group="app",
        topics=(("orders", "dr.orders"),),
        partitions=(ResumePoint("orders", "dr.orders", 0, 205, 981, True),),
    )
    words = resume_words(resume, "src")
    assert "10.0.0.1:9092" in words and "orders -> dr.orders" in words
    assert "dr.orders[0] resumes at offset 981 (exact)" in words
