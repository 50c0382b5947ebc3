"""Child processes for the demo, the tests and the benchmark: free loopback ports, waiting
for a listener, starting a child that cannot outlive us, and stopping it for sure."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import IO, Any

_PR_SET_PDEATHSIG = 1

log = logging.getLogger(__name__)


def _below_ephemeral_ports() -> range:
    """Ports under the kernel's range for outgoing connections (Linux:
    /proc/sys/net/ipv4/ip_local_port_range, 32768-60999 by default)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return range(10_000, max(low, 11_000))


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now.

    Chosen at random below the ports the kernel hands to outgoing connections: a port
    from bind(0) comes from that range, and between our check and the child's bind a
    client connection (a broker's, a test's) can take it as its local port, which made
    a Kafka node fail to start with "Address already in use".
    """
    # A port handed out is free until its child binds it, seconds later: nothing here may
    # hand it out again meanwhile (a 3-node cluster asks for 12 at once), and parallel
    # test processes (pytest-xdist workers) draw from disjoint slices of the range.
    ports = _below_ephemeral_ports()
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    if worker.startswith("gw") and worker[2:].isdigit() and count > 1:
        ports = ports[int(worker[2:]) % count :: count]
    for _ in range(100):
        port = random.choice(ports)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue  # in use: another
            _HANDED_OUT.add(port)
            return port
    with socket.socket() as s:  # a crowded range: let the kernel choose
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout_s: float = 15.0, proc: subprocess.Popen[Any] | None = None) -> None:
    """Block until something accepts TCP connections on 127.0.0.1:`port`.

    With `proc`, give up as soon as that process exits: waiting out the deadline on a
    child that already died only hides its error.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(
                    f"process {proc.pid} exited with {proc.returncode} before listening "
                    f"on 127.0.0.1:{port}"
                ) from None
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout_s}s") from None
            time.sleep(0.05)


def _die_with_parent() -> None:
    """In the child, before exec: SIGKILL us when the parent dies, even by SIGKILL.

    A test run or a demo killed hard must not leave brokers running. Linux only; elsewhere
    stop_process at exit is the only guard.
    """
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def spawn(
    argv: Sequence[str],
    *,
    stdout: IO[Any] | int | None = subprocess.DEVNULL,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
) -> subprocess.Popen[bytes]:
    """Start a child in its own session (Ctrl-C in a terminal reaches only us, and we stop
    it) that is killed if this process dies without stopping it.

    Linux delivers that kill when the *thread* that forked the child ends, so the guard is
    set only for children started from the main thread; a child started from another
    thread is stopped by whoever started it.
    """
    guard = sys.platform.startswith("linux") and threading.current_thread() is threading.main_thread()
    return subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=cwd,
        start_new_session=True,
        preexec_fn=_die_with_parent if guard else None,  # noqa: PLW1509 - prctl only
    )


def stop_process(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM, timeout_s: float = 60) -> bool:
    """Send `sig`, wait up to `timeout_s` for a clean exit, then SIGKILL: whatever a test
    or the demo starts never outlives it. Returns whether it exited on `sig` in time.

    A child from `spawn` leads its own process group, so whatever it started and left
    behind (a child it did not stop, or could not because it was killed) is killed with
    it once it is gone.
    """
    leads_group = _leads_group(proc)
    clean = True
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGCONT)  # a stopped (SIGSTOP) process cannot act on sig
            proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            log.warning(
                "process %d (%s) still running %.0f s after signal %d: killed",
                proc.pid, _name(proc), timeout_s, sig,
            )
            clean = False
            proc.kill()
            proc.wait()
    if leads_group:
        # The group outlives its leader while any member lives; its id is not reused
        # until then, so this reaches only what the child left.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
            log.warning("process %d (%s) left children behind: killed", proc.pid, _name(proc))
            clean = False
    return clean


def _leads_group(proc: subprocess.Popen[Any]) -> bool:
    """Whether `proc` is alive and leads its own process group (started by `spawn`)."""
    if proc.poll() is not None:
        return False
    try:
        return os.getpgid(proc.pid) == proc.pid
    except ProcessLookupError:
        return False


def _name(proc: subprocess.Popen[Any]) -> str:
    argv = proc.args if isinstance(proc.args, list | tuple) else [proc.args]
    return os.path.basename(str(argv[0])) if argv else "?"
