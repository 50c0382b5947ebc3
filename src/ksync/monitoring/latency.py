"""Replication latency as a fixed-bucket histogram: cheap to fill, mergeable across
members and workers, and exportable to Prometheus as it is.

Latency = target acknowledgement time - the record's source timestamp. Members sample it
per batch (the first and last record of each batch), not per record: `LatencySampler`.
"""

from __future__ import annotations

import bisect
import time
from collections import deque
from collections.abc import Sequence

# How far back a member's worst latency is reported (`LatencySampler.recent_max`).
LATENCY_WINDOW_S = 10.0

# Upper bounds in milliseconds; the last bucket is everything above.
BUCKETS_MS: tuple[float, ...] = (
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000,
    300_000, 3_600_000,
)


class LatencyHistogram:
    """Counts per bucket (len(BUCKETS_MS) + 1, the last is +Inf) and their sum."""

    __slots__ = ("counts", "sum_ms")

    def __init__(self, counts: Sequence[float] | None = None, sum_ms: float = 0.0) -> None:
        self.counts = list(counts) if counts is not None else [0.0] * (len(BUCKETS_MS) + 1)
        self.sum_ms = sum_ms

    def observe(self, latency_ms: float, weight: float = 1.0) -> None:
        self.counts[bisect.bisect_left(BUCKETS_MS, latency_ms)] += weight
        self.sum_ms += latency_ms * weight

    @property
    def total(self) -> float:
        return sum(self.counts)

    def minus(self, earlier: LatencyHistogram) -> LatencyHistogram:
        """Counts added since `earlier` (a reset counter counts from zero)."""
        if any(c < e for c, e in zip(self.counts, earlier.counts, strict=True)):
            return LatencyHistogram(self.counts, self.sum_ms)
        return LatencyHistogram(
            [c - e for c, e in zip(self.counts, earlier.counts, strict=True)],
            self.sum_ms - earlier.sum_ms,
        )

    def plus(self, other: LatencyHistogram) -> LatencyHistogram:
        return LatencyHistogram(
            [a + b for a, b in zip(self.counts, other.counts, strict=True)],
            self.sum_ms + other.sum_ms,
        )

    def quantile(self, q: float) -> float | None:
        """The q-quantile in ms, interpolated inside its bucket; None when empty."""
        total = self.total
        if total <= 0:
            return None
        rank = q * total
        seen = 0.0
        for i, count in enumerate(self.counts):
            if count and seen + count >= rank:
                low = BUCKETS_MS[i - 1] if i > 0 else 0.0
                high = BUCKETS_MS[i] if i < len(BUCKETS_MS) else BUCKETS_MS[-1] * 2
                return low + (high - low) * (rank - seen) / count
            seen += count
        return float(BUCKETS_MS[-1])

    def to_json(self) -> dict[str, object]:
        return {"counts": self.counts, "sum_ms": self.sum_ms}

    @classmethod
    def from_json(cls, data: dict[str, object] | None) -> LatencyHistogram:
        if not data:
            return cls()
        return cls(data["counts"], float(data["sum_ms"]))  # type: ignore[arg-type]


class LatencySampler:
    """Replication latency of one member, sampled per batch.

    The hot path notes each batch it hands to the producer (`produced`: its first and
    last source timestamps and its record count; nothing per record). Once the producer
    has nothing outstanding, every noted batch is on the target: `acknowledged` turns
    them into histogram samples, each batch's first and last record carrying half its
    weight, and remembers the worst for `recent_max`.
    """

    __slots__ = ("_recent_max", "unacked")

    def __init__(self) -> None:
        # Batches produced but not yet known to be acknowledged: (first ts, last ts, count).
        self.unacked: list[tuple[int, int, int]] = []
        self._recent_max: deque[tuple[float, float]] = deque(maxlen=64)

    def produced(self, first_ts: int, last_ts: int, count: int) -> None:
        """A batch of `count` records went to the producer (timestamps in ms, <= 0: none)."""
        self.unacked.append((first_ts, last_ts, count))

    def acknowledged(self, hist: LatencyHistogram) -> None:
        """Every batch noted so far is on the target: add their samples to `hist` (the
        caller holds whatever lock guards it)."""
        now_ms = time.time() * 1000
        worst = 0.0
        for first, last, count in self.unacked:
            for ts in (first, last):
                if ts > 0 and count:
                    latency = max(0.0, now_ms - ts)
                    hist.observe(latency, count / 2)
                    worst = max(worst, latency)
        self.unacked.clear()
        self._recent_max.append((time.monotonic(), worst))

    def recent_max(self) -> float | None:
        """The worst latency acknowledged in the last LATENCY_WINDOW_S, or None."""
        now = time.monotonic()
        return max((m for t, m in self._recent_max if now - t < LATENCY_WINDOW_S), default=None)
