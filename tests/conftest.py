"""Shared fixtures: Apache Kafka clusters started once per test run (helpers live in
helpers.py), and automatic markers so `make test-fast` can leave out what needs Kafka, a
database server or a browser.

The source and target clusters are shared by every test: a test uses names of its own
(`unique`) and never assumes a cluster is empty. Tests that break a cluster on purpose
(killing brokers) start clusters of their own, scoped to their module.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import KsyncServer, running_server

from ksync.devkafka import KafkaCluster, kafka_clusters
from ksync.devkafka.kafka import LIBS_ENV

REPO = Path(__file__).resolve().parents[1]

# A test whose fixtures reach one of these gets the marker: `-m "not kafka"` and friends.
_MARKED_BY_FIXTURE = {"kafka_pair": "kafka", "postgres": "postgres", "browser": "browser"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        for fixture, marker in _MARKED_BY_FIXTURE.items():
            if fixture in names:
                item.add_marker(marker)


def _ensure_kafka_libs() -> None:
    """Point KSYNC_KAFKA_LIBS at the fetched jars, fetching them if this is a first run
    outside `make test` (which fetches them itself)."""
    if os.environ.get(LIBS_ENV):
        return
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "fetch-kafka")], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"cannot fetch Apache Kafka for the tests:\n{done.stderr}", pytrace=False)
    os.environ[LIBS_ENV] = done.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def kafka_pair() -> Iterator[tuple[KafkaCluster, KafkaCluster]]:
    """A source and a target Kafka cluster (one node each), shared by the whole run."""
    _ensure_kafka_libs()
    with kafka_clusters("source", "target") as (source, target):
        yield source, target


@pytest.fixture(scope="module")
def brokers(kafka_pair: tuple[KafkaCluster, KafkaCluster]) -> tuple[KafkaCluster, KafkaCluster]:
    """The shared (source, target) pair; tests use names of their own on it."""
    return kafka_pair


@pytest.fixture
def unique() -> str:
    """A short suffix for this test's topic, group and task names."""
    return uuid.uuid4().hex[:8]


@pytest.fixture
def server(tmp_path: Path, kafka_pair: tuple[KafkaCluster, KafkaCluster]) -> Iterator[KsyncServer]:
    """A running ksync server (SQLite in tmp_path), stopped after the test (and before the
    clusters, which it depends on)."""
    with running_server(str(tmp_path)) as srv:
        yield srv
