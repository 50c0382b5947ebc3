"""The store: every read and write of ksync's state goes through `Store`.

`Store` composes one repository per aggregate: `store.instances`, `store.tasks` (with
their status events), `store.metrics`, `store.workers` (with slots and members) and
`store.leases`, `store.offsets` (offset sync), `store.secrets` (the secret key's check and
rotation). Callers name the aggregate they touch, and each repository stays small
enough to read at once. Each method is one short transaction. Times are UTC; with several
machines their clocks must agree (NTP) to within a fraction of `worker_timeout`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ksync.store.base import Revision, Sessions, as_utc, new_id, utcnow
from ksync.store.instance_repo import InstanceRepo
from ksync.store.lease_repo import LeaseRepo
from ksync.store.metric_repo import MetricRepo
from ksync.store.offset_repo import OffsetRepo
from ksync.store.sealed import Sealer
from ksync.store.secret_repo import SecretRepo
from ksync.store.task_repo import TaskRepo
from ksync.store.worker_repo import WorkerRepo

# Helpers other store modules (alarms, console sessions) import from here.
__all__ = ["Store", "as_utc", "new_id", "utcnow"]


class Store:
    """The database, one repository per aggregate; safe to share between threads."""

    def __init__(self, engine: Engine, sealer: Sealer) -> None:
        self.engine = engine
        self._sessions = Sessions.of(engine)
        # Writes to what users change; telemetry (metrics, heartbeats) is not counted.
        self.revision = Revision()
        self.instances = InstanceRepo(self._sessions, sealer, self.revision)
        self.tasks = TaskRepo(self._sessions, self.revision)
        self.metrics = MetricRepo(self._sessions)
        self.workers = WorkerRepo(self._sessions)
        self.leases = LeaseRepo(self._sessions)
        self.offsets = OffsetRepo(self._sessions)
        self.secrets = SecretRepo(self._sessions, engine)

    def unreachable(self) -> str | None:
        """Why the database does not answer a trivial query (for health checks), or None
        when it does."""
        try:
            with self._sessions.read.begin() as s:
                s.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        return None

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction, for the store's other repositories (alarms, console sessions)."""
        with self._sessions.write_lock, self._sessions.write.begin() as s:
            yield s
        self.revision.bump()
