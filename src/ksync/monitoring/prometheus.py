"""Prometheus exposition, read at scrape time from live state (nothing on the hot path).

* `WorkerCollector`: the members one process runs — records and bytes copied, lag per
  partition, the replication latency histogram, time spent throttled, records lost to
  retention per partition, refused records tolerated (dead-lettered or skipped).
* `StoreCollector` (servers): every task's status, the state of each of its topics (a
  topic a refused record blocks among them), every worker's liveness, and the sync lag
  of each consumer group a task syncs the offsets of.

Counters restart from zero when a member restarts; Prometheus' rate() handles resets.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from ksync.domain.status import TaskStatus
from ksync.domain.topics import TOPIC_STATES
from ksync.monitoring.latency import BUCKETS_MS, LatencyHistogram
from ksync.store.repo import Store, utcnow
from ksync.worker.runtime import Worker


class WorkerCollector(Collector):
    """Metrics of the members that `worker` runs now."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker

    def collect(self) -> Iterator[Metric]:
        records = CounterMetricFamily(
            "ksync_records",
            "Records copied and acknowledged by the target",
            labels=["task", "source_topic", "target_topic", "partition"],
        )
        nbytes = CounterMetricFamily(
            "ksync_bytes", "Record value bytes written to the target", labels=["task"]
        )
        lag = GaugeMetricFamily(
            "ksync_lag_records",
            "Records on the source not yet copied (end offset - committed offset)",
            labels=["task", "topic", "partition"],
        )
        throttled = CounterMetricFamily(
            "ksync_throttled_seconds", "Time members waited to honour traffic limits", labels=["task"]
        )
        lost = CounterMetricFamily(
            "ksync_records_lost",
            "Records the source deleted (retention) before they were copied",
            labels=["task", "topic", "partition"],
        )
        refused = CounterMetricFamily(
            "ksync_refused_records",
            "Records the target refused that options.errors tolerated: sent to the "
            "dead-letter topic (outcome dead_lettered) or skipped (outcome skipped)",
            labels=["task", "outcome"],
        )
        members = GaugeMetricFamily(
            "ksync_worker_members", "Members this worker runs", labels=["worker"]
        )
        latency: dict[str, LatencyHistogram] = defaultdict(LatencyHistogram)
        per_task_bytes: dict[str, float] = defaultdict(float)
        per_task_throttled: dict[str, float] = defaultdict(float)
        per_task_refused: dict[tuple[str, str], int] = defaultdict(int)
        running = self.worker.running_members()
        for task_id, topics, snap in running:
            for (topic, partition), count in sorted(snap.partition_records.items()):
                records.add_metric([task_id, topic, topics.get(topic, ""), str(partition)], count)
            for (topic, partition), committed in sorted(snap.committed.items()):
                end = snap.end_offsets.get((topic, partition))
                if end is not None:
                    lag.add_metric([task_id, topic, str(partition)], max(0, end - committed))
            for (topic, partition), gone in sorted(snap.lost.items()):
                lost.add_metric([task_id, topic, str(partition)], gone.records)
            per_task_bytes[task_id] += snap.bytes_total
            per_task_throttled[task_id] += snap.throttled_s
            per_task_refused[(task_id, "dead_lettered")] += snap.dead_lettered_total
            per_task_refused[(task_id, "skipped")] += snap.skipped_refused_total
            latency[task_id] = latency[task_id].plus(snap.latency)
        for task_id, value in per_task_bytes.items():
            nbytes.add_metric([task_id], value)
        for task_id, value in per_task_throttled.items():
            throttled.add_metric([task_id], value)
        for (task_id, outcome), count in sorted(per_task_refused.items()):
            refused.add_metric([task_id, outcome], count)
        members.add_metric([self.worker.worker_id], len(running))
        yield records
        yield nbytes
        yield lag
        yield throttled
        yield lost
        yield refused
        yield members
        yield _latency_family(latency)


