"""The answer of `GET /api/v1/tasks`, built once and shared by the requests that follow.

Building it reads every task, every member report and every quota, and renders them:
about 80 ms for 500 tasks on an idle core, and several times that while the same process
runs a controller and a worker for those tasks. Dashboards poll it every few seconds, so
each build is kept and handed out again while it is current.

Invariant: an answer starts from a build that (a) already holds every write this
process committed to tasks and instances before the request arrived (`Store.revision`:
a user's create, pause or delete through this server, the controller's status changes
here), and (b) is at most `max_age_s` old, which bounds how stale telemetry (throughput,
lag, member progress) and other processes' writes (another server's API or controller)
can be. Between `fresh_s` and `max_age_s` the kept build is handed out while one
rebuild runs beside it, so a poller never waits for a build it did not need.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ksync.store.base import Revision

log = logging.getLogger(__name__)

FRESH_S = 1.0
MAX_AGE_S = 3.0


@dataclass(frozen=True)
class _Build:
    body: bytes
    revision: int
    at: float


def _in_thread(job: Callable[[], None]) -> None:
    threading.Thread(target=job, name="ksync-task-listing", daemon=True).start()


class TaskListing:
    """The kept answer; `get` returns a current one, building it when needed.

    `build` renders the answer from the store; `clock` and `background` (runs a job off
    the request) are replaceable for tests."""

    def __init__(
        self,
        build: Callable[[], bytes],
        revision: Revision,
        *,
        fresh_s: float = FRESH_S,
        max_age_s: float = MAX_AGE_S,
        clock: Callable[[], float] = time.monotonic,
        background: Callable[[Callable[[], None]], None] = _in_thread,
    ) -> None:
        self._build = build
        self._revision = revision
        self._fresh_s = fresh_s
        self._max_age_s = max_age_s
        self._clock = clock
        self._background = background
        self._kept: _Build | None = None
        # One build at a time: requests that find none current wait for the same one.
        self._building = threading.Lock()
        self._refreshing = False
        self._flag = threading.Lock()

    def get(self) -> bytes:
        """The answer: the kept build while it is current (see the module's invariant),
        else a new one."""
        kept = self._kept
        if kept is not None and kept.revision == self._revision.value:
            age = self._clock() - kept.at
            if age < self._fresh_s:
                return kept.body
            if age < self._max_age_s:
                self._refresh_beside()
                return kept.body
        return self._rebuild(must_be_after=kept).body

    def _rebuild(self, must_be_after: _Build | None) -> _Build:
        with self._building:
            kept = self._kept
            # Another request built while this one waited: take it if it is current.
            if (
                kept is not None
                and kept is not must_be_after
                and kept.revision == self._revision.value
                and self._clock() - kept.at < self._fresh_s
            ):
                return kept
            # Read the revision first: a write that lands during the build makes the
            # next request build again rather than trust this one.
            revision = self._revision.value
            started = self._clock()
            built = _Build(self._build(), revision, started)
            self._kept = built
            return built

    def _refresh_beside(self) -> None:
        with self._flag:
            if self._refreshing:
                return
            self._refreshing = True
        kept = self._kept

        def job() -> None:
            try:
                self._rebuild(must_be_after=kept)
            except Exception:
                # The next request that finds no current build builds it itself and
                # gets the error in its answer; this one only says it failed.
                log.exception("refreshing the task listing failed")
            finally:
                with self._flag:
                    self._refreshing = False

        self._background(job)
