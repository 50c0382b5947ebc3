"""Support for the rebalance tests: a watcher that records, from GET /api/v1/workers, which
members of a task run where and how many partitions each owns, so a test can tell when the
partitions were spread and when a dead member's share had moved."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer
from helpers import ApiWatch

from ksync.devkafka import KafkaCluster


@dataclass(frozen=True, order=True)
class MemberView:
    worker: str
    slot: int
    state: str
    partitions: int


class MemberWatch(ApiWatch):
    """Polls GET /api/v1/workers every `interval_s` and keeps each distinct view of the
    task's members with the time it was first seen."""

    path = "/api/v1/workers"

    def __init__(self, base_url: str, task_id: str, interval_s: float = 0.2) -> None:
        super().__init__(base_url, f"members-{task_id}", interval_s)
        self.task_id = task_id
        self.views: list[tuple[float, tuple[MemberView, ...]]] = []
        self._lock = threading.Lock()

    def record(self, body: Any) -> None:
        self._record(body["workers"])

    def _record(self, workers: list[dict[str, Any]]) -> None:
        view = tuple(
            sorted(
                MemberView(w["id"], m["slot"], m["state"], m["partitions"])
                for w in workers
                for m in w["members"]
                if m["task_id"] == self.task_id
            )
        )
        with self._lock:
            if not self.views or self.views[-1][1] != view:
                self.views.append((time.monotonic(), view))

    def first(self, holds: Any, since: float = 0.0) -> float | None:
        """When a view for which `holds(view)` is true was first seen after `since`."""
        with self._lock:
            return next((t for t, v in self.views if t >= since and holds(v)), None)

    def wait_for(self, holds: Any, since: float, timeout_s: float, what: str) -> float:
        """Until the latest view satisfies `holds`; returns when such a view was first seen
        after `since`. On timeout, fails with every view seen since then."""
        self.wait(
            lambda: holds(self.latest()),
            timeout_s,
            lambda: f"timed out after {timeout_s}s waiting for {what}; members seen: {self.history(since)}",
        )
        first = self.first(holds, since)
        assert first is not None
        return first

    def latest(self) -> tuple[MemberView, ...]:
        with self._lock:
            return self.views[-1][1] if self.views else ()

    def history(self, since: float) -> list[tuple[float, list[tuple[str, int, str, int]]]]:
        """The views seen after `since`, as (seconds after it, members) for printing."""
        with self._lock:
            return [
                (round(t - since, 1), [(m.worker, m.slot, m.state, m.partitions) for m in v])
                for t, v in self.views
                if t >= since
            ]


def spread_evenly(view: tuple[MemberView, ...], members: int, partitions: int) -> bool:
    """`members` running members owning `partitions / members` partitions each."""
    running = [m for m in view if m.state == "running"]
    return len(running) == members and all(m.partitions == partitions // members for m in running)


def owned_without(view: tuple[MemberView, ...], dead_worker: str) -> int:
    """Partitions owned by running members on workers other than `dead_worker` (whose last
    report lingers until the controller expires it)."""
    return sum(m.partitions for m in view if m.worker != dead_worker and m.state == "running")


def warm_group_coordinator(cluster: KafkaCluster, topic: str, timeout_s: float = 60.0) -> None:
    """Join a throwaway group on `cluster` until it is assigned `topic`'s partitions.

    A cluster's first consumer group creates `__consumer_offsets` and waits for its
    partitions to load (FindCoordinator and JoinGroup answer "not available" meanwhile):
    seconds that belong to the cluster's first use, not to a task's members.
    """
    consumer = Consumer(
        {"bootstrap.servers": cluster.bootstrap, "group.id": f"warmup-{uuid.uuid4().hex}", "log_level": 3}
    )
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + timeout_s
        while not consumer.assignment():
            if time.monotonic() > deadline:
                raise AssertionError(f"no group on {cluster.name} got partitions within {timeout_s}s")
            consumer.poll(0.2)
    finally:
        consumer.close()