def _latency_family(by_task: dict[str, LatencyHistogram]) -> HistogramMetricFamily:
    family = HistogramMetricFamily(
        "ksync_replication_latency_seconds",
        "Time from a record's source timestamp to the target's acknowledgement",
        labels=["task"],
    )
    for task_id, hist in sorted(by_task.items()):
        cumulative = 0.0
        buckets = []
        for bound, count in zip((*BUCKETS_MS, float("inf")), hist.counts, strict=True):
            cumulative += count
            buckets.append(("+Inf" if bound == float("inf") else repr(bound / 1000), cumulative))
        family.add_metric([task_id], buckets, sum_value=hist.sum_ms / 1000)
    return family


class StoreCollector(Collector):
    """Task statuses, topic states and worker liveness, from the store (what any server
    can see)."""

    def __init__(self, store: Store, worker_timeout_s: float) -> None:
        self.store = store
        self.worker_timeout = timedelta(seconds=worker_timeout_s)

    def collect(self) -> Iterator[Metric]:
        status = GaugeMetricFamily(
            "ksync_task_status",
            "1 for the task's current status, 0 for the others",
            labels=["task", "name", "status"],
        )
        topic_state = GaugeMetricFamily(
            "ksync_task_topic_state",
            "1 for the topic's current state in the task (syncing, blocked, excluded), 0 for the others",
            labels=["task", "topic", "state"],
        )
        blocked = GaugeMetricFamily(
            "ksync_task_topic_blocked",
            "1 while the task cannot copy the topic (the task's topics[].error says why)",
            labels=["task", "topic"],
        )
        group_lag = GaugeMetricFamily(
            "ksync_group_offset_sync_lag_records",
            "Records a synced consumer group's committed offset on the target is behind the "
            "translation of its source offset (offset sync)",
            labels=["task", "group", "topic", "partition"],
        )
        group_age = GaugeMetricFamily(
            "ksync_group_offset_sync_age_seconds",
            "Seconds since the target group last held the translation of its source offset",
            labels=["task", "group", "topic", "partition"],
        )
        now = utcnow()
        for task in self.store.tasks.all():
            if task.spec.options.sync_group_offsets.enabled:
                for v in self.store.offsets.syncs(task.id):
                    labels = [task.id, v.group_id, v.topic, str(v.partition)]
                    if v.lag is not None:
                        group_lag.add_metric(labels, float(v.lag))
                    if v.synced_at is not None:
                        group_age.add_metric(labels, (now - v.synced_at).total_seconds())
            for s in TaskStatus:
                status.add_metric([task.id, task.name, s.value], 1.0 if task.status == s else 0.0)
            for mapping in task.topics:
                for state in TOPIC_STATES:
                    value = 1.0 if mapping.state == state else 0.0
                    topic_state.add_metric([task.id, mapping.source, state], value)
                blocked.add_metric([task.id, mapping.source], 1.0 if mapping.state == "blocked" else 0.0)
        up = GaugeMetricFamily(
            "ksync_worker_up", "1 while the worker heartbeats within worker_timeout", labels=["worker"]
        )
        seen = GaugeMetricFamily(
            "ksync_worker_last_heartbeat_timestamp_seconds",
            "Unix time of the worker's last heartbeat",
            labels=["worker"],
        )
        for w in self.store.workers.all():
            up.add_metric([w.id], 1.0 if now - w.heartbeat_at <= self.worker_timeout else 0.0)
            seen.add_metric([w.id], w.heartbeat_at.timestamp())
        yield status
        yield topic_state
        yield blocked
        yield up
        yield seen
        yield group_lag
        yield group_age


def registry_for(worker: Worker, store: Store | None = None, worker_timeout_s: float = 15.0) -> CollectorRegistry:
    """A registry with the worker's metrics, plus task statuses when `store` is given."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WorkerCollector(worker))
    if store is not None:
        registry.register(StoreCollector(store, worker_timeout_s))
    return registry
