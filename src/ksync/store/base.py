"""What every repository of the store shares: ids, UTC times, one transaction per call."""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import CursorResult, Result
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


class Repository:
    """One aggregate's reads and writes; each method is one short transaction."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with self._sessions.begin() as s:
            yield s
