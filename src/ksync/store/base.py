"""What every repository of the store shares: ids, UTC times, one transaction per call."""

from __future__ import annotations

import secrets
import string
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import CursorResult, Engine, Result
from sqlalchemy.orm import Session, sessionmaker

_ID_CHARS = string.ascii_lowercase + string.digits


def new_id(prefix: str) -> str:
    """`prefix-` + 8 random lowercase letters and digits (CKafka's id shape)."""
    return prefix + "-" + "".join(secrets.choice(_ID_CHARS) for _ in range(8))


def utcnow() -> datetime:
    """Now, in UTC: every time the store keeps is UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every one we store is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def rowcount(result: Result[Any]) -> int:
    """Rows a DELETE or UPDATE touched (its result is always a cursor result)."""
    assert isinstance(result, CursorResult)
    return result.rowcount


# The execution option that marks a read-only transaction (ksync.store.db's BEGIN).
READ_ONLY = "ksync_read_only"


@dataclass(frozen=True)
class Sessions:
    """Where a repository's transactions come from: `write` for those that may write,
    `read` for those that only read.

    On SQLite the two differ (see `ksync.store.db.make_engine`): a write transaction
    starts with BEGIN IMMEDIATE, taking the database's one write lock first, and this
    process's writers queue on `write_lock` for it; a read transaction takes no lock and
    reads a snapshot beside the writer (WAL). On PostgreSQL both are the same.
    """

    write: sessionmaker[Session]
    read: sessionmaker[Session]
    write_lock: AbstractContextManager[Any] = field(default_factory=nullcontext)

    @classmethod
    def of(cls, engine: Engine) -> Sessions:
        """The sessions of `engine` (one writer at a time in this process on SQLite)."""
        write = sessionmaker(engine, expire_on_commit=False)
        if engine.dialect.name != "sqlite":
            return cls(write, write)
        read = sessionmaker(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)
        # Reentrant: a writer's callee may open its own write transaction on SQLite only
        # through the same lock, never wait on itself.
        return cls(write, read, threading.RLock())



class Revision:
    """How many write transactions this process has committed to what users change
    (tasks and instances; not telemetry: heartbeats, metrics). A view built from the
    store while it read N is current, as far as this process's writes go, for as long as
    it still reads N (`ksync.api.task_listing`)."""

    def __init__(self) -> None:
        self._value = 0
        self._lock = threading.Lock()

    @property
    def value(self) -> int:
        """The current count."""
        return self._value

    def bump(self) -> None:
        """Count one more committed write; called after its commit, so whoever reads the
        new count reads what the write committed."""
        with self._lock:
            self._value += 1


class Repository:
    """One aggregate's reads and writes; each method is one short transaction.
    `revision`, when given, counts this repository's committed writes."""

    def __init__(self, sessions: Sessions, revision: Revision | None = None) -> None:
        self._sessions = sessions
        self._revision = revision

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with self._sessions.write_lock, self._sessions.write.begin() as s:
            yield s
        if self._revision is not None:
            self._revision.bump()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """One transaction that only reads: on SQLite it waits on no writer."""
        with self._sessions.read.begin() as s:
            yield s
