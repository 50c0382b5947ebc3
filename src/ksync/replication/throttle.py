"""Traffic limits for one member: records per second and bytes per second.

A virtual-clock limiter: each batch moves the time the next batch may start by its cost
divided by the rate, and the member waits until then. Over any window the traffic is the
rate times the window plus at most one batch, which `max_batch` keeps small (a tenth of a
second of traffic), so a limit holds within a few percent over ten seconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """This member's share of its task's and instances' limits; None = unlimited."""

    bytes_per_s: float | None = None
    records_per_s: float | None = None

    @property
    def unlimited(self) -> bool:
        return self.bytes_per_s is None and self.records_per_s is None


class Throttle:
    """Not thread-safe: used by the member's own thread; `limits` may be swapped anytime."""

    def __init__(self, limits: Limits = Limits()) -> None:
        self.limits = limits
        self._next = 0.0
        self.throttled_s = 0.0  # time spent waiting, cumulative

    def max_batch(self, default: int, avg_record_bytes: float) -> int:
        """A batch size worth at most ~0.1 s of the allowed traffic."""
        lim = self.limits
        size = default
        if lim.records_per_s is not None:
            size = min(size, int(lim.records_per_s / 10))
        if lim.bytes_per_s is not None:
            # Until the record size is known, a small first batch: a large one would be
            # paid for by a long pause, and the rate would swing around the limit.
            size = min(size, int(lim.bytes_per_s / 10 / avg_record_bytes) if avg_record_bytes > 0 else 10)
        return max(1, size)

    def delay(self, records: int, nbytes: int, now: float | None = None) -> float:
        """Charge a batch; returns how long to wait before the next one."""
        lim = self.limits
        if lim.unlimited:
            self._next = 0.0
            return 0.0
        now = time.monotonic() if now is None else now
        cost = 0.0
        if lim.records_per_s is not None:
            cost = max(cost, records / lim.records_per_s)
        if lim.bytes_per_s is not None:
            cost = max(cost, nbytes / lim.bytes_per_s)
        # Idle time does not bank credit beyond one tenth of a second (no burst).
        self._next = max(self._next, now - 0.1) + cost
        wait = self._next - now
        return wait if wait > 0 else 0.0


MB = 1_000_000  # limits are in MB/s of record values, decimal like Kafka quotas


def member_limits(
    *,
    member_partitions: int | None,
    task_partitions: int,
    task_max: int,
    throttle_mb_s: float | None,
    qps_limit: int | None,
    instance_quotas: list[tuple[float, int]],
) -> Limits:
    """A member's share of its task's limits and of its instances' quotas.

    The share is the member's fraction of the task's partitions (members hold disjoint
    partitions, so the shares add up to the whole); before it owns any, 1 / task_max.
    `instance_quotas` holds (quota MB/s, partitions of every task using that instance):
    a quota is split over all those partitions the same way.
    """
    owned: float
    if member_partitions is not None and task_partitions > 0:
        owned = member_partitions
    else:
        owned = task_partitions / task_max if task_partitions else 0
    fraction = owned / task_partitions if task_partitions else 1.0 / task_max
    caps: list[float] = []
    if throttle_mb_s is not None:
        caps.append(throttle_mb_s * MB * fraction)
    for quota, partitions in instance_quotas:
        caps.append(quota * MB * (owned / partitions) if partitions else quota * MB / task_max)
    return Limits(
        bytes_per_s=min(caps) if caps else None,
        records_per_s=qps_limit * fraction if qps_limit is not None else None,
    )
