"""Per-topic state in the Prometheus exposition (`StoreCollector`), read from the store as
the controller wrote it: one `ksync_task_topic_state` series per state (1 for the
current one) and `ksync_task_topic_blocked` 0/1, per task and source topic. No broker:
the collector reads the store only."""

from __future__ import annotations

from pathlib import Path

from helpers import SEALER
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ksync.domain.task import TaskChange
from ksync.domain.topics import TopicMapping
from ksync.monitoring.prometheus import StoreCollector
from ksync.spec import TaskSpec
from ksync.store.db import make_engine, migrate, sqlite_url
from ksync.store.repo import Store


def test_each_topic_exports_its_state_and_whether_it_is_blocked(tmp_path: Path) -> None:
    engine = make_engine(sqlite_url(tmp_path / "data"))
    migrate(engine)
    store = Store(engine, SEALER)
    try:
        spec = TaskSpec.model_validate(
            {"name": "bt", "source": {"instance_id": "ins-a", "topic_regex": "bt-.*"}, "target": {"instance_id": "ins-b"}}
        )
        task = store.tasks.add(spec, [])
        store.tasks.observe(task.id, TaskChange(topics=(
            TopicMapping("bt-a", "bt-a", 4),
            TopicMapping("bt-c", "bt-c", 4).blocked("target topic bt-c has 1 partition"),
            TopicMapping("bt-x", "bt-x", 1, state="excluded"),
        )))
        registry = CollectorRegistry(auto_describe=False)
        registry.register(StoreCollector(store, 15.0))
        families = {f.name: f for f in text_string_to_metric_families(generate_latest(registry).decode())}

        states = {
            (s.labels["topic"], s.labels["state"]): s.value
            for s in families["ksync_task_topic_state"].samples
            if s.labels["task"] == task.id
        }
        assert states == {
            ("bt-a", "syncing"): 1.0, ("bt-a", "blocked"): 0.0, ("bt-a", "excluded"): 0.0,
            ("bt-c", "syncing"): 0.0, ("bt-c", "blocked"): 1.0, ("bt-c", "excluded"): 0.0,
            ("bt-x", "syncing"): 0.0, ("bt-x", "blocked"): 0.0, ("bt-x", "excluded"): 1.0,
        }
        blocked = {s.labels["topic"]: s.value for s in families["ksync_task_topic_blocked"].samples}
        assert blocked == {"bt-a": 0.0, "bt-c": 1.0, "bt-x": 0.0}

        store.tasks.observe(task.id, TaskChange(topics=(TopicMapping("bt-a", "bt-a", 4), TopicMapping("bt-c", "bt-c", 4))))
        families = {f.name: f for f in text_string_to_metric_families(generate_latest(registry).decode())}
        assert {s.labels["topic"]: s.value for s in families["ksync_task_topic_blocked"].samples} == {"bt-a": 0.0, "bt-c": 0.0}
    finally:
        engine.dispose()
