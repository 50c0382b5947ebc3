"""The console's alarm rules page (create, edit, delete, with the API's refusal shown in
the form), the start-point prompt of a task paused longer than the pause retention, an
instance page's traffic chart against its quota, the state of each topic on the task
page, and the records it could not copy (lost to retention, dead-lettered, skipped). Debian's Chromium against the console served in process over a store (no Kafka, no
controller: tasks keep the status written for them, and traffic history is written as the
controller writes it).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers import wait_until
from inprocess import add_instance_row, app_on_store, serving
from playwright.sync_api import expect

from ksync.control import alarms as alarm_service
from ksync.domain.errors import NotFound
from ksync.domain.status import Desired, MemberState, TaskStatus
from ksync.domain.task import TaskChange
from ksync.domain.topics import TopicMapping
from ksync.domain.workers import MemberReport
from ksync.spec import InstanceSpec, TaskSpec
from ksync.store.repo import Store, utcnow

from .support import LocalConsole, confirm_dialog, open_page, screenshot

HOOK = "http://127.0.0.1:9/hook"


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalConsole]:
    """The console in process; webhooks on loopback allowed (these tests never fire one),
    and a pause retention of an hour."""
    folder: Path = tmp_path_factory.mktemp("console-alarms")
    with app_on_store(folder, webhook_allow=("127.0.0.0/8",), pause_retention_s=3600) as app, serving(app) as url:
        yield LocalConsole(url, app.state.store)


def add_task(store: Store, name: str, source: str | None = None, target: str | None = None) -> str:
    spec = TaskSpec.model_validate({
        "name": name,
        "source": {"instance_id": source or add_instance_row(store), "topics": ["orders"]},
        "target": {"instance_id": target or add_instance_row(store)},
    })
    return store.tasks.add(spec, []).id


def test_alarm_rules_are_created_edited_and_deleted(page: Any, console: LocalConsole) -> None:
    task_id = add_task(console.store, f"alarmed-{uuid.uuid4().hex[:6]}")
    name = f"lag-{uuid.uuid4().hex[:6]}"
    open_page(page, console.url, "/alarms")
    page.click("#create-alarm")
    page.fill("#alarm-name", name)
    page.select_option("#alarm-task", task_id)
    page.select_option("#alarm-metric", "lag")
    page.select_option("#alarm-comparison", ">")
    page.fill("#alarm-duration", "60")
    page.fill("#alarm-webhooks", HOOK)
    # No threshold: the API's refusal is shown in the form, and nothing is written.
    page.click("#alarm-submit")
    expect(page.locator("#alarm-form")).to_contain_text("threshold is required with metric 'lag'")
    assert [r.spec.name for r in alarm_service.rules(console.store)] == []

    page.fill("#alarm-threshold", "10000")
    page.click("#alarm-submit")
    row = page.locator("#alarm-table tbody tr", has_text=name)
    expect(row.locator("td.condition")).to_have_text("lag > 10000 for 60 s")
    [rule] = [r for r in alarm_service.rules(console.store) if r.spec.name == name]
    assert (rule.spec.task_id, rule.spec.threshold, rule.spec.webhooks) == (task_id, 10000.0, [HOOK])

    # Edit: the form opens filled in; a status rule hides the threshold.
    row.locator('[data-op="edit"]').click()
    expect(page.locator("#alarm-name")).to_have_value(name)
    expect(page.locator("#alarm-threshold")).to_have_value("10000")
    page.select_option("#alarm-metric", "status")
    expect(page.locator("#alarm-number")).to_be_hidden()
    page.select_option("#alarm-status", "Failed")
    page.uncheck("#alarm-enabled")
    page.click("#alarm-submit")
    expect(row.locator("td.condition")).to_have_text("status == Failed for 60 s")
    edited = alarm_service.get(console.store, rule.id)
    assert (edited.spec.metric, edited.spec.status, edited.spec.enabled) == ("status", "Failed", False)

    # A webhook the server refuses is named, and the rule stays as it was.
    row.locator('[data-op="edit"]').click()
    page.fill("#alarm-webhooks", "ftp://example.com/x")
    page.click("#alarm-submit")
    expect(page.locator("#alarm-form")).to_contain_text("must be an http:// or https:// URL")
    assert alarm_service.get(console.store, rule.id).spec.webhooks == [HOOK]
    page.click("#alarm-form >> text=Cancel")
    screenshot(page, "alarm-rules")

    row.locator('[data-op="delete"]').click()
    expect(page.locator("#dialog")).to_contain_text(rule.id)
    confirm_dialog(page)
    expect(row).to_have_count(0)
    with pytest.raises(NotFound):
        alarm_service.get(console.store, rule.id)


def _pause(store: Store, task_id: str, at: datetime) -> None:
    store.tasks.change(task_id, lambda _: TaskChange(desired=Desired.PAUSED, paused_at=at, status=TaskStatus.PAUSED))


def test_start_after_the_retention_asks_for_the_start_point(page: Any, console: LocalConsole) -> None:
    store = console.store
    task_id = add_task(store, f"long-paused-{uuid.uuid4().hex[:6]}")
    _pause(store, task_id, utcnow() - timedelta(hours=2))  # the retention here is 1 h
    open_page(page, console.url, f"/tasks/{task_id}")
    page.click('#task-head [data-op="start"]')
    prompt = page.locator("#dialog[open] #start-point-prompt")
    expect(prompt).to_contain_text("longer than the pause retention")
    expect(page.locator("#restart-from-latest")).to_be_checked()
    expect(page.locator("#restart-from-time")).to_be_disabled()

    # Cancel starts nothing.
    page.locator('#dialog[open] [data-action="cancel"]').click()
    assert store.tasks.get(task_id).desired == Desired.PAUSED

    page.click('#task-head [data-op="start"]')
    page.check("#restart-from-timestamp")
    page.fill("#restart-from-time", "2026-03-01T08:30:00")
    expected_ms = page.evaluate("() => new Date('2026-03-01T08:30:00').getTime()")
    confirm_dialog(page)
    wait_until(lambda: store.tasks.get(task_id).desired == Desired.RUNNING, timeout_s=20, what="the start to be recorded")
    start = store.tasks.get(task_id).spec.source.start
    assert (start.type, start.timestamp_ms) == ("timestamp", expected_ms)


def test_start_within_the_retention_resumes_without_asking(page: Any, console: LocalConsole) -> None:
    store = console.store
    task_id = add_task(store, f"short-paused-{uuid.uuid4().hex[:6]}")
    _pause(store, task_id, utcnow() - timedelta(minutes=5))
    open_page(page, console.url, f"/tasks/{task_id}")
    page.click('#task-head [data-op="start"]')
    wait_until(lambda: store.tasks.get(task_id).desired == Desired.RUNNING, timeout_s=20, what="the start to be recorded")
    assert store.tasks.get(task_id).spec.source.start.type == "earliest"  # the progress is kept
    expect(page.locator("#dialog[open]")).to_have_count(0)


def test_an_instance_page_charts_traffic_in_and_out_against_its_quota(page: Any, console: LocalConsole) -> None:
    store = console.store
    spec = InstanceSpec(name=f"quota-{uuid.uuid4().hex[:6]}", bootstrap_servers="127.0.0.1:9", sync_quota_mb_s=2.0)
    hub = store.instances.add(spec, "cluster-quota", 1).id
    reader = add_task(store, f"reads-{uuid.uuid4().hex[:6]}", source=hub)
    writer = add_task(store, f"writes-{uuid.uuid4().hex[:6]}", target=hub)
    now = utcnow().replace(microsecond=0)
    for i in range(1, 13):  # the last two minutes, a point every 10 s
        at = now - timedelta(seconds=10 * i)
        for task_id, nbytes in ((reader, 5_000_000), (writer, 1_000_000)):
            data = {"dt": 10.0, "records": 100, "bytes": nbytes, "lag": 0, "partitions": [["orders", 0, 100, nbytes, 0]]}
            store.metrics.add_point(task_id, at, data)

    open_page(page, console.url, f"/instances/{hub}")
    chart = page.locator("#chart-instance-traffic")
    expect(chart).to_have_attribute("data-quota", "2000000")
    expect(page.locator("#traffic-note")).to_contain_text("sync quota of 2 MB/s")
    top = {}
    for name in ("in (read by tasks)", "out (written by tasks)", "sync quota"):
        line = chart.locator(f'path.series-line[data-series="{name}"]')
        expect(line).to_have_count(1)
        # SVG y grows downwards: the smallest y is the line's highest value.
        top[name] = min(float(y) for y in re.findall(r"[ML][\d.]+,([\d.]+)", line.get_attribute("d") or ""))
    # The quota (2 MB/s) is the largest value drawn, above the 500 kB/s read (5 MB per
    # 10 s), which is above the 100 kB/s written; none of them lies on the zero line.
    assert float(chart.get_attribute("data-max") or 0) == 2_000_000.0
    baseline = max(float(y) for y in re.findall(r"[ML][\d.]+,([\d.]+)", chart.locator('path.series-line[data-series="out (written by tasks)"]').get_attribute("d") or ""))
    assert top["sync quota"] < top["in (read by tasks)"] < top["out (written by tasks)"] < baseline
    legend = chart.locator(".legend")
    expect(legend).to_contain_text("in (read by tasks)")
    expect(legend).to_contain_text("sync quota 2MB/s")  # decimal, like the quota
    screenshot(page, "instance-traffic")


def test_the_task_page_shows_each_topics_state_and_why_one_is_blocked(page: Any, console: LocalConsole) -> None:
    store = console.store
    task_id = add_task(store, f"blocked-{uuid.uuid4().hex[:6]}")
    why = "target topic bt-c has 1 partition, the source 4 (keep_partition needs as many)"
    store.tasks.observe(task_id, TaskChange(topics=(
        TopicMapping("bt-a", "bt-a", 4),
        TopicMapping("bt-c", "bt-c", 4).blocked(why),
    )))
    open_page(page, console.url, f"/tasks/{task_id}")
    table = page.locator("#progress-table")
    expect(table.locator('tr.topic-row[data-topic="bt-a"] .topic-state')).to_have_text("syncing")
    expect(table.locator('tr.topic-row[data-topic="bt-c"] .topic-state')).to_have_text("blocked")
    expect(table.locator('tr.topic-error[data-topic="bt-c"]')).to_have_text(why)
    expect(table.locator('tr.topic-error[data-topic="bt-a"]')).to_have_count(0)

    # Once the controller unblocks it, the page follows without a reload.
    store.tasks.observe(task_id, TaskChange(topics=(TopicMapping("bt-a", "bt-a", 4), TopicMapping("bt-c", "bt-c", 4))))
    expect(table.locator('tr.topic-row[data-topic="bt-c"] .topic-state')).to_have_text("syncing")
    expect(table.locator("tr.topic-error")).to_have_count(0)


def test_the_task_page_shows_records_lost_to_retention_and_refused_records_in_their_own_section(
    page: Any, console: LocalConsole
) -> None:
    """The "Records not copied" section: counts of records lost to retention, sent to the
    dead-letter topic and skipped (the task's metrics), the partitions that lost records
    with the last gap, and each topic's warnings; a task that lost nothing says so."""
    store = console.store
    clean = add_task(store, f"clean-{uuid.uuid4().hex[:6]}")
    open_page(page, console.url, f"/tasks/{clean}")
    expect(page.locator("#not-copied #nothing-lost")).to_be_visible()

    task_id = add_task(store, f"lossy-{uuid.uuid4().hex[:6]}")
    kept = "configs of target topic orders not synced from source topic orders: refused; its records keep flowing"
    store.tasks.observe(task_id, TaskChange(topics=(TopicMapping("orders", "orders", 2, 2).noted(kept),)))
    store.metrics.set_current(
        task_id, {"lost_records_total": 30, "dead_lettered_total": 4, "skipped_refused_total": 0}
    )
    progress = [
        {"topic": "orders", "partition": 0, "committed_offset": 50, "end_offset": 60},
        {"topic": "orders", "partition": 1, "committed_offset": 90, "end_offset": 90,
         "lost_records": 30, "lost_first": 10, "lost_earliest": 40},
    ]
    store.workers.heartbeat("w-lossy", "127.0.0.1", 1, [MemberReport(
        task_id=task_id, slot=0, generation=0, state=MemberState.RUNNING,
        partitions=[("orders", 0), ("orders", 1)], progress=progress, error=None, warnings=[],
        records_total=140,
    )])
    open_page(page, console.url, f"/tasks/{task_id}")
    section = page.locator("#not-copied")
    expect(section.locator("#lost-total .stat-value")).to_have_text("30")
    expect(section.locator("#dead-lettered-total .stat-value")).to_have_text("4")
    expect(section.locator("#skipped-total .stat-value")).to_have_text("0")
    rows = section.locator("#lost-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("td")).to_have_text(["orders", "1", "30", "10 to 39"])
    warnings = section.locator('#topic-warnings li[data-topic="orders"]')
    expect(warnings).to_have_count(2)
    expect(warnings.nth(0)).to_contain_text(kept)
    expect(warnings.nth(1)).to_contain_text("partition 1: 30 records lost to retention")
    screenshot(page, "task-not-copied")
    store.workers.remove("w-lossy")
