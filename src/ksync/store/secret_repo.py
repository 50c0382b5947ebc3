"""The store's secret key as the store sees it: the check each start makes, the sealing of
secrets an earlier ksync stored in clear, and the re-sealing of every secret with a new key.

Invariant: every secret in the store is sealed with the key that opens the check row
(`secret_check`), so opening that one row at start proves the key opens them all.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ksync.store.base import Repository, Sessions, utcnow
from ksync.store.instance_repo import SECRET_FIELDS
from ksync.store.sealed import Sealer, is_sealed
from ksync.store.tables import InstanceRow, SecretCheckRow

log = logging.getLogger(__name__)

_CHECK = "key"
_CHECK_TEXT = "ksync secret key check"
_PURPOSE = "secret_check"
# Serialises first starts on PostgreSQL (the SQLite write lock does it there).
_PG_LOCK = 727274002


class SecretRepo(Repository):
    """Check, adopt and rotate the store's secret key."""

    def __init__(self, sessions: Sessions, engine: Engine) -> None:
        super().__init__(sessions)
        self._engine = engine  # vacuuming runs outside any session

    def adopt(self, sealer: Sealer) -> int:
        """Check that `sealer`'s key is the store's (WrongSecretKey, naming the key's
        source, when it is not); on a store that has no key yet, make it the store's.
        Seals any secret still in clear; returns how many it sealed."""
        with self.session() as s:
            _lock(s)
            check = s.get(SecretCheckRow, _CHECK)
            if check is None:
                s.add(SecretCheckRow(name=_CHECK, sealed=sealer.seal(_CHECK_TEXT, _PURPOSE), created_at=utcnow()))
            else:
                sealer.open(check.sealed, _PURPOSE)
            sealed = 0
            for row in s.scalars(select(InstanceRow)):
                security, count = _resealed(row.security, None, sealer, only_clear=True)
                if count:
                    row.security = security
                    sealed += count
        if sealed:
            log.info("sealed %d secret(s) stored in clear by an earlier ksync", sealed)
            self._rewrite_instances()
        return sealed

    def _rewrite_instances(self) -> None:
        """Rewrite the instances' storage, so that the clear values just sealed do not
        linger in free pages (SQLite, with its write-ahead log) or dead rows (PostgreSQL).
        Outside a transaction: neither database vacuums inside one."""
        engine = self._engine
        with self._sessions.write_lock:
            raw = engine.raw_connection()
            try:
                if engine.dialect.name == "sqlite":
                    # The driver's own transactions are off (`db.make_engine`): these run as they are.
                    raw.execute("VACUUM")
                    raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                elif engine.dialect.name == "postgresql":
                    raw.driver_connection.autocommit = True  # type: ignore[union-attr]
                    raw.driver_connection.execute("VACUUM FULL instances")  # type: ignore[union-attr]
                    raw.driver_connection.autocommit = False  # type: ignore[union-attr]
            finally:
                raw.close()

    def rotate(self, old: Sealer, new: Sealer) -> int:
        """Re-seal every secret and the check with `new`, in one transaction, after
        checking that `old` is the store's key; returns the secrets re-sealed."""
        with self.session() as s:
            _lock(s)
            check = s.get(SecretCheckRow, _CHECK)
            if check is None:
                check = SecretCheckRow(name=_CHECK, sealed="", created_at=utcnow())
                s.add(check)
            else:
                old.open(check.sealed, _PURPOSE)
            check.sealed = new.seal(_CHECK_TEXT, _PURPOSE)
            count = 0
            for row in s.scalars(select(InstanceRow)):
                security, n = _resealed(row.security, old, new, only_clear=False)
                row.security = security
                count += n
        return count


def _lock(s: Session) -> None:
    if s.get_bind().dialect.name == "postgresql":
        s.connection().exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK})")


def _resealed(
    stored: dict[str, Any], old: Sealer | None, new: Sealer, *, only_clear: bool
) -> tuple[dict[str, Any], int]:
    """`stored` with its secrets sealed by `new` (opened with `old` first when sealed;
    left as they are with `only_clear`), and how many it sealed."""
    data = dict(stored)  # a new dict: the JSON column sees the change
    count = 0
    for key in SECRET_FIELDS:
        value = data.get(key)
        if not isinstance(value, str):
            continue
        if is_sealed(value):
            if only_clear or old is None:
                continue
            value = old.open(value, key)
        data[key] = new.seal(value, key)
        count += 1
    return data, count
