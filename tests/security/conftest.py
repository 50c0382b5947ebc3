"""Fixtures for the security tests: an in-process app over a fresh SQLite store (no
server process), and instances registered straight into the store where a test needs
them to exist but not to be reached."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from helpers import wait_until

from ksync.api.app import create_app
from ksync.api.auth import ApiKey, KeyRing
from ksync.devkafka import free_port
from ksync.server import open_store
from ksync.settings import Settings
from ksync.spec import InstanceSpec
from ksync.store.repo import Store

KEY_ID = "AKIDsecurityTest"
SECRET = "security-test-secret-0001"
KEYS = KeyRing([ApiKey(KEY_ID, SECRET)])
BEARER = {"authorization": f"Bearer {SECRET}"}

AppFactory = Callable[..., TestClient]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(Settings(data_dir=tmp_path / "data"))


@pytest.fixture
def make_client(store: Store) -> Iterator[AppFactory]:
    """`make_client(keys=None, **settings)`: a TestClient on an app over `store`.

    The TestClient sends `Host: testserver`, a name no real server answers to, so the
    app is told it is one of its names.
    """
    clients: list[TestClient] = []

    def make(keys: KeyRing | None = None, base_url: str = "http://testserver", **settings: Any) -> TestClient:
        settings.setdefault("allowed_hosts", ("testserver",))
        app = create_app(store, Settings(**settings), keys=keys)
        client = TestClient(app, base_url=base_url, follow_redirects=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def add_instance(store: Store, name: str, servers: str = "127.0.0.1:1", **security: Any) -> str:
    """An instance in the store, as if registered earlier (nothing is contacted)."""
    spec = InstanceSpec.model_validate({"name": name, "bootstrap_servers": servers, "security": security or {}})
    return store.instances.add(spec, f"cluster-{name}", 1).id


@pytest.fixture
def serve(store: Store) -> Iterator[Callable[..., str]]:
    """`serve(keys=None, **settings)`: the app served by uvicorn in this process, for
    clients that need real HTTP (the Tencent SDK, raw sockets); returns "127.0.0.1:PORT"."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(keys: KeyRing | None = None, **settings: Any) -> str:
        port = free_port()
        app = create_app(store, Settings(**settings), keys=keys)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
        thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
        thread.start()
        servers.append((server, thread))
        wait_until(lambda: server.started, timeout_s=30, what="uvicorn to start")
        return f"127.0.0.1:{port}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=30)
