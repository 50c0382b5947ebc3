"""Support for the broker-outage tests: a watcher that keeps, with times, every status,
warning and error a task shows, and small Kafka look-ups made from outside ksync."""

from __future__ import annotations

import threading
import time

from confluent_kafka.admin import AdminClient, NewTopic
from helpers import ApiWatch

from ksync.devkafka import KafkaCluster


class TaskWatch(ApiWatch):
    """Polls GET /api/v1/tasks/{id} every `interval_s`; keeps (time, status) changes and
    (time, text) for each warning and error the first time it shows."""

    def __init__(self, base_url: str, task_id: str, interval_s: float = 0.2) -> None:
        super().__init__(base_url, f"watch-{task_id}", interval_s)
        self.task_id, self.path = task_id, f"/api/v1/tasks/{task_id}"
        self.statuses: list[tuple[float, str]] = []
        self.warnings: list[tuple[float, str]] = []
        self.errors: list[tuple[float, str]] = []
        self.last: dict | None = None  # the task as last read, for a failure message
        self._lock = threading.Lock()

    def record(self, task: dict) -> None:
        now = time.monotonic()
        with self._lock:
            self.last = {k: task[k] for k in ("status", "error", "warnings", "updated_at")}
            if not self.statuses or self.statuses[-1][1] != task["status"]:
                self.statuses.append((now, task["status"]))
            seen = {w for _, w in self.warnings}
            self.warnings += [(now, w) for w in task["warnings"] if w not in seen]
            if task["error"] and task["error"] not in {e for _, e in self.errors}:
                self.errors.append((now, task["error"]))

    def warnings_between(self, start: float, end: float) -> list[str]:
        with self._lock:
            return [w for t, w in self.warnings if start <= t <= end]

    def statuses_since(self, start: float) -> list[tuple[float, str]]:
        """(seconds after `start`, status) for each change since then, and the status
        shown at `start`."""
        with self._lock:
            before = [s for t, s in self.statuses if t < start][-1:]
            return [(0.0, s) for s in before] + [
                (round(t - start, 1), s) for t, s in self.statuses if t >= start
            ]

    def current(self) -> str | None:
        with self._lock:
            return self.statuses[-1][1] if self.statuses else None


def admin(cluster: KafkaCluster) -> AdminClient:
    return AdminClient({"bootstrap.servers": cluster.bootstrap, "log_level": 3})


def create_replicated_topic(
    cluster: KafkaCluster, topic: str, partitions: int, replication: int, configs: dict[str, str]
) -> None:
    client = admin(cluster)  # kept until the answer is in: its futures die with it
    (future,) = client.create_topics(
        [NewTopic(topic, partitions, replication, config=configs)], request_timeout=30
    ).values()
    future.result(timeout=60)


def leaders(cluster: KafkaCluster, topic: str) -> dict[int, int]:
    """partition -> the node id leading it now."""
    md = admin(cluster).list_topics(topic, timeout=10)
    return {p: meta.leader for p, meta in md.topics[topic].partitions.items()}


def in_sync(cluster: KafkaCluster, topic: str) -> dict[int, int]:
    """partition -> how many replicas are in sync now."""
    md = admin(cluster).list_topics(topic, timeout=10)
    return {p: len(meta.isrs) for p, meta in md.topics[topic].partitions.items()}
