"""Fixtures for REST API tests.

* `api`: the app in process (tests/inprocess.py), no broker: validation, error shapes and
  everything the API decides by itself. One per module.
* `client`: one `ksync server` for the whole package over the run's shared Kafka pair, for
  what needs Kafka (registering, listing topics, tasks that run). Tests share it, so each
  uses names of its own, deletes the tasks it makes and compares before with after instead
  of assuming an empty store.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from helpers import KsyncServer, running_server
from inprocess import api_client

from ksync.devkafka import KafkaCluster


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with api_client(tmp_path_factory.mktemp("api-inprocess")) as c:
        yield c


@pytest.fixture(scope="package")
def api_server(
    tmp_path_factory: pytest.TempPathFactory, kafka_pair: tuple[KafkaCluster, KafkaCluster]
) -> Iterator[KsyncServer]:
    """A running ksync server (SQLite in a temp dir) for the package; stopped before the
    clusters it uses."""
    with running_server(str(tmp_path_factory.mktemp("ksync-api"))) as srv:
        yield srv


@pytest.fixture(scope="package")
def client(api_server: KsyncServer) -> Iterator[httpx.Client]:
    with api_server.client() as c:
        yield c


@pytest.fixture(scope="package")
def instances(client: httpx.Client, kafka_pair: tuple[KafkaCluster, KafkaCluster]) -> tuple[str, str]:
    """The shared source and target clusters registered once: (source id, target id)."""
    ids = []
    for broker in kafka_pair:
        r = client.post(
            "/api/v1/instances",
            json={"name": f"{broker.cluster_id}-{uuid.uuid4().hex[:6]}", "bootstrap_servers": broker.bootstrap},
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    return ids[0], ids[1]
