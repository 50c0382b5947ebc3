"""`folder_server`: one `ksync server` for the tests of a folder (a package), for folders
whose tests can share one. Starting a server costs seconds (many more on a busy machine),
and tests that use names of their own (topics, tasks, instances) do not see each other's
tasks; a test that leaves work running that could disturb the next (a loop, a backlog
being copied) deletes its tasks at its end. A test that kills its server or needs other
settings takes the per-test `server`, or a server of its own.

Folders that use it import it into their conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers import KsyncServer, running_server

from ksync.devkafka import KafkaCluster


@pytest.fixture(scope="package")
def folder_server(
    tmp_path_factory: pytest.TempPathFactory, kafka_pair: tuple[KafkaCluster, KafkaCluster]
) -> Iterator[KsyncServer]:
    """A running server for this folder (SQLite in a temp dir), stopped before the clusters."""
    with running_server(str(tmp_path_factory.mktemp("ksync"))) as srv:
        yield srv
