"""Member processes: a worker's members spread over up to N child processes.

Members are threads of a member process (`ksync.worker.child`), and a worker has up to
`size` of them (by default one per core), so its members use up to that many cores
instead of sharing one interpreter lock. A process hosts many members — one per member
would not hold hundreds of tasks on one machine — and a worker's members of one task go
to different processes first, so `task_max: 2` copies on two cores.

Invariants:
* Placement: a member goes to a process that runs none of its task's members and as few
  others as possible. All `size` processes start with the first member: a process takes
  about a second to start, and a task's second member that waited for one joined its
  group late and found most of the work done by the first (measured: 3.0 against 0.4
  CPU seconds with `task_max: 2`). One that died is replaced at the next start.
  Processes start from the worker's own thread, the one that lives until the worker
  stops (the kernel's parent-death signal is tied to the thread that started the child).
* A process that dies (even SIGKILL) fails each of its members with a sentence naming
  the signal; the worker restarts them with its usual backoff, in a new process. Records
  they had not committed are copied again (at least once), never skipped.
* `close()` runs after every member finished (the worker stopped them, each committing):
  it ends the processes and waits for them, killing one that does not exit in time.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from multiprocessing.connection import Connection

from ksync.domain.status import MemberState
from ksync.replication.member import MemberConfig, MemberSnapshot
from ksync.replication.throttle import Limits
from ksync.worker.hosting import SlotKey
from ksync.worker.messages import (
    Exited,
    Reports,
    SetLimits,
    Shutdown,
    Start,
    Stop,
    ToChild,
    Topics,
    ToWorker,
)

log = logging.getLogger(__name__)


def default_size() -> int:
    """One member process per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class ProcessHandle:
    """A member running in a member process; its state is the last report."""

    def __init__(self, child: _Child, run_id: str, key: SlotKey) -> None:
        self.key = key
        self.run_id = run_id
        self._child = child
        self._snapshot = MemberSnapshot()
        self._limits: Limits | None = None
        self._persistent = False
        self._done = threading.Event()

    # Called by the child's reader thread.
    def _reported(self, snapshot: MemberSnapshot) -> None:
        if not self._done.is_set():
            self._snapshot = snapshot

    def _exited(self, snapshot: MemberSnapshot, persistent: bool) -> None:
        self._snapshot = snapshot
        self._persistent = persistent
        self._done.set()

    @property
    def pid(self) -> int:
        """The process id of the member process it runs in."""
        return self._child.proc.pid

    def stop(self) -> None:
        """Ask the member to commit and exit; returns at once."""
        if not self._done.is_set():
            self._child.send(Stop(self.run_id))

    def update_topics(
        self, topics: dict[str, str], partitions: dict[str, int], partitions_at_start: dict[str, int]
    ) -> None:
        """Hand the member a new topic mapping and layout."""
        self._child.send(Topics(self.run_id, dict(topics), dict(partitions), dict(partitions_at_start)))

    def set_limits(self, limits: Limits) -> None:
        """The member's share of its task's limits; sent only when it changed."""
        if limits != self._limits:
            self._limits = limits
            self._child.send(SetLimits(self.run_id, limits))

    def snapshot(self) -> MemberSnapshot:
        """What the member reported last."""
        return self._snapshot

    def alive(self) -> bool:
        """True until the member reported its end, or its process died."""
        return not self._done.is_set()

    def failed_persistently(self) -> bool:
        """True if the member ended on an error a restart cannot mend."""
        return self._persistent

    def join(self, timeout_s: float) -> bool:
        """Wait for the member to end."""
        return self._done.wait(timeout_s)


