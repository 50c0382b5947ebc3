"""Task metrics from what members report: current rates for the Task JSON and a 24-hour
history of 10-second points.

Sources, and why they are exact or not:
* records per partition: the advance of the committed offset, so only records the target
  acknowledged count, whichever member held the partition;
* source traffic per partition: the advance of the partition's end offset;
* bytes: each member's cumulative value bytes, per task exact; per topic and partition
  apportioned by records (an estimate, labelled so in the API docs);
* records lost: each member's count of records the source deleted before they were
  copied (retention overtook its position), per task exact;
* latency: the members' histograms (see `monitoring.latency`), p50/p99 of their change
  over the window, and the largest sample any member saw in the last 10 s.

Member counters restart from zero when a member restarts; each report carries a `run_id`
so a restart is a new counter, never a negative rate.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ksync.domain import MemberView as MemberRow
from ksync.domain import TaskView as TaskRow
from ksync.domain.status import MemberState
from ksync.monitoring.latency import LatencyHistogram
from ksync.monitoring.progress import partition_progress

Key = tuple[str, int]

# Members' cumulative counts of refused records, summed per task like bytes.
REFUSED_COUNTERS = ("dead_lettered_total", "skipped_refused_total")

POINT_STEP_S = 10.0
CURRENT_WINDOW_S = 10.0
WRITE_EVERY_S = 2.0


@dataclass(frozen=True)
class Sample:
    at: float
    committed: dict[Key, int]
    ends: dict[Key, int]
    bytes: dict[str, int]
    latency: dict[str, LatencyHistogram]
    throttled_s: dict[str, float]
    latency_max_ms: float | None
    lost: dict[str, int] = field(default_factory=dict)  # per member run, since it started
    refused: dict[str, dict[str, int]] = field(default_factory=dict)  # run -> counter -> n

    @classmethod
    def of(cls, members: list[MemberRow], at: float) -> Sample:
        committed: dict[Key, int] = {}
        ends: dict[Key, int] = {}
        for p in partition_progress(members):
            key = (p["topic"], p["partition"])
            if p.get("committed_offset") is not None:
                committed[key] = p["committed_offset"]
            if p.get("end_offset") is not None:
                ends[key] = p["end_offset"]
        nbytes: dict[str, int] = {}
        latency: dict[str, LatencyHistogram] = {}
        throttled: dict[str, float] = {}
        lost: dict[str, int] = {}
        refused: dict[str, dict[str, int]] = {}
        worst: float | None = None
        for m in members:
            data = m.metrics
            if not data or m.state == MemberState.STOPPED:
                continue
            run = data["run_id"]
            nbytes[run] = int(data.get("bytes_total", 0))
            latency[run] = LatencyHistogram.from_json(data.get("latency"))
            throttled[run] = float(data.get("throttled_s", 0.0))
            lost[run] = int(data.get("lost_total", 0))
            refused[run] = {name: int(data.get(name, 0)) for name in REFUSED_COUNTERS}
            if data.get("latency_max_ms") is not None:
                worst = max(worst or 0.0, float(data["latency_max_ms"]))
        return cls(at, committed, ends, nbytes, latency, throttled, worst, lost, refused)


@dataclass(frozen=True)
class Delta:
    """What happened between two samples."""

    seconds: float
    records: dict[Key, int]
    source_records: dict[Key, int]
    bytes: int
    latency: LatencyHistogram
    throttled_s: float
    lost: int = 0  # records the source deleted before they were copied
    refused: dict[str, int] = field(default_factory=dict)  # counter -> records

    @classmethod
    def between(cls, old: Sample, new: Sample) -> Delta:
        records = {
            k: v - old.committed[k]
            for k, v in new.committed.items()
            if k in old.committed and v >= old.committed[k]
        }
        source = {k: v - old.ends[k] for k, v in new.ends.items() if k in old.ends and v >= old.ends[k]}
        nbytes = 0
        latency = LatencyHistogram()
        throttled = 0.0
        for run, value in new.bytes.items():
            before = old.bytes.get(run, 0)
            nbytes += value - before if value >= before else value
            latency = latency.plus(new.latency[run].minus(old.latency.get(run, LatencyHistogram())))
            t_before = old.throttled_s.get(run, 0.0)
            throttled += new.throttled_s[run] - t_before if new.throttled_s[run] >= t_before else 0.0
        lost = sum(n - old.lost.get(run, 0) for run, n in new.lost.items() if n >= old.lost.get(run, 0))
        refused: dict[str, int] = {}
        for run, counts in new.refused.items():
            for name, value in counts.items():
                before = old.refused.get(run, {}).get(name, 0)
                refused[name] = refused.get(name, 0) + (value - before if value >= before else value)
        return cls(
            max(new.at - old.at, 1e-9), records, source, nbytes, latency, throttled, lost, refused
        )

    @classmethod
    def empty(cls) -> Delta:
        return cls(0.0, {}, {}, 0, LatencyHistogram(), 0.0)

    def plus(self, other: Delta) -> Delta:
        records = dict(self.records)
        for k, v in other.records.items():
            records[k] = records.get(k, 0) + v
        source = dict(self.source_records)
        for k, v in other.source_records.items():
            source[k] = source.get(k, 0) + v
        return Delta(
            self.seconds + other.seconds,
            records,
            source,
            self.bytes + other.bytes,
            self.latency.plus(other.latency),
            self.throttled_s + other.throttled_s,
            self.lost + other.lost,
            {
                name: self.refused.get(name, 0) + other.refused.get(name, 0)
                for name in set(self.refused) | set(other.refused)
            },
        )

    @property
    def total_records(self) -> int:
        return sum(self.records.values())

    def bytes_for(self, key: Key) -> float:
        """A partition's share of the bytes, by its share of the records (an estimate)."""
        total = self.total_records
        return self.bytes * self.records.get(key, 0) / total if total else 0.0


