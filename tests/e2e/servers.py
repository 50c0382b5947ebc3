"""`module_server`: one `ksync server` per test module, for modules whose tests can share
one. Starting a server costs seconds (many more on a busy machine), and tests that use
names of their own (topics, tasks) do not see each other's tasks. A test that kills its
server or needs other settings takes the per-test `server`, or a server of its own.

Folders that use it import it into their conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers import KsyncServer, running_server

from ksync.devkafka import KafkaCluster


@pytest.fixture(scope="module")
def module_server(
    tmp_path_factory: pytest.TempPathFactory, kafka_pair: tuple[KafkaCluster, KafkaCluster]
) -> Iterator[KsyncServer]:
    """A running server for this module (SQLite in a temp dir), stopped before the clusters."""
    with running_server(str(tmp_path_factory.mktemp("ksync"))) as srv:
        yield srv
