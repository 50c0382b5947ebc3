"""With `--api-keys-file`, the console asks for an API secret before it shows anything."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import KsyncServer
from playwright.sync_api import expect

from ksync.api.auth import SESSION_COOKIE

from .support import field_error, screenshot

SECRET = "console-login-secret-42"


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KsyncServer]:
    data = tmp_path_factory.mktemp("ksync-console-keys")
    keys = Path(data) / "keys.json"
    keys.write_text(
        json.dumps(
            [
                {"id": "AKIDconsole", "secret": SECRET},
                {"id": "AKIDother", "secret": "another-secret-7"},
            ]
        )
    )
    srv = KsyncServer(str(data), "--api-keys-file", str(keys)).start()
    try:
        yield srv
    finally:
        srv.stop()


def test_login_refuses_a_wrong_secret_and_accepts_the_right_one(
    page: Any, keyed_server: KsyncServer
) -> None:
    # Without a session the console sends the browser to the login form.
    page.goto(f"{keyed_server.url}/#/instances")
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
    page.wait_for_url(f"{keyed_server.url}/")
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
    page.wait_for_url(f"{keyed_server.url}/login")
    page.goto(f"{keyed_server.url}/")
    page.wait_for_url(f"{keyed_server.url}/login")


def test_empty_secret_is_refused(page: Any, keyed_server: KsyncServer) -> None:
    page.goto(f"{keyed_server.url}/login")
    page.locator("#secret").evaluate("el => el.removeAttribute('required')")
    page.click("#login-form button[type=submit]")
    expect(field_error(page, "secret")).to_have_text("enter an API secret")
