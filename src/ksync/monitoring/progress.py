"""A task's progress per partition, from what its members last reported."""

from __future__ import annotations

from typing import Any

from ksync.domain.workers import MemberView as MemberRow


def partition_progress(members: list[MemberRow]) -> list[dict[str, Any]]:
    """Committed offset, end offset and lag per partition, sorted by topic and partition.

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
        out.append(
            {
                "topic": topic,
                "partition": partition,
                "committed_offset": committed,
                "end_offset": end,
                "lag": lag,
            }
        )
    return out