def lag_of(sample: Sample) -> int:
    return sum(max(0, end - sample.committed[k]) for k, end in sample.ends.items() if k in sample.committed)


@dataclass
class _TaskSeries:
    """Per-tick deltas: a partition or member counts from the first sample that has it,
    so one sample taken before the first report cannot zero a whole window."""

    last: Sample | None = None
    recent: deque[tuple[float, Delta]] = field(default_factory=lambda: deque(maxlen=256))
    since_write: Delta = field(default_factory=Delta.empty)
    since_point: Delta = field(default_factory=Delta.empty)
    last_write: float = 0.0
    point_started: float | None = None


class Aggregator:
    """Keeps each task's recent deltas (controller memory) and derives metrics."""

    def __init__(self) -> None:
        self._tasks: dict[str, _TaskSeries] = {}

    def forget(self, task_ids: set[str]) -> None:
        for task_id in set(self._tasks) - task_ids:
            del self._tasks[task_id]

    def observe(
        self, task: TaskRow, members: list[MemberRow], now: float | None = None
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """Add a sample; returns (current metrics to store or None, history point or None)."""
        now = time.time() if now is None else now
        series = self._tasks.setdefault(task.id, _TaskSeries())
        sample = Sample.of(members, now)
        if series.last is not None:
            delta = Delta.between(series.last, sample)
            series.recent.append((now, delta))
            series.since_write = series.since_write.plus(delta)
            series.since_point = series.since_point.plus(delta)
        series.last = sample
        while series.recent and now - series.recent[0][0] > CURRENT_WINDOW_S:
            series.recent.popleft()
        if series.point_started is None:
            series.point_started = now
        current = None
        if now - series.last_write >= WRITE_EVERY_S:
            current = self._current(task, series, sample)
            series.last_write = now
            series.since_write = Delta.empty()
        point = None
        if now - series.point_started >= POINT_STEP_S:
            point = self._point(series.since_point, sample)
            series.since_point = Delta.empty()
            series.point_started = now
        return current, point

    def _current(self, task: TaskRow, series: _TaskSeries, sample: Sample) -> dict[str, Any]:
        window = Delta.empty()
        for _, delta in series.recent:
            window = window.plus(delta)
        previous = task.metrics or {}
        dt = window.seconds if window.seconds >= 1 else None
        return {
            "at": sample.at,
            "records_per_s": round(window.total_records / dt, 2) if dt else 0.0,
            "bytes_per_s": round(window.bytes / dt, 2) if dt else 0.0,
            "source_records_per_s": round(sum(window.source_records.values()) / dt, 2) if dt else 0.0,
            "lag": lag_of(sample),
            "latency_ms": _latency(window.latency, sample.latency_max_ms),
            "records_total": int(previous.get("records_total", 0)) + series.since_write.total_records,
            "bytes_total": int(previous.get("bytes_total", 0)) + series.since_write.bytes,
            "throttled": window.throttled_s > 0.05 * window.seconds,
            "lost_records_total": int(previous.get("lost_records_total", 0)) + series.since_write.lost,
            "lost_records": window.lost,
            **{
                name: int(previous.get(name, 0)) + series.since_write.refused.get(name, 0)
                for name in REFUSED_COUNTERS
            },
        }

    def _point(self, delta: Delta, sample: Sample) -> dict[str, Any]:
        keys = sorted(set(sample.committed) | set(sample.ends))
        return {
            "dt": round(delta.seconds, 3),
            "records": delta.total_records,
            "bytes": delta.bytes,
            "source_records": sum(delta.source_records.values()),
            "lost_records": delta.lost,
            "lag": lag_of(sample),
            "latency": _latency(delta.latency, sample.latency_max_ms),
            "partitions": [
                [
                    t,
                    p,
                    delta.records.get((t, p), 0),
                    round(delta.bytes_for((t, p))),
                    max(0, sample.ends.get((t, p), 0) - sample.committed.get((t, p), 0)),
                ]
                for t, p in keys
            ],
        }


def _round(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None


def _latency(hist: LatencyHistogram, worst: float | None) -> dict[str, float | None]:
    """p50/p99 from the histogram, never above the largest latency actually seen (bucket
    interpolation could place them there)."""

    def capped(q: float) -> float | None:
        value = hist.quantile(q)
        if value is not None and worst is not None:
            value = min(value, worst)
        return _round(value)

    return {"p50": capped(0.5), "p99": capped(0.99), "max": _round(worst)}
