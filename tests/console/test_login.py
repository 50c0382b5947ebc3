"""With `--api-keys-file`, the console asks for an API secret before it shows anything."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from inprocess import app_on_store, serving
from playwright.sync_api import expect

from ksync.api.auth import SESSION_COOKIE, ApiKey, KeyRing

from .support import field_error, screenshot

SECRET = "console-login-secret-42"


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The console served in process with two API keys (no Kafka: login is the API's own)."""
    keys = KeyRing([ApiKey("AKIDconsole", SECRET), ApiKey("AKIDother", "another-secret-7")])
    with app_on_store(tmp_path_factory.mktemp("console-keys"), keys) as app, serving(app) as url:
        yield url


def test_login_refuses_a_wrong_secret_and_accepts_the_right_one(
    page: Any, keyed_server: str
) -> None:
    # Without a session the console sends the browser to the login form.
    page.goto(f"{keyed_server}/#/instances")
    page.wait_for_url(re.compile(r"/login(#.*)?$"))
    expect(page.locator("#secret")).to_be_visible()
    screenshot(page, "login")

    page.fill("#secret", "wrong-secret-123")
    page.click("#login-form button[type=submit]")
    expect(field_error(page, "secret")).to_have_text(
        "this secret is not one of the server's API keys"
    )
    expect(page.locator("body")).not_to_contain_text("wrong-secret-123")
    assert not [c for c in page.context.cookies() if c["name"] == SESSION_COOKIE]

    page.fill("#secret", SECRET)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{keyed_server}/")
    expect(page.locator("#view h1")).to_have_text("Sync tasks")
    # The console's API calls go through with the session cookie.
    expect(page.locator("#task-table + .empty")).to_contain_text("No sync tasks yet")
    expect(page.locator("#live")).to_have_text("live")
    cookie = next(c for c in page.context.cookies() if c["name"] == SESSION_COOKIE)
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert SECRET not in cookie["value"]
    assert page.evaluate("document.cookie") == ""  # not readable by scripts

    # Log out: the session is gone and the console asks again.
    page.click("#logout")
    page.wait_for_url(f"{keyed_server}/login")
    page.goto(f"{keyed_server}/")
    page.wait_for_url(f"{keyed_server}/login")


def test_empty_secret_is_refused(page: Any, keyed_server: str) -> None:
    page.goto(f"{keyed_server}/login")
    page.locator("#secret").evaluate("el => el.removeAttribute('required')")
    page.click("#login-form button[type=submit]")
    expect(field_error(page, "secret")).to_have_text("enter an API secret")
