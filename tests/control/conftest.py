"""Fixtures for control-plane rules: a migrated SQLite store in a temp directory (no
server, no broker)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import SEALER

from ksync.store.db import make_engine, migrate, sqlite_url
from ksync.store.repo import Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    engine = make_engine(sqlite_url(tmp_path / "data"))
    migrate(engine)
    return Store(engine, SEALER)
