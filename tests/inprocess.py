"""The API in the test process, for tests that need no broker: the FastAPI app of
`ksync.api.app.create_app` over a SQLite store in a temp folder, with no controller, no
worker and no Kafka. What it answers is what the API itself decides: validation, mapping
to and from the compatible faces, error shapes, authentication.

* `api_client(folder)`: a `TestClient` (no socket); `client.app.state.store` is the store.
* `serving(app)`: the same app served by uvicorn on 127.0.0.1 from a thread, for clients
  that need a URL (the CLI, the Tencent Cloud SDK, a browser).
* `add_instance_row(store, …)`: an instance written straight into the store, as if
  registered: routes that would connect to it (registration, topic lists) are the only
  ones that need a broker, and the tests here call none of them on such a row.

Nothing writes desired state into Kafka here, and no task ever runs: a task stays as
created (`Unassigned`, or `Terminating` once deleted), since statuses are the
controller's.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from helpers import wait_until

from ksync.api.app import create_app
from ksync.api.auth import KeyRing
from ksync.devkafka import free_port
from ksync.server import open_store
from ksync.settings import Settings
from ksync.spec import InstanceSpec, SecuritySpec
from ksync.store.repo import Store

# An address where nothing listens: rows here are never connected to.
NOWHERE = "127.0.0.1:9"


@contextlib.contextmanager
def app_on_store(folder: Path, keys: KeyRing | None = None, **options: Any) -> Iterator[FastAPI]:
    """The app over a fresh SQLite store in `folder` (`options`: other Settings); the
    store is closed on exit."""
    settings = Settings(data_dir=folder, **options)
    store = open_store(settings)
    try:
        yield create_app(store, settings, keys=keys)
    finally:
        store.engine.dispose()


@contextlib.contextmanager
def api_client(folder: Path, keys: KeyRing | None = None, **options: Any) -> Iterator[TestClient]:
    """A TestClient over `app_on_store(folder, keys)`; `options` go to TestClient.

    Requests name the server by its loopback address (`Host: 127.0.0.1`), as a local
    client of a real server would."""
    options.setdefault("base_url", "http://127.0.0.1")
    with app_on_store(folder, keys) as app, TestClient(app, **options) as client:
        yield client


def store_of(client: TestClient) -> Store:
    return client.app.state.store  # type: ignore[attr-defined,no-any-return]


def add_instance_row(
    store: Store,
    name: str | None = None,
    *,
    cluster_id: str | None = None,
    bootstrap_servers: str = NOWHERE,
    security: SecuritySpec | None = None,
    region: str | None = None,
) -> str:
    """Write an instance into the store without connecting; returns its id."""
    spec = InstanceSpec(
        name=name or f"row-{uuid.uuid4().hex[:6]}",
        bootstrap_servers=bootstrap_servers,
        security=security or SecuritySpec(),
        region=region,
    )
    row = store.instances.add(spec, cluster_id or f"cluster-{uuid.uuid4().hex[:8]}", 1)
    return row.id


@contextlib.contextmanager
def serving(app: FastAPI, timeout_s: float = 30.0) -> Iterator[str]:
    """Serve `app` on a free loopback port from a thread; yields its base URL."""
    port = free_port()
    # Off the main thread uvicorn leaves the process's signal handlers alone.
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, name=f"api-{port}", daemon=True)
    thread.start()
    wait_until(lambda: server.started or not thread.is_alive(), timeout_s=timeout_s, interval_s=0.02,
               what=f"the in-process API to start on 127.0.0.1:{port}")
    if not server.started:
        raise RuntimeError(f"the in-process API did not start on 127.0.0.1:{port}")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=timeout_s)
