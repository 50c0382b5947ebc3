"""Target topics by name in the wizard, in Chromium against a live server with real
brokers: a rename and a 3->1 merge typed per source topic, the preview of the resulting
names (and of the merge keep_partition forbids, then the API's own refusal next to the
field), and the created task's `target.topic_map`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from helpers import add_instance, create_topic, wait_until
from playwright.sync_api import expect

from ksync.devkafka import KafkaCluster

from .support import (
    choose_source,
    choose_target,
    field_error,
    open_page,
    screenshot,
    task_row,
    to_review,
)

UID = uuid.uuid4().hex[:6]
ORDERS, EU, US, ASIA = (f"tmw-{t}-{UID}" for t in ("orders", "eu", "us", "asia"))
BACKUP, ALL = f"tmw-orders-bak-{UID}", f"tmw-all-{UID}"


@pytest.fixture(scope="module")
def instances(client: httpx.Client, brokers: tuple[KafkaCluster, KafkaCluster]) -> tuple[str, str]:
    src, dst = brokers
    for topic in (ORDERS, EU, US, ASIA):
        create_topic(src, topic, 2)
    create_topic(dst, ALL, 2)  # an existing target topic, offered in the name list
    return add_instance(client, src, f"tmsrc-{UID}"), add_instance(client, dst, f"tmdst-{UID}")


@pytest.fixture
def created(client: httpx.Client) -> Iterator[list[str]]:
    """Ids of the tasks a test created, deleted (and gone) afterwards."""
    ids: list[str] = []
    yield ids
    for task_id in ids:
        client.delete(f"/api/v1/tasks/{task_id}")
    for task_id in ids:

        def gone(t: str = task_id) -> bool:
            return client.get(f"/api/v1/tasks/{t}").status_code == 404

        wait_until(gone, timeout_s=90)


def name_it(page: Any, source: str, target: str) -> None:
    page.locator(f'#target-table input.map-name[data-source="{source}"]').fill(target)


def row(page: Any, source: str) -> Any:
    return page.locator(f'#target-table tbody tr[data-source="{source}"]')


def test_wizard_names_target_topics_and_previews_them(
    page: Any,
    console_server: Any,
    client: httpx.Client,
    instances: tuple[str, str],
    created: list[str],
) -> None:
    src, dst = instances
    open_page(page, console_server.url, "/tasks/new")
    choose_source(page, src)
    for topic in (ORDERS, EU, US, ASIA):
        page.check(f'#topic-picker input[value="{topic}"]')
    page.fill("#task-name", f"tmw-{UID}")
    page.click("#wizard-next")
    choose_target(page, dst)
    page.fill("#topic-prefix", "bk")

    # Unnamed topics preview the prefix name; the field shows it as its placeholder.
    expect(row(page, ORDERS).locator("td.target-topic")).to_have_text(f"bk.{ORDERS}")
    expect(row(page, ORDERS).locator("input.map-name")).to_have_attribute(
        "placeholder", f"bk.{ORDERS}"
    )
    # The target's existing topics are offered to pick from.
    expect(page.locator(f'#target-topic-names option[value="{ALL}"]')).to_be_attached()

    # Each name re-renders the table (debounced): its preview follows each name.
    name_it(page, ORDERS, BACKUP)
    expect(row(page, ORDERS).locator("td.target-topic")).to_have_text(BACKUP)
    for topic in (EU, US, ASIA):
        name_it(page, topic, ALL)
        expect(row(page, topic).locator("td.target-topic")).to_have_text(ALL)
    expect(row(page, ORDERS)).to_contain_text("will be created")
    for topic in (EU, US, ASIA):
        expect(row(page, topic).locator("td.target-topic")).to_have_text(ALL)
    # Keep partitions is on: the preview says why a merge cannot be.
    expect(row(page, EU)).to_contain_text(
        f"shared with {ASIA}, {US}: partitions of different topics cannot keep their numbers"
    )

    # Created as it is, the API refuses it and the wizard shows why at the field.
    to_review(page)
    page.click("#wizard-create")
    expect(field_error(page, "target.topic_map")).to_contain_text(
        "cannot keep their numbers in one target topic: set target.keep_partition to false"
    )
    expect(page.locator('section.step[data-step="2"]')).to_be_visible()

    page.uncheck("#keep-partition")
    expect(field_error(page, "target.topic_map")).to_be_hidden()  # about the old settings
    expect(row(page, EU)).to_contain_text(f"merged with {ASIA}, {US}, spread by key")
    screenshot(page, "wizard-topic-map")
    expect(row(page, EU)).to_contain_text("exists (2 partitions)")
    to_review(page)
    expect(page.locator("#review")).to_contain_text(f"{ORDERS} → {BACKUP}")
    expect(page.locator("#review")).to_contain_text(f"{EU} → {ALL}")
    page.click("#wizard-create")
    page.wait_for_url("**/#/tasks")

    task = next(t for t in client.get("/api/v1/tasks").json()["tasks"] if t["name"] == f"tmw-{UID}")
    created.append(task["id"])
    assert task["target"]["topic_map"] == {ORDERS: BACKUP, EU: ALL, US: ALL, ASIA: ALL}
    assert task["target"]["keep_partition"] is False
    assert task["target"]["topic_prefix"] == "bk"
    # The task's configuration shows the names it was given.
    task_row(page, task["id"]).locator('button[data-op="config"]').click()
    for source, name in (task["target"]["topic_map"]).items():
        expect(page.locator("#dialog")).to_contain_text(f"{source} → {name}")


def test_typing_a_name_survives_a_render_of_the_table(
    page: Any, console_server: Any, instances: tuple[str, str]
) -> None:
    """Polls and debounced edits re-render the target table at any moment: a name half
    typed when one lands keeps its field, its focus and its caret, and the rest of it
    goes on into the same field."""
    src, dst = instances
    open_page(page, console_server.url, "/tasks/new")
    choose_source(page, src)
    page.check(f'#topic-picker input[value="{ORDERS}"]')
    page.click("#wizard-next")
    choose_target(page, dst)
    expect(page.locator(f'#target-topic-names option[value="{ALL}"]')).to_be_attached()
    field = row(page, ORDERS).locator("input.map-name")
    field.click()
    page.keyboard.type("tmw-half")
    expect(row(page, ORDERS).locator("td.target-topic")).to_have_text("tmw-half")
    # A render while the field has the focus: the prefix's debounced one, marked so that
    # the test sees it happen.
    page.evaluate(
        """() => {
            document.querySelector("#target-table").dataset.before = "1";
            document.querySelector("#topic-prefix").dispatchEvent(new Event("input"));
        }"""
    )
    expect(page.locator("#target-table:not([data-before])")).to_be_attached()
    page.keyboard.type("-done")
    expect(field).to_have_value("tmw-half-done")
    expect(row(page, ORDERS).locator("td.target-topic")).to_have_text("tmw-half-done")
