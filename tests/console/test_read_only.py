"""A read-only key in the console: every page shows, and what it may not do is hidden
with a note that says why (the API refuses it anyway: tests/auth/test_read_only.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from inprocess import add_instance_row, app_on_store, serving
from playwright.sync_api import expect

from ksync.api.auth import ApiKey, KeyRing

from .support import open_page, screenshot, task_row

READER = "console-reader-secret-7"
WRITER = "console-writer-secret-8"


@dataclass(frozen=True)
class Served:
    url: str
    task_id: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    keys = KeyRing([ApiKey("AKIDreader", READER, read_only=True), ApiKey("AKIDwriter", WRITER)])
    with app_on_store(tmp_path_factory.mktemp("console-read-only"), keys) as app, serving(app) as url:
        store = app.state.store
        src, dst = add_instance_row(store, "ro-src"), add_instance_row(store, "ro-dst")
        with TestClient(app, base_url="http://127.0.0.1") as c:
            r = c.post("/api/v1/tasks", headers={"authorization": f"Bearer {WRITER}"}, json={
                "name": "ro-console", "source": {"instance_id": src, "topics": ["t"]},
                "target": {"instance_id": dst},
            })
            assert r.status_code == 202, r.text
            yield Served(url, r.json()["id"])


def login(page: Any, url: str, secret: str) -> None:
    page.goto(f"{url}/login")
    page.fill("#secret", secret)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{url}/")


def test_a_read_only_key_sees_every_page_and_no_control_that_changes_something(page: Any, served: Served) -> None:
    login(page, served.url, READER)
    expect(page.locator("#read-only-note")).to_be_visible()
    expect(page.locator("#read-only-note")).to_contain_text("read-only")
    expect(page.locator("#read-only-badge")).to_be_visible()

    open_page(page, served.url, "/tasks")
    row = task_row(page, served.task_id)
    expect(row).to_contain_text("ro-console")
    expect(page.locator("#create-task")).to_be_hidden()
    assert row.locator("button[data-op]").count() > 0  # drawn, and hidden
    for button in row.locator("button[data-op]").all():
        expect(button).to_be_hidden()
    screenshot(page, "read-only-tasks")

    open_page(page, served.url, f"/tasks/{served.task_id}")
    expect(page.locator("#view h1")).to_contain_text("ro-console")
    expect(page.locator("#view-config")).to_be_visible()
    expect(page.locator("#edit-options")).to_be_hidden()
    for button in page.locator("#view button[data-op]").all():
        expect(button).to_be_hidden()

    open_page(page, served.url, "/instances")
    expect(page.locator("#instance-table")).to_contain_text("ro-src")
    expect(page.locator("#add-instance")).to_be_hidden()
    expect(page.locator("#instance-table button", has_text="Delete").first).to_be_hidden()

    open_page(page, served.url, "/alarms")
    expect(page.locator("#create-alarm")).to_be_hidden()

    # The wizard's address says what the key cannot do instead of offering a form.
    open_page(page, served.url, "/tasks/new")
    expect(page.locator("#read-only-page")).to_contain_text("cannot create a task")
    expect(page.locator("#wizard-create")).to_have_count(0)


def test_a_full_key_sees_the_controls(page: Any, served: Served) -> None:
    login(page, served.url, WRITER)
    open_page(page, served.url, "/tasks")
    expect(task_row(page, served.task_id)).to_contain_text("ro-console")
    expect(page.locator("#read-only-note")).to_be_hidden()
    expect(page.locator("#read-only-badge")).to_be_hidden()
    expect(page.locator("#create-task")).to_be_visible()
    expect(task_row(page, served.task_id).locator("button[data-op]").first).to_be_visible()
    open_page(page, served.url, "/instances")
    expect(page.locator("#add-instance")).to_be_visible()
