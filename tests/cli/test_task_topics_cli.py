"""`ksync task show` and `ksync task list` show each topic's state, and why a blocked one
is not copied, as the controller observed it (API in process, no broker: the task's
topics are written to the store the way the controller writes them)."""

from __future__ import annotations

from pathlib import Path

from inprocess import add_instance_row, app_on_store, serving

from ksync.domain.task import TaskChange
from ksync.domain.topics import TopicMapping
from ksync.spec import TaskSpec

from .test_cli import as_json, ksync, ok

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
