"""The Cut over action on a task's consumer-group offsets, in Chromium against a live
server with real brokers: the dry run shows each check before anything is written, and
the confirmation runs the cutover, whose steps stream in until it says where the group
resumes; the offsets it names are then the target group's."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from confluent_kafka import Consumer, KafkaException, TopicPartition
from helpers import add_instance, create_topic, producer, task_body, wait_status, wait_until
from playwright.sync_api import expect

from ksync.devkafka import KafkaCluster

from .support import confirm_dialog, open_page, screenshot

UID = uuid.uuid4().hex[:6]
TOPIC = f"cut-{UID}"
GROUP = f"app-{UID}"


def _consumer(broker: KafkaCluster) -> Consumer:
    return Consumer(
        {"bootstrap.servers": broker.bootstrap, "group.id": GROUP, "enable.auto.commit": False, "log_level": 3}
    )


@pytest.fixture
def task_id(client: httpx.Client, brokers: tuple[KafkaCluster, KafkaCluster]) -> Iterator[str]:
    """A task syncing TOPIC with offset sync on, and GROUP committed at 40 on the source."""
    src, dst = brokers
    create_topic(src, TOPIC, 1)
    p = producer(src)
    for i in range(120):
        p.produce(TOPIC, f"v{i}".encode(), partition=0)
    assert p.flush(30) == 0
    c = _consumer(src)

    def commit() -> bool:
        try:
            c.commit(offsets=[TopicPartition(TOPIC, 0, 40)], asynchronous=False)
        except KafkaException:  # the group's coordinator is still being found
            return False
        return True

    try:
        wait_until(commit, timeout_s=30, what=f"{GROUP} committed on the source")
    finally:
        c.close()
    body = task_body(
        add_instance(client, src, f"cutsrc-{UID}"),
        add_instance(client, dst, f"cutdst-{UID}"),
        topics=[TOPIC],
        options={"sync_group_offsets": {"enabled": True, "interval_s": 1}},
    )
    r = client.post("/api/v1/tasks", json=body)
    assert r.status_code == 202, r.text
    tid = str(r.json()["id"])
    wait_status(client, tid, "Running")
    yield tid
    client.delete(f"/api/v1/tasks/{tid}")
    wait_until(lambda: client.get(f"/api/v1/tasks/{tid}").status_code == 404, timeout_s=90)


def test_cut_over_runs_the_dry_run_then_the_cutover(
    page: Any, console_server: Any, brokers: tuple[KafkaCluster, KafkaCluster], task_id: str
) -> None:
    open_page(page, console_server.url, f"/tasks/{task_id}")
    expect(page.locator("#group-offset-table")).to_contain_text(GROUP, timeout=60_000)
    page.click("#cutover")
    page.fill("#cutover-group", GROUP)
    confirm_dialog(page)
    dialog = page.locator("#dialog[open]")
    expect(dialog.locator('.cutover-step[data-step="result"]')).to_contain_text("dry run", timeout=60_000)
    expect(dialog.locator(".cutover-step.ok").first).to_contain_text("is Running")
    assert dialog.locator('.cutover-step[data-step="stop"]').count() == 0
    expect(dialog.locator('[data-action="confirm"]')).to_be_enabled()
    screenshot(page, "cutover-dry-run")

    confirm_dialog(page)
    dialog = page.locator("#dialog[open]")
    expect(dialog.locator('.cutover-step[data-step="stop"]')).to_contain_text(f"stop the producers to topic {TOPIC}")
    result = dialog.locator('.cutover-step[data-step="result"]')
    expect(result).to_contain_text("resumes at offset", timeout=120_000)
    expect(result).to_contain_text(brokers[1].bootstrap)
    screenshot(page, "cutover-done")
    c = _consumer(brokers[1])
    try:
        committed = c.committed([TopicPartition(TOPIC, 0)], timeout=10)[0].offset
    finally:
        c.close()
    expect(result).to_contain_text(f"{TOPIC}[0] resumes at offset {committed} (exact)")
