"""Reading the 10-second history back as series with a coarser step."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from ksync.domain.metrics import MetricPoint as MetricPointRow
from ksync.store.repo import as_utc


def _bucket(at: datetime, since: datetime, step: int) -> datetime:
    return since + timedelta(seconds=step * int((as_utc(at) - since).total_seconds() // step))


def series(
    points: list[MetricPointRow], since: datetime, step: int, by_partition: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(task total points, per topic or per partition series), one point per `step`.

    Rates are counts over the time the points cover; lag is the last value in the step;
    latency p50 is the mean and p99 and max the largest of the step's 10 s points.
    """
    total: dict[datetime, dict[str, Any]] = {}
    per: dict[tuple[str, int | None], dict[datetime, dict[str, Any]]] = defaultdict(dict)
    for point in points:
        b = _bucket(point.at, since, step)
        d = point.data
        agg = total.setdefault(
            b, {"dt": 0.0, "records": 0, "bytes": 0, "source": 0, "lag": 0, "p50": [], "p99": None, "max": None}
        )
        agg["dt"] += d["dt"]
        agg["records"] += d["records"]
        agg["bytes"] += d["bytes"]
        agg["source"] += d.get("source_records", 0)
        agg["lag"] = d["lag"]
        lat = d.get("latency") or {}
        if lat.get("p50") is not None:
            agg["p50"].append(lat["p50"])
        for k in ("p99", "max"):
            if lat.get(k) is not None:
                agg[k] = max(agg[k] or 0.0, lat[k])
        for topic, partition, records, nbytes, lag in d["partitions"]:
            key = (topic, partition if by_partition else None)
            s = per[key].setdefault(b, {"dt": 0.0, "records": 0, "bytes": 0, "lag": 0, "_lags": {}})
            s["records"] += records
            s["bytes"] += nbytes
            s["_lags"][partition] = lag
        for key in {(t, p if by_partition else None) for t, p, *_ in d["partitions"]}:
            per[key][b]["dt"] += d["dt"]
    out_total = [
        {
            "at": b,
            "records_per_s": _rate(a["records"], a["dt"]),
            "bytes_per_s": _rate(a["bytes"], a["dt"]),
            "source_records_per_s": _rate(a["source"], a["dt"]),
            "lag": a["lag"],
            "latency_p50_ms": round(sum(a["p50"]) / len(a["p50"]), 1) if a["p50"] else None,
            "latency_p99_ms": a["p99"],
            "latency_max_ms": a["max"],
        }
        for b, a in sorted(total.items())
    ]
    out_series = [
        {
            "topic": topic,
            **({"partition": partition} if by_partition else {}),
            "points": [
                {
                    "at": b,
                    "records_per_s": _rate(s["records"], s["dt"]),
                    "bytes_per_s": _rate(s["bytes"], s["dt"]),
                    "lag": int(sum(s["_lags"].values())),
                }
                for b, s in sorted(buckets.items())
            ],
        }
        for (topic, partition), buckets in sorted(per.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0))
    ]
    return out_total, out_series


def _rate(count: float, seconds: float) -> float:
    return round(count / seconds, 2) if seconds > 0 else 0.0
