"""`ksync task show` and `ksync task list` show each topic's state, and why a blocked one
is not copied, and `show` what the task could not copy (lost to retention, dead-lettered,
skipped) and each topic's warnings, as the controller and members reported them (API in
process, no broker: the task's topics, metrics and member reports are written to the
store the way the controller and workers write them)."""

from __future__ import annotations

from pathlib import Path

from inprocess import add_instance_row, app_on_store, serving

from ksync.domain.status import Desired, MemberState, TaskStatus
from ksync.domain.task import TaskChange
from ksync.domain.topics import TopicMapping
from ksync.domain.workers import MemberReport
from ksync.spec import TaskSpec

from .test_cli import as_json, fails, ksync, ok

WHY = "target topic bt-c has 1 partition, the source 4 (keep_partition needs as many)"


def test_show_and_list_name_the_blocked_topic_and_why(tmp_path: Path) -> None:
    with app_on_store(tmp_path) as app, serving(app) as url:
        store = app.state.store
        spec = TaskSpec.model_validate({
            "name": "bt", "source": {"instance_id": add_instance_row(store), "topic_regex": "bt-.*"},
            "target": {"instance_id": add_instance_row(store)},
        })
        task = store.tasks.add(spec, [])
        store.tasks.observe(task.id, TaskChange(topics=(
            TopicMapping("bt-a", "bt-a", 4),
            TopicMapping("bt-c", "bt-c", 4).blocked(WHY),
        )))

        shown = ok(ksync(url, "task", "show", task.id)).splitlines()
        head = shown.index("topics:")
        assert shown[head + 1].split() == ["SOURCE", "TARGET", "PARTITIONS", "STATE", "ERROR"]
        assert shown[head + 2].split() == ["bt-a", "bt-a", "4", "syncing", "-"]
        assert shown[head + 3].split()[:4] == ["bt-c", "bt-c", "4", "blocked"]
        assert shown[head + 3].endswith(WHY)

        row = next(line for line in ok(ksync(url, "task", "list")).splitlines() if line.startswith(task.id))
        assert "2 (1 blocked)" in row

        topics = as_json(ksync(url, "task", "show", task.id, "-o", "json"))["topics"]
        assert [(t["source"], t["state"], t["error"]) for t in topics] == [
            ("bt-a", "syncing", None), ("bt-c", "blocked", WHY)
        ]


def test_show_counts_what_was_not_copied_and_lists_lost_partitions_and_topic_warnings(
    tmp_path: Path,
) -> None:
    """Records lost to retention (per partition, in a LOST column, and as the topic's
    warning), dead-lettered and skipped records (the task's metrics), and a warning on a
    topic that keeps syncing; a task that lost nothing shows none of it."""
    kept = "configs of target topic bt-a not synced from source topic bt-a: refused; its records keep flowing"
    with app_on_store(tmp_path) as app, serving(app) as url:
        store = app.state.store
        spec = TaskSpec.model_validate({
            "name": "lossy", "source": {"instance_id": add_instance_row(store), "topics": ["bt-a"]},
            "target": {"instance_id": add_instance_row(store)},
        })
        task = store.tasks.add(spec, [])
        clean = ok(ksync(url, "task", "show", task.id)).splitlines()
        assert [line.split(":", 1)[1].strip() for line in clean if line.startswith("not copied:")] == ["-"]
        assert "LOST" not in "\n".join(clean) and "topic warnings:" not in clean

        store.tasks.observe(task.id, TaskChange(topics=(TopicMapping("bt-a", "bt-a", 2).noted(kept),)))
        store.metrics.set_current(
            task.id, {"lost_records_total": 30, "dead_lettered_total": 4, "skipped_refused_total": 2}
        )
        store.workers.heartbeat("w1", "127.0.0.1", 1, [MemberReport(
            task_id=task.id, slot=0, generation=0, state=MemberState.RUNNING,
            partitions=[("bt-a", 0), ("bt-a", 1)], error=None, warnings=[], records_total=140,
            progress=[
                {"topic": "bt-a", "partition": 0, "committed_offset": 50, "end_offset": 60},
                {"topic": "bt-a", "partition": 1, "committed_offset": 90, "end_offset": 90,
                 "lost_records": 30, "lost_first": 10, "lost_earliest": 40},
            ],
        )])

        shown = ok(ksync(url, "task", "show", task.id)).splitlines()
        (counts,) = [line for line in shown if line.startswith("not copied:")]
        assert counts.split(":", 1)[1].strip() == (
            "30 lost to retention, 4 dead-lettered, 2 skipped (refused by the target)"
        )
        head = shown.index("topic warnings:")
        assert shown[head + 1] == f"  - bt-a: {kept}"
        assert shown[head + 2].startswith("  - bt-a: topic bt-a partition 1: 30 records lost to retention")
        progress = shown.index("progress:")
        assert shown[progress + 1].split() == ["TOPIC", "PARTITION", "COMMITTED", "END", "LAG", "LOST"]
        assert shown[progress + 2].split() == ["bt-a", "0", "50", "60", "10", "-"]
        assert shown[progress + 3].split() == ["bt-a", "1", "90", "90", "0", "30"]


def test_reset_forgets_a_paused_tasks_progress_from_the_point_given(tmp_path: Path) -> None:
    """`ksync task reset` (POST /api/v1/tasks/{id}/reset): refused while the task runs,
    then, paused, it records the reset and the new start point (the controller does the
    rest at the next start, whose event says so)."""
    with app_on_store(tmp_path) as app, serving(app) as url:
        store = app.state.store
        spec = TaskSpec.model_validate({
            "name": "again", "source": {"instance_id": add_instance_row(store), "topics": ["bt-a"]},
            "target": {"instance_id": add_instance_row(store)},
        })
        task = store.tasks.add(spec, [])
        refused = fails(ksync(url, "task", "reset", task.id), 1)
        assert "not paused; pause it before resetting its progress" in refused, refused
        assert store.tasks.get(task.id).reset_start is None

        store.tasks.observe(task.id, TaskChange(desired=Desired.PAUSED, status=TaskStatus.PAUSED))
        usage = ksync(url, "task", "reset", task.id, "--from", "timestamp")
        assert usage.returncode == 2 and "--timestamp-ms is required" in usage.stderr

        said = ok(ksync(url, "task", "reset", task.id, "--from", "timestamp", "--timestamp-ms", "1700000000000"))
        assert said.strip() == f"{task.id}: progress reset; status now Paused"
        point = {"type": "timestamp", "timestamp_ms": 1700000000000}
        assert as_json(ksync(url, "task", "show", task.id, "-o", "json"))["reset_start"] == point
        after = store.tasks.get(task.id)
        assert after.reset_start is not None and after.reset_start.model_dump() == point
        assert after.spec.source.start.model_dump() == point  # the task's start point now

        ok(ksync(url, "task", "start", task.id))
        events = [e.message for e in store.tasks.events(task.id)]
        assert events[0] == (
            "start requested after a progress reset: copying from the records at or after "
            "timestamp 1700000000000 ms"
        ), events
