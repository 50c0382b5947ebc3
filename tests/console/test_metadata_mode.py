"""The wizard's mode choice and ACL option, in Chromium against a live server with real
brokers: a task created as "topics only" with ACL sync reaches the API with
`options.mode: metadata` and `sync_topic_acls`, its page says it copies no record
(instead of rates and a lag of zero), and its configuration shows both."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from helpers import add_instance, create_topic, wait_until
from playwright.sync_api import expect

from ksync.devkafka import KafkaCluster

from .support import choose_source, choose_target, open_page, screenshot, task_row, to_review

UID = uuid.uuid4().hex[:6]
TOPIC = f"mmw-{UID}"


@pytest.fixture(scope="module")
def instances(client: httpx.Client, brokers: tuple[KafkaCluster, KafkaCluster]) -> tuple[str, str]:
    src, dst = brokers
    create_topic(src, TOPIC, 2)
    return add_instance(client, src, f"mmsrc-{UID}"), add_instance(client, dst, f"mmdst-{UID}")


@pytest.fixture
def created(client: httpx.Client) -> Iterator[list[str]]:
    ids: list[str] = []
    yield ids
    for task_id in ids:
        client.delete(f"/api/v1/tasks/{task_id}")
    for task_id in ids:
        wait_until(lambda t=task_id: client.get(f"/api/v1/tasks/{t}").status_code == 404, timeout_s=90)


def test_wizard_creates_a_topics_only_task_with_acl_sync_and_its_page_says_no_record_is_copied(
    page: Any, console_server: Any, client: httpx.Client, instances: tuple[str, str], created: list[str]
) -> None:
    src, dst = instances
    open_page(page, console_server.url, "/tasks/new")
    choose_source(page, src)
    page.check(f'#topic-picker input[value="{TOPIC}"]')
    page.fill("#task-name", f"mmw-{UID}")
    page.click("#wizard-next")
    choose_target(page, dst)
    page.fill("#topic-prefix", "mm")
    page.click("#wizard-next")
    expect(page.locator("#mode-data")).to_be_checked()  # records and topics by default
    page.check("#mode-metadata")
    page.check("#sync-acls")
    to_review(page)
    expect(page.locator("#review")).to_contain_text("topics only: no record is copied")
    expect(page.locator("#review")).to_contain_text("Sync topic ACLs")
    expect(page.locator("#request-body")).to_contain_text('"mode": "metadata"')
    page.click("#wizard-create")
    page.wait_for_url("**/#/tasks")

    task = next(t for t in client.get("/api/v1/tasks").json()["tasks"] if t["name"] == f"mmw-{UID}")
    created.append(task["id"])
    assert task["options"]["mode"] == "metadata" and task["options"]["sync_topic_acls"] is True
    task_row(page, task["id"]).locator('button[data-op="config"]').click()
    expect(page.locator("#dialog")).to_contain_text("metadata: topics kept in step, no record copied")
    expect(page.locator("#dialog")).to_contain_text("yes (READ only)")

    open_page(page, console_server.url, f"/tasks/{task['id']}")
    expect(page.locator("#metadata-only")).to_contain_text("copies no record")
    expect(page.locator("#task-stats")).not_to_contain_text("Records/s")
    screenshot(page, "task-metadata-only")
