"""Console sessions in the store (table `console_sessions`), shared by every server on it.

A login makes a random token (the cookie) and stores only its SHA-256, with the API key it
proves and an expiry; a request's cookie is accepted while its row exists and has not
expired; logout deletes the row, so a copied cookie is worthless after it on every server.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete

from ksync.store.repo import Store, as_utc, utcnow
from ksync.store.tables import ConsoleSessionRow


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ConsoleSessions:
    """Start, look up and end console sessions."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @staticmethod
    def now() -> datetime:
        return utcnow()

    def start(self, key_id: str, lifetime_s: float) -> str:
        """A new session for `key_id`; returns the cookie's token. Expired sessions are
        removed on the way."""
        token = secrets.token_urlsafe(32)
        now = self.now()
        with self.store.session() as s:
            s.execute(delete(ConsoleSessionRow).where(ConsoleSessionRow.expires_at <= now))
            s.add(
                ConsoleSessionRow(
                    token_hash=_hash(token), key_id=key_id, expires_at=now + timedelta(seconds=lifetime_s)
                )
            )
        return token

    def key_id(self, token: str, now: datetime | None = None) -> str | None:
        """The key a live session's token proves, or None."""
        with self.store.session() as s:
            row = s.get(ConsoleSessionRow, _hash(token))
            if row is None or as_utc(row.expires_at) <= (now or self.now()):
                return None
            return row.key_id

    def end(self, token: str) -> None:
        """Forget a session (logout); unknown tokens are ignored."""
        with self.store.session() as s:
            s.execute(delete(ConsoleSessionRow).where(ConsoleSessionRow.token_hash == _hash(token)))
