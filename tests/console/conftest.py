"""Fixtures for the console's browser tests: Debian's Chromium driven by Playwright, and
two kinds of server behind it:

* `console_server`: a `ksync server` over the run's shared Kafka clusters, one for the
  package, for pages that show what Kafka says (topic pickers, running tasks, progress);
* `local_console`: the app served from a thread of the test process over a store whose
  instances are rows (tests/inprocess.py), for pages whose answers are the API's own
  (form validation, long lists). No controller runs there: tasks keep their first status.

Chromium is Debian's `/usr/bin/chromium` (installed by scripts/ensure-test-system when
missing), never a browser that Playwright downloads: test machines may have no internet.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from helpers import KsyncServer, running_server
from inprocess import app_on_store, serving

from ksync.devkafka import KafkaCluster

from .support import REPO, LocalConsole

CHROMIUM = "/usr/bin/chromium"
# Headless on a machine without network: no GPU, no QUIC, nothing phoning home.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 900}


@pytest.fixture(scope="session")
def chromium() -> str:
    """The Chromium binary; installs Debian's package when it is missing, or fails."""
    if not os.access(CHROMIUM, os.X_OK):
        script = REPO / "scripts" / "ensure-chromium"
        result = subprocess.run(
            ["bash", str(script)], check=False, capture_output=True, text=True, timeout=1200
        )
        if not os.access(CHROMIUM, os.X_OK):
            pytest.fail(
                f"the console tests need Debian's Chromium at {CHROMIUM}, and scripts/ensure-test-system "
                f"could not install it (exit {result.returncode}). Install it as root with "
                f"'apt-get update && apt-get install -y chromium'.\n"
                f"stdout: {result.stdout[-2000:]}\nstderr: {result.stderr[-2000:]}",
                pytrace=False,
            )
    return CHROMIUM


@pytest.fixture(scope="session")
def browser(chromium: str) -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(
            "the console tests need the 'playwright' Python package: pip install -e '.[dev]'",
            pytrace=False,
        )
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser page; the test fails on any JavaScript error or CSP violation.

    "Failed to load resource" console lines are expected: they are the API's own 4xx
    answers (validation errors, endpoints a server may not have) that the console shows.
    """
    context = browser.new_context(viewport=VIEWPORT)
    pg = context.new_page()
    problems: list[str] = []
    pg.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    pg.on(
        "console",
        lambda msg: (
            problems.append(f"console {msg.type}: {msg.text}")
            if msg.type == "error" and not msg.text.startswith("Failed to load resource")
            else None
        ),
    )
    pg.set_default_timeout(20_000)
    try:
        yield pg
    finally:
        context.close()
    assert not problems, "the console logged errors:\n" + "\n".join(problems)


@pytest.fixture(scope="package")
def console_server(
    tmp_path_factory: pytest.TempPathFactory, kafka_pair: tuple[KafkaCluster, KafkaCluster]
) -> Iterator[KsyncServer]:
    """A live server over the shared clusters for the package; tests use names of their own."""
    with running_server(str(tmp_path_factory.mktemp("ksync-console"))) as srv:
        yield srv


@pytest.fixture(scope="package")
def client(console_server: KsyncServer) -> Iterator[httpx.Client]:
    with console_server.client() as c:
        yield c


@pytest.fixture(scope="module")
def local_console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalConsole]:
    """The console and API served in process, no Kafka."""
    with app_on_store(tmp_path_factory.mktemp("console-inprocess")) as app, serving(app) as url:
        yield LocalConsole(url, app.state.store)
