"""`ksync task watch`: a task's status, records/s and lag, refreshed in place.

Records per second are derived here, between two refreshes, from the committed offsets
the API reports: they count exactly what the target acknowledged.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Annotated

import typer

from ksync.cli.calls import EXIT_OK, ApiKey, ApiUrl, CaCert, Output, api, object_id, target
from ksync.cli.client import DEFAULT_URL, Json
from ksync.cli.output import cell
from ksync.cli.tasks import TaskId, lag_total, progress_table


class Rates:
    """Records per second per partition, from committed offsets between two refreshes."""

    def __init__(self) -> None:
        self._last: tuple[float, dict[tuple[str, int], int]] | None = None

    def update(self, progress: list[Json]) -> tuple[dict[tuple[str, int], float], float | None]:
        """The rates since the previous call, per partition and in total (None at first)."""
        now = time.monotonic()
        offsets = {
            (p["topic"], p["partition"]): p["committed_offset"]
            for p in progress if p.get("committed_offset") is not None
        }
        rates: dict[tuple[str, int], float] = {}
        total: float | None = None
        if self._last is not None and now > self._last[0]:
            then, before = self._last
            for key, offset in offsets.items():
                if key in before:
                    rates[key] = max(0, offset - before[key]) / (now - then)
            total = sum(rates.values())
        self._last = (now, offsets)
        return rates, total


def frame(task: Json, rates: dict[tuple[str, int], float], total: float | None, interval: float) -> str:
    """One refresh as people read it: the head lines, then progress per partition."""
    committed = sum(p["committed_offset"] or 0 for p in task["progress"])
    head = [
        (
            f"{task['id']}  {task['name']}  {task['status']}    "
            f"(every {interval:g}s, Ctrl-C to stop)  {time.strftime('%H:%M:%S')}"
        ),
        (
            f"committed offsets: {committed}   records/s: "
            f"{'-' if total is None else f'{total:.1f}'}   lag: {cell(lag_total(task))}"
        ),
    ]
    if task.get("error"):
        head.append(f"error: {task['error']}")
    head += [f"warning: {w}" for w in task.get("warnings", [])]
    body = progress_table(task["progress"], rates) if task["progress"] else "no progress reported yet"
    return "\n".join([*head, "", body])


def watch(
    task_id: TaskId,
    interval: Annotated[float, typer.Option(min=0.1, help="Seconds between refreshes")] = 2.0,
    count: Annotated[
        int | None, typer.Option(min=1, help="Exit after this many refreshes (scripts)", show_default=False)
    ] = None,
    api_url: ApiUrl = DEFAULT_URL,
    api_key: ApiKey = None,
    ca_cert: CaCert = None,
    output: Output = "table",
) -> None:
    """Refresh a task's status, records/s and lag in place (json: one line per refresh)."""
    t = target(api_url, api_key, output, ca_cert)
    tid = object_id(task_id, "task")
    redraw = sys.stdout.isatty() and not t.json
    rates = Rates()
    shown = 0
    try:
        with api(t) as client:
            while True:
                task = client.get_task(tid)
                per_partition, total = rates.update(task["progress"])
                shown += 1
                if t.json:
                    typer.echo(json.dumps(task))
                else:
                    text = frame(task, per_partition, total, interval)
                    # Clear and redraw at a terminal; separate frames in a pipe or a file.
                    typer.echo("\x1b[H\x1b[2J" + text if redraw else ("" if shown == 1 else "\n") + text)
                if count is not None and shown >= count:
                    return
                time.sleep(interval)
    except KeyboardInterrupt:
        raise typer.Exit(EXIT_OK) from None
