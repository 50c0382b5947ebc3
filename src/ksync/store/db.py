"""Database engine creation and schema migration."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event

from ksync.store.base import READ_ONLY

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


def private_dir(data_dir: Path) -> None:
    """Make the data directory 0700 if ksync creates it; an existing one is the
    operator's: it is not changed, only warned about when other users can read it (it
    holds the store's secrets and the key that seals them)."""
    if data_dir.is_dir():
        if stat.S_IMODE(data_dir.stat().st_mode) & 0o077:
            log.warning(
                "data directory %s is readable by other users; it holds instance secrets: "
                "chmod 700 it",
                data_dir,
            )
    else:
        data_dir.mkdir(parents=True, mode=0o700, exist_ok=True)
        data_dir.chmod(0o700)  # mkdir's mode passes through the umask


def sqlite_url(data_dir: Path) -> str:
    """The default store: a SQLite file in the data directory.

    The file holds the instances' sealed secrets, so the directory ksync creates is 0700
    (`private_dir`) and the file 0600 (SQLite gives its -wal and -shm files the file's
    mode).
    """
    private_dir(data_dir)
    db = data_dir / "ksync.db"
    if db.exists():
        db.chmod(0o600)
    else:
        os.close(os.open(db, os.O_CREAT | os.O_WRONLY, 0o600))
    return f"sqlite:///{db.resolve()}"


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL, a busy timeout and write transactions that
    take the write lock first.

    SQLite's driver would begin every transaction DEFERRED: it reads a snapshot, then asks
    for the write lock at its first write, and when another writer committed meanwhile
    SQLite cannot wait for the lock and answers "database is locked" at once, whatever
    the busy timeout (seen in the controller's tick with hundreds of tasks). So ksync
    begins transactions itself: BEGIN IMMEDIATE (waits up to the busy timeout for the
    lock, then holds it) unless the session is read-only (`base.READ_ONLY`), which reads
    its snapshot beside the writer.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            # The driver's own transaction handling off: the "begin" hook below begins.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn):  # type: ignore[no-untyped-def]
            read_only = conn.get_execution_options().get(READ_ONLY, False)
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (safe to run from many processes)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Two processes starting at once must not both create the tables.
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(727274001)")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
