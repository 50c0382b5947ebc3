"""Helpers for driving the console in tests: selectors, waits, screenshots."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ksync.store.repo import Store

REPO = Path(__file__).resolve().parents[2]
# Screenshots of the main pages (git-ignored), for a person to look at.
ARTIFACTS = REPO / "tests" / "artifacts"
STATUS_TIMEOUT_MS = 90_000


@dataclass(frozen=True)
class LocalConsole:
    """The console and API served in process (`local_console`): its URL and its store."""

    url: str
    store: Store


def screenshot(page: Any, name: str, full_page: bool = True) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"console-{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def field_error(page: Any, field: str) -> Any:
    """The error message shown next to the form field of API path `field`."""
    return page.locator(f'[data-field="{field}"] > .field-error')


def open_page(page: Any, base_url: str, route: str) -> None:
    """Load the console at `#<route>` (a full load, so each test starts clean)."""
    page.goto(f"{base_url}/#{route}")
    page.wait_for_selector("#view h1")


def task_row(page: Any, task_id: str) -> Any:
    return page.locator(f'#task-table tbody tr[data-id="{task_id}"]')


def confirm_dialog(page: Any) -> None:
    page.locator('#dialog[open] [data-action="confirm"]').click()


def choose_source(page: Any, instance_id: str) -> None:
    """In the wizard: pick the source instance and wait for its topic list."""
    page.wait_for_selector(f'#source-instance option[value="{instance_id}"]', state="attached")
    page.select_option("#source-instance", instance_id)
    page.wait_for_selector("#topic-picker input[type=checkbox]")


def choose_target(page: Any, instance_id: str) -> None:
    page.wait_for_selector(f'#target-instance option[value="{instance_id}"]', state="attached")
    page.select_option("#target-instance", instance_id)


def to_review(page: Any) -> None:
    """From any wizard step to the review step."""
    page.click('#stepper li[data-step="4"] button')
    page.wait_for_selector('section.step[data-step="4"]:not([hidden])')
