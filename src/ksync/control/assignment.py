"""Member slot assignment: which live worker runs each of a task's `task_max` slots, and
why a slot has none when every worker is full."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping


def assign_slots(
    task_id: str,
    task_max: int,
    current: dict[int, str | None],
    live_workers: list[str],
    load: Counter[str],
    capacity: Mapping[str, int | None] | None = None,
) -> dict[int, str | None]:
    """Keep slots on live workers; give the rest to the least-loaded live workers.

    A slot whose worker is alive never moves (moving it would cost a rebalance for
    nothing). Free slots go first to workers that run no slot of this task yet (spread),
    then to the least loaded. `load` counts slots per worker over all tasks and is
    updated in place so successive calls spread across tasks too.

    `capacity` is each worker's `--max-members` (None or absent: no cap): a worker is never
    given a slot once `load` reaches it, and a worker over it (restarted with a lower cap)
    gives up slots until it is not. A slot no worker has room for stays None (see
    `no_room_warning`).
    """
    caps = capacity or {}
    live = set(live_workers)
    result: dict[int, str | None] = {}
    for slot in range(task_max):
        worker = current.get(slot)
        if worker in live and not _over(worker, load, caps):
            result[slot] = worker
        else:
            if worker in live:
                load[worker] -= 1  # given up: over its cap
            result[slot] = None
    mine = Counter(w for w in result.values() if w is not None)
    for slot in range(task_max):
        if result[slot] is not None:
            continue
        room = [w for w in live_workers if _has_room(w, load, caps)]
        if not room:
            continue
        worker = min(room, key=lambda w: (mine[w], load[w], w))
        result[slot] = worker
        mine[worker] += 1
        load[worker] += 1
    return result


def _has_room(worker: str, load: Counter[str], caps: Mapping[str, int | None]) -> bool:
    cap = caps.get(worker)
    return cap is None or load[worker] < cap


def _over(worker: str, load: Counter[str], caps: Mapping[str, int | None]) -> bool:
    cap = caps.get(worker)
    return cap is not None and load[worker] > cap


def no_room_warning(
    assignment: Mapping[int, str | None], capacity: Mapping[str, int | None], load: Counter[str]
) -> str | None:
    """Why some slots of `assignment` have no worker although workers are alive (every one
    hosts its `--max-members` already), and what raises the capacity; None when every
    slot has a worker or no worker is alive (then the task simply waits for one)."""
    waiting = sorted(slot for slot, worker in assignment.items() if worker is None)
    if not waiting or not capacity:
        return None
    full = ", ".join(f"{w} {load[w]} of {cap}" for w, cap in sorted(capacity.items()))
    which = "slot" + ("s " if len(waiting) > 1 else " ") + ", ".join(map(str, waiting))
    return (
        f"member {which} not assigned: every live worker hosts as many members as its "
        f"--max-members allows ({full}); raise --max-members on a worker (ksync server or "
        "ksync worker option), add a worker, or lower the task's task_max"
    )
