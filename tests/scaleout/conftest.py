"""Fixtures for scale-out tests: PostgreSQL databases on the run's private server, `ksync
server` processes on them, and `ksync worker` processes.

PostgreSQL is a private server started once for the run from Debian's binaries
(tests/postgres_server.py), gone with it.

Each test gets a database of its own (`ksync_<random>`): a test leaves dead workers, tasks
over brokers that are gone and expired leases behind, which the next test's controller must
not see.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

import pytest
from helpers import KsyncServer
from postgres_server import postgres_server

from .support import WORKER_TIMEOUT_S, WorkerProcess

logging.getLogger("httpx").setLevel(logging.WARNING)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Callable[[], str]]:
    """A factory of fresh databases on the run's private PostgreSQL server: each call
    creates `ksync_<random>` and returns its SQLAlchemy URL."""
    import psycopg

    with postgres_server() as pg:

        def new_database() -> str:
            name = f"ksync_{uuid.uuid4().hex[:12]}"
            with psycopg.connect(pg.admin_url, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            return pg.url(name)

        yield new_database


@pytest.fixture
def db_url(postgres: Callable[[], str]) -> str:
    """A fresh PostgreSQL database for this test (SQLAlchemy URL)."""
    return postgres()


class _Stoppable(Protocol):
    def stop(self) -> None: ...


def _stop_all(processes: Sequence[_Stoppable]) -> None:
    """Stop every process at once: each clean stop waits for its members to commit."""
    if processes:
        with ThreadPoolExecutor(len(processes)) as pool:
            list(pool.map(lambda p: p.stop(), processes))


@pytest.fixture
def start_worker(db_url: str, tmp_path: Path) -> Iterator[Callable[[str], WorkerProcess]]:
    """`start_worker(id)` runs a worker on the test's database; all stop at teardown."""
    started: list[WorkerProcess] = []

    def start(worker_id: str) -> WorkerProcess:
        worker = WorkerProcess(db_url, worker_id, tmp_path).start()
        started.append(worker)
        return worker

    yield start
    _stop_all(started)


@pytest.fixture
def start_server(db_url: str, tmp_path: Path) -> Iterator[Callable[..., KsyncServer]]:
    """`start_server(*args)` runs a `ksync server` on the test's database (worker timeout
    WORKER_TIMEOUT_S); all stop at teardown."""
    started: list[KsyncServer] = []

    def start(*args: str) -> KsyncServer:
        server = KsyncServer(
            str(tmp_path), "--db-url", db_url, "--worker-timeout", str(WORKER_TIMEOUT_S), *args
        )
        started.append(server)  # before it starts: one that never answers is stopped too
        return server.start()

    yield start
    _stop_all(started)
