"""Shared fixtures: real tansu brokers on free loopback ports (helpers live in helpers.py).

Brokers are per test module (a module's tests use distinct topic names); a test that
needs pristine brokers uses `fresh_brokers`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import KsyncServer, running_server

from ksync.devkafka import LocalBroker, local_brokers


@pytest.fixture(scope="module")
def brokers() -> Iterator[tuple[LocalBroker, LocalBroker]]:
    """A source and a target broker shared by one test module."""
    with local_brokers(f"src-{uuid.uuid4().hex[:6]}", f"dst-{uuid.uuid4().hex[:6]}") as (a, b):
        yield a, b


@pytest.fixture
def fresh_brokers() -> Iterator[tuple[LocalBroker, LocalBroker]]:
    """A pristine pair for one test. Ask for it before `server`, so it outlives it."""
    with local_brokers(f"src-{uuid.uuid4().hex[:6]}", f"dst-{uuid.uuid4().hex[:6]}") as (a, b):
        yield a, b


@pytest.fixture
def server(tmp_path: Path) -> Iterator[KsyncServer]:
    """A running ksync server (SQLite in tmp_path), stopped after the test."""
    with running_server(str(tmp_path)) as srv:
        yield srv