class _Child:
    """One member process and the thread that reads what it says."""

    def __init__(self, number: int, log_level: str) -> None:
        self.number = number
        ours, theirs = socket.socketpair()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ksync.worker.child", "--fd", str(theirs.fileno()),
                 "--parent", str(os.getpid()), "--log-level", log_level],
                stdin=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
            )
        finally:
            theirs.close()
        self.conn = Connection(ours.detach())
        self.handles: dict[str, ProcessHandle] = {}
        self._send_lock = threading.Lock()
        self._lock = threading.Lock()
        self.dead = False
        self._reader = threading.Thread(
            target=self._read, name=f"member-process-{number}", daemon=True
        )
        self._reader.start()
        log.info("member process %d started (pid %d)", number, self.proc.pid)

    def send(self, message: ToChild) -> None:
        """Send a command; a process that died meanwhile is noticed by the reader."""
        try:
            with self._send_lock:
                self.conn.send(message)
        except OSError as exc:
            log.debug("member process %d: not sent (%s): %s", self.number, exc, message)

    def start(self, key: SlotKey, cfg: MemberConfig, limits: Limits | None) -> ProcessHandle:
        handle = ProcessHandle(self, uuid.uuid4().hex, key)
        handle._limits = limits
        with self._lock:
            self.handles[handle.run_id] = handle
            dead = self.dead
        if dead:  # died between placement and now: fail the member like the others
            self._fail(handle)
        else:
            self.send(Start(handle.run_id, cfg, limits))
        return handle

    def members(self) -> list[ProcessHandle]:
        with self._lock:
            return [h for h in self.handles.values() if h.alive()]

    def _read(self) -> None:
        while True:
            try:
                message: ToWorker = self.conn.recv()
            except (EOFError, OSError):
                break
            with self._lock:
                if isinstance(message, Reports):
                    for run_id, snapshot in message.snapshots.items():
                        handle = self.handles.get(run_id)
                        if handle is not None:
                            handle._reported(snapshot)
                elif isinstance(message, Exited):
                    handle = self.handles.pop(message.run_id, None)
                    if handle is not None:
                        handle._exited(message.snapshot, message.persistent)
        self._died()

    def _died(self) -> None:
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            # Closed its socket but runs on: a process we cannot talk to must not copy.
            self.proc.kill()
            code = self.proc.wait()
        with self._lock:
            self.dead = True
            handles, self.handles = list(self.handles.values()), {}
        self.conn.close()
        if handles:
            log.error("member process %d (pid %d) %s with %d members running",
                      self.number, self.proc.pid, _how(code), len(handles))
        else:
            log.info("member process %d (pid %d) exited", self.number, self.proc.pid)
        for handle in handles:
            self._fail(handle)

    def _fail(self, handle: ProcessHandle) -> None:
        code = self.proc.poll()
        handle._exited(
            dataclasses.replace(
                handle.snapshot(),
                state=MemberState.FAILED,
                error=f"its member process (pid {self.proc.pid}) {_how(code)}",
            ),
            persistent=False,
        )

    def close(self, timeout_s: float) -> None:
        """Ask the process to exit; kill it if it has not within `timeout_s`."""
        self.send(Shutdown())
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            log.error("member process %d (pid %d) did not exit within %.0fs; killing it",
                      self.number, self.proc.pid, timeout_s)
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=5)


def _how(code: int | None) -> str:
    if code is None:
        return "stopped answering"
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with status {code}"


class ProcessPool:
    """Runs members in up to `size` member processes (see the module's invariants)."""

    def __init__(self, size: int, log_level: str | None = None) -> None:
        self.size = max(1, size)
        self.log_level = log_level or logging.getLevelName(logging.getLogger().getEffectiveLevel())
        self._children: list[_Child] = []
        self._started = 0

    def start(self, key: SlotKey, cfg: MemberConfig, limits: Limits | None = None) -> ProcessHandle:
        """Start a member for slot `key` in the process that suits it best."""
        return self._place(key[0]).start(key, cfg, limits)

    def _place(self, task_id: str) -> _Child:
        self._children = [c for c in self._children if not c.dead]
        while len(self._children) < self.size:
            self._started += 1
            self._children.append(_Child(self._started, self.log_level))
        loads = [(c, c.members()) for c in self._children]
        idle = [c for c, members in loads if not members]
        if idle:
            return idle[0]
        return min(
            loads, key=lambda cm: (sum(h.key[0] == task_id for h in cm[1]), len(cm[1]), cm[0].number)
        )[0]

    def pids(self) -> list[int]:
        """The process ids of the member processes running now."""
        return [c.proc.pid for c in self._children if not c.dead]

    def close(self, timeout_s: float) -> None:
        """End every member process (their members must be done) and wait for them."""
        deadline = time.monotonic() + timeout_s
        for child in self._children:
            child.close(max(1.0, deadline - time.monotonic()))
        self._children = []
