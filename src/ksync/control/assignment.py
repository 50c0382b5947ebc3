"""Member slot assignment: which live worker runs each of a task's `task_max` slots."""

from __future__ import annotations

from collections import Counter


def assign_slots(
    task_id: str,
    task_max: int,
    current: dict[int, str | None],
    live_workers: list[str],
    load: Counter[str],
) -> dict[int, str | None]:
    """Keep slots on live workers; give the rest to the least-loaded live workers.

    A slot whose worker is alive never moves (moving it would cost a rebalance for
    nothing). Free slots go first to workers that run no slot of this task yet (spread),
    then to the least loaded. `load` counts slots per worker over all tasks and is
    updated in place so successive calls spread across tasks too.
    """
    live = set(live_workers)
    result: dict[int, str | None] = {}
    for slot in range(task_max):
        worker = current.get(slot)
        result[slot] = worker if worker in live else None
    mine = Counter(w for w in result.values() if w is not None)
    for slot in range(task_max):
        if result[slot] is not None or not live_workers:
            continue
        worker = min(live_workers, key=lambda w: (mine[w], load[w], w))
        result[slot] = worker
        mine[worker] += 1
        load[worker] += 1
    return result
