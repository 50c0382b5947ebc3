"""Fixtures for REST API tests: one `ksync server` per test module, over the module's brokers.

Tests in a module share the server (and the `brokers` pair), so each test leaves no task
behind and compares counts before and after instead of assuming an empty store.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from helpers import KsyncServer, running_server

from ksync.devkafka import KafkaCluster


@pytest.fixture(scope="module")
def api_server(
    tmp_path_factory: pytest.TempPathFactory, brokers: tuple[KafkaCluster, KafkaCluster]
) -> Iterator[KsyncServer]:
    """A running ksync server (SQLite in a module temp dir), stopped after the module.

    It depends on `brokers` so that it stops first: tansu answers SIGTERM by waiting about
    5 s for open client connections, and the server keeps admin connections open. For the
    same reason the test process's own admin clients (kept alive by reference cycles
    through their error callbacks) are collected before the brokers stop.
    """
    with running_server(str(tmp_path_factory.mktemp("ksync-api"))) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(api_server: KsyncServer) -> Iterator[httpx.Client]:
    with api_server.client() as c:
        yield c


@pytest.fixture(scope="module")
def instances(client: httpx.Client, brokers: tuple[KafkaCluster, KafkaCluster]) -> tuple[str, str]:
    """The module's source and target brokers registered as instances: (source id, target id)."""
    src, dst = brokers
    ids = []
    for broker in (src, dst):
        r = client.post(
            "/api/v1/instances",
            json={"name": broker.cluster_id, "bootstrap_servers": broker.bootstrap},
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    return ids[0], ids[1]
