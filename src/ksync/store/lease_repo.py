"""Named leases: the controller role is held by one process at a time."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from ksync.store.base import Repository, as_utc, utcnow
from ksync.store.tables import LeaseRow


class LeaseRepo(Repository):
    """Take, renew and give up leases."""

    def try_take(self, name: str, holder: str, ttl: timedelta) -> bool:
        """Take or renew lease `name` for `holder`; False while someone else holds it."""
        now = utcnow()
        try:
            with self.session() as s:
                row = s.get(LeaseRow, name, with_for_update=True)
                if row is None:
                    s.add(LeaseRow(name=name, holder=holder, expires_at=now + ttl))
                    return True
                if row.holder != holder and as_utc(row.expires_at) > now:
                    return False
                row.holder = holder
                row.expires_at = now + ttl
                return True
        except IntegrityError:  # another process inserted the lease first
            return False

    def release(self, name: str, holder: str) -> None:
        """Give the lease up at once (a clean shutdown), if `holder` still holds it."""
        with self.session() as s:
            s.execute(delete(LeaseRow).where(LeaseRow.name == name, LeaseRow.holder == holder))
