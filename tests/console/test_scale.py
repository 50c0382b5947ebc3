"""The task list with 200 tasks: all shown at once, refreshed in place, searched without
a request. The time it takes is printed, not asserted (a loaded machine says nothing about
the page); what keeps it fast is asserted instead: a refresh of an unchanged list keeps
every row element rather than rebuilding the table.

The tasks are created through the API, served in process over instances that are store
rows: nothing runs them (no controller, no Kafka), and every task keeps the status it was
created with.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
from helpers import task_body
from inprocess import add_instance_row
from playwright.sync_api import expect

from .support import LocalConsole, open_page, screenshot

TASKS = 200

# From the hash change to 200 rows laid out: the API call, the DOM build and a layout.
MEASURE = """async (count) => {
  const t0 = performance.now();
  window.location.hash = "#/tasks";
  await new Promise((resolve) => {
    const check = () =>
      document.querySelectorAll("#task-table tbody tr").length >= count ? resolve() : requestAnimationFrame(check);
    check();
  });
  document.body.getBoundingClientRect();
  return {
    totalMs: performance.now() - t0,
    renderMs: window.ksyncTiming.taskListRenderMs,
    rows: document.querySelectorAll("#task-table tbody tr").length,
  };
}"""


def test_200_tasks_render_under_a_second(page: Any, local_console: LocalConsole) -> None:
    ids = [add_instance_row(local_console.store, name) for name in ("scale-src", "scale-dst")]
    uid = uuid.uuid4().hex[:6]
    started = time.monotonic()
    with httpx.Client(base_url=local_console.url, timeout=30) as client:
        for i in range(TASKS):
            body = task_body(
                ids[0], ids[1], name=f"bulk-{uid}-{i:03d}", topic_regex=f"bulk-{uid}-{i:03d}-.*"
            )
            r = client.post("/api/v1/tasks", json=body)
            assert r.status_code == 202, r.text
    created_s = time.monotonic() - started

    # From another page (one that asks nothing of the instances: the instances page would
    # try to reach these rows), so that the measure includes building the task list.
    open_page(page, local_console.url, "/workers")
    timing = page.evaluate(MEASURE, TASKS)
    rows = page.locator("#task-table tbody tr")
    expect(rows).to_have_count(TASKS)
    expect(page.locator("#status-counts")).to_contain_text(f"Unassigned {TASKS}")
    assert timing["rows"] == TASKS, timing

    # The list refreshes every 2 s and patches rows in place: after the next refresh's
    # render every row is the same element as before.
    page.evaluate("""() => {
      document.querySelectorAll("#task-table tbody tr").forEach((tr) => { tr.ksyncMark = true; });
      window.ksyncTiming.taskListRenderMs = null;
    }""")
    page.wait_for_function("() => window.ksyncTiming.taskListRenderMs !== null")
    kept = page.evaluate(
        """() => [...document.querySelectorAll("#task-table tbody tr")].filter((tr) => tr.ksyncMark).length"""
    )
    assert kept == TASKS, f"{TASKS - kept} rows were rebuilt by a refresh that changed nothing"
    refresh = page.evaluate("window.ksyncTiming.taskListRenderMs")
    print(
        f"created {TASKS} tasks in {created_s:.1f}s; list shown in {timing['totalMs']:.0f} ms "
        f"(DOM build {timing['renderMs']:.0f} ms, unchanged refresh {refresh:.0f} ms)"
    )

    # Search narrows the list without a request.
    page.fill("#task-search", f"bulk-{uid}-19")
    expect(page.locator("#task-table tbody tr:not([hidden])")).to_have_count(10)
    page.fill("#task-search", "")
    screenshot(page, "tasks-200", full_page=False)
