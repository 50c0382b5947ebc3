"""Fixtures for scale-out tests: PostgreSQL databases on the machine's server, `ksync server`
processes on them, and `ksync worker` processes.

PostgreSQL is expected on 127.0.0.1:5432 with trust auth for user `postgres`. When it is not
reachable the session fixture tries once to start the machine's cluster
(`pg_ctlcluster --skip-systemctl-redirect <version> main start`); if it is still not
reachable every scale-out test is skipped with the reason.

Each test gets a database of its own (`ksync_<random>`): a test leaves dead workers, tasks
over brokers that are gone and expired leases behind, which the next test's controller must
not see. All of them are dropped WITH (FORCE) at the end of the session.
"""

from __future__ import annotations

import logging
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers import KsyncServer

from .support import WORKER_TIMEOUT_S, WorkerProcess

logging.getLogger("httpx").setLevel(logging.WARNING)

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def _pg_error() -> str | None:
    """None when PostgreSQL answers, else why not."""
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return None
    except psycopg.Error as exc:
        return str(exc).strip()


def _start_cluster() -> str:
    """Start the machine's PostgreSQL cluster once; returns what happened, for the skip reason."""
    conf = Path("/etc/postgresql")
    if not conf.is_dir() or not any(conf.iterdir()):
        return "no cluster under /etc/postgresql to start"
    version = min(p.name for p in conf.iterdir())
    try:
        done = subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
            capture_output=True, text=True, timeout=60, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"pg_ctlcluster {version} main start failed: {exc}"
    return f"pg_ctlcluster {version} main start exited {done.returncode}: {(done.stderr or done.stdout).strip()}"


@pytest.fixture(scope="session")
def postgres() -> Iterator[Callable[[], str]]:
    """A factory of fresh databases: each call creates `ksync_<random>` and returns its
    SQLAlchemy URL. Skips the test when PostgreSQL cannot be reached."""
    error = _pg_error()
    if error is not None:
        started = _start_cluster()
        deadline = time.monotonic() + 20
        while (error := _pg_error()) is not None and time.monotonic() < deadline:
            time.sleep(0.5)
        if error is not None:
            pytest.skip(
                f"scale-out tests need PostgreSQL on 127.0.0.1:5432 (trust auth, user postgres): "
                f"not reachable ({error}); tried to start it: {started}"
            )

    import psycopg

    created: list[str] = []

    def new_database() -> str:
        name = f"ksync_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return PG_URL.format(name=name)

    yield new_database
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        for name in created:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db_url(postgres: Callable[[], str]) -> str:
    """A fresh PostgreSQL database for this test (SQLAlchemy URL)."""
    return postgres()


@pytest.fixture
def start_worker(db_url: str, tmp_path: Path) -> Iterator[Callable[[str], WorkerProcess]]:
    """`start_worker(id)` runs a worker on the test's database; all stop at teardown."""
    started: list[WorkerProcess] = []

    def start(worker_id: str) -> WorkerProcess:
        worker = WorkerProcess(db_url, worker_id, tmp_path).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def start_server(db_url: str, tmp_path: Path) -> Iterator[Callable[..., KsyncServer]]:
    """`start_server(*args)` runs a `ksync server` on the test's database (worker timeout
    WORKER_TIMEOUT_S); all stop at teardown."""
    started: list[KsyncServer] = []

    def start(*args: str) -> KsyncServer:
        server = KsyncServer(
            str(tmp_path), "--db-url", db_url, "--worker-timeout", str(WORKER_TIMEOUT_S), *args
        ).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
