"""A task's progress per partition, from what its members last reported."""

from __future__ import annotations

from typing import Any

from ksync.domain.topics import lost_to_retention
from ksync.domain.workers import MemberView as MemberRow

# What a member reports of a partition whose records the source deleted before they were
# copied (`ksync.replication.commit.lost_entry`).
LOST_KEYS = ("lost_records", "lost_first", "lost_earliest")


def partition_progress(members: list[MemberRow]) -> list[dict[str, Any]]:
    """Committed offset, end offset and lag per partition, sorted by topic and partition,
    with the records lost to retention where a member reported any (`LOST_KEYS`).

    A partition no member reports right now (paused task, rebalance) keeps the last value
    any member reported for it; the newest report wins.
    """
    best: dict[tuple[str, int], dict[str, Any]] = {}
    for m in sorted(members, key=lambda m: m.updated_at):
        for p in m.progress:
            best[(p["topic"], p["partition"])] = p
    out = []
    for (topic, partition), p in sorted(best.items()):
        committed, end = p.get("committed_offset"), p.get("end_offset")
        lag = max(0, end - committed) if committed is not None and end is not None else None
        entry = {
            "topic": topic,
            "partition": partition,
            "committed_offset": committed,
            "end_offset": end,
            "lag": lag,
        }
        entry.update((k, p[k]) for k in LOST_KEYS if k in p)
        out.append(entry)
    return out


def lost_warnings(progress: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Per topic, the warnings for partitions whose records the source deleted before they
    were copied, from `partition_progress` (as reported by the members that saw it)."""
    out: dict[str, list[str]] = {}
    for p in progress:
        if p.get("lost_records"):
            out.setdefault(p["topic"], []).append(
                lost_to_retention(
                    p["topic"], p["partition"], p["lost_records"], p["lost_first"], p["lost_earliest"]
                )
            )
    return out
