"""A member process: runs the members its worker hands it, as threads, and reports.

Started by `ksync.worker.pool` as `python -m ksync.worker.child --fd N --parent PID`,
with one end of a socket pair as fd N. Its main thread reads commands (`messages`) and
sends every member's snapshot twice a second and a final `Exited` when a member ends.

Invariants:
* It never outlives its worker. The worker's death reaches it twice: the kernel sends
  SIGTERM (PR_SET_PDEATHSIG, set before anything else), and the socket reads end of file.
  Either way it stops every member — each commits what the target acknowledged — and
  exits; a member that cannot finish within `ORPHAN_GRACE_S` is abandoned (its progress
  stays at the last commit, so nothing is lost).
* Ctrl-C in a terminal reaches a whole process group: the process ignores SIGINT and
  lets its worker decide, so a member is never interrupted between produce and commit.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import ctypes.util
import gc
import logging
import os
import signal
import sys
import threading
import time
from multiprocessing.connection import Connection

from ksync.worker.hosting import ThreadHandle, ThreadHost, tune_gc
from ksync.worker.messages import (
    Exited,
    Reports,
    SetLimits,
    Shutdown,
    Start,
    Stop,
    ToChild,
    Topics,
)

log = logging.getLogger(__name__)

REPORT_INTERVAL_S = 0.5
# How long after a member exits its process collects garbage: members stopped together
# (a pause of many tasks) are freed by one collection.
COLLECT_DELAY_S = 1.0
# After the worker is gone: how long members get to commit before the process exits.
ORPHAN_GRACE_S = 20.0
_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> bool:
    """Have the kernel send SIGTERM when the worker dies; False if it already has."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    return os.getppid() == parent


class MemberProcess:
    """The command loop of one member process."""

    def __init__(self, conn: Connection, parent: int) -> None:
        self.conn = conn
        self.parent = parent
        self.host = ThreadHost()
        self.runs: dict[str, ThreadHandle] = {}
        self._leaving = threading.Event()  # stop every member, then exit
        self._orphaned = False  # the worker is gone: nobody to report to
        self._collect_after = 0.0  # when to free finished members (`_report_exits`)

    def leave(self, orphaned: bool) -> None:
        """Stop every member and exit once they are done (from a signal handler too)."""
        if orphaned and not self._orphaned:
            # The last guard: whatever the main thread is stuck in (a lock a member thread
            # holds, say), the process ends. os._exit and os.write take no Python lock.
            watchdog = threading.Timer(ORPHAN_GRACE_S + 5, _exit_orphaned)
            watchdog.daemon = True
            watchdog.start()
        self._orphaned = self._orphaned or orphaned
        self._leaving.set()

    def run(self) -> None:
        """Serve commands until told to leave and every member has finished."""
        next_report = 0.0
        deadline: float | None = None
        while True:
            if self._leaving.is_set():
                if deadline is None:
                    log.info("member process %d: stopping %d members", os.getpid(), len(self.runs))
                    for run in self.runs.values():
                        run.stop()
                    deadline = time.monotonic() + ORPHAN_GRACE_S
                if not self.runs:
                    return
                if self._orphaned and time.monotonic() > deadline:
                    log.error(
                        "member process %d: its worker is gone and %d members did not finish "
                        "within %.0fs; leaving them (progress stays at their last commit)",
                        os.getpid(), len(self.runs), ORPHAN_GRACE_S,
                    )
                    return
            self._receive(0.1)
            self._report_exits()
            now = time.monotonic()
            if now >= next_report:
                self._send(Reports({run_id: run.snapshot() for run_id, run in self.runs.items()}))
                next_report = now + REPORT_INTERVAL_S

    def _receive(self, timeout_s: float) -> None:
        if self._orphaned:
            self._leaving.wait(timeout_s)
            return
        try:
            if not self.conn.poll(timeout_s):
                return
            message: ToChild = self.conn.recv()
        except (EOFError, OSError):
            log.warning("member process %d: its worker is gone; stopping its members", os.getpid())
            self.leave(orphaned=True)
            return
        except InterruptedError:
            return
        self._handle(message)

    def _handle(self, message: ToChild) -> None:
        if isinstance(message, Start):
            key = (message.cfg.task_id, message.cfg.slot)
            self.runs[message.run_id] = self.host.start(key, message.cfg, message.limits)
            if self._leaving.is_set():
                self.runs[message.run_id].stop()
        elif isinstance(message, Shutdown):
            self.leave(orphaned=False)
        else:
            run = self.runs.get(message.run_id)
            if run is None:  # finished meanwhile: its Exited is on the way
                return
            if isinstance(message, Stop):
                run.stop()
            elif isinstance(message, Topics):
                run.update_topics(message.topics, message.partitions, message.partitions_at_start)
            elif isinstance(message, SetLimits):
                run.set_limits(message.limits)

    def _report_exits(self) -> None:
        exited = False
        for run_id, run in list(self.runs.items()):
            if not run.alive():
                del self.runs[run_id]
                self._send(Exited(run_id, run.snapshot(), run.failed_persistently()))
                exited = True
        now = time.monotonic()
        if exited:
            self._collect_after = self._collect_after or now + COLLECT_DELAY_S
        if self._collect_after and now >= self._collect_after:
            # A finished member is a web of reference cycles (its clients' callbacks are
            # its bound methods), which with `tune_gc` only a full collection frees: until
            # then its target producer kept its librdkafka threads and buffers (measured:
            # a pause-all of 500 tasks left ~1,500 threads behind, a start-all after it
            # grew the process by that many). One collection per burst of exits.
            self._collect_after = 0.0
            gc.collect()
            _trim_heap()

    def _send(self, message: Reports | Exited) -> None:
        if self._orphaned:
            return
        try:
            self.conn.send(message)
        except OSError:
            log.warning("member process %d: its worker is gone; stopping its members", os.getpid())
            self.leave(orphaned=True)


def _trim_heap() -> None:
    """Give the heap's free memory back to the system (glibc): the buffers of members
    freed by a collection otherwise stay in the process, and a pause and start of every
    task grew it by what the stopped members had held."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)


def _exit_orphaned() -> None:
    os.write(2, b"member process %d: its worker is gone and it could not stop in time; exiting\n" % os.getpid())
    os._exit(1)


def main(argv: list[str] | None = None) -> None:
    """Entry point of a member process."""
    parser = argparse.ArgumentParser(prog="ksync-member-process")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent_alive = _die_with_parent(args.parent)
    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    process = MemberProcess(Connection(args.fd), args.parent)
    signal.signal(signal.SIGTERM, lambda *_: process.leave(orphaned=os.getppid() != args.parent))
    if not parent_alive:
        process.leave(orphaned=True)
    tune_gc()
    process.run()
    logging.shutdown()
    # Member threads that were abandoned must not hold the process open.
    os._exit(0)


if __name__ == "__main__":
    main()
