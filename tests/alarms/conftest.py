"""Fixtures for alarm tests: a migrated store in a temp directory (no server, no brokers),
and for the live tests a server they share."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import SEALER, KsyncServer, running_server

from ksync.devkafka import KafkaCluster
from ksync.domain.task import TaskView
from ksync.spec import TaskSpec
from ksync.store.db import make_engine, migrate, sqlite_url
from ksync.store.repo import Store

# Integration tests poll the API many times a second.
logging.getLogger("httpx").setLevel(logging.WARNING)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    engine = make_engine(sqlite_url(tmp_path / "data"))
    migrate(engine)
    return Store(engine, SEALER)


def add_task(store: Store, name: str = "orders-to-sh") -> TaskView:
    spec = TaskSpec.model_validate(
        {"name": name, "source": {"instance_id": "ins-src", "topics": ["orders"]}, "target": {"instance_id": "ins-dst"}}
    )
    return store.tasks.add(spec, [])


@pytest.fixture(scope="package")
def folder_server(
    tmp_path_factory: pytest.TempPathFactory, kafka_pair: tuple[KafkaCluster, KafkaCluster]
) -> Iterator[KsyncServer]:
    """The folder's server (see e2e/servers.py), allowed to send webhooks to the
    receivers these tests run on loopback (a server refuses internal addresses unless told)."""
    with running_server(str(tmp_path_factory.mktemp("ksync")), "--webhook-allow", "127.0.0.0/8") as srv:
        yield srv
