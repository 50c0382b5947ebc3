"""Support for scale-out tests: `ksync worker` processes and queries on the test's database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from ksync.devkafka import stop_process

# --worker-timeout of every server here: also the controller lease's TTL.
WORKER_TIMEOUT_S = 5


def query(db_url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Run one query on the test's database (psycopg URL form)."""
    import psycopg

    with psycopg.connect(db_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        return list(conn.execute(sql, params).fetchall())


class WorkerProcess:
    """A `ksync worker` subprocess (members only) logging to a file."""

    def __init__(self, db_url: str, worker_id: str, log_dir: Path) -> None:
        self.db_url = db_url
        self.worker_id = worker_id
        self.log_dir = log_dir
        self.log_path = log_dir / f"worker-{worker_id}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen(
            # The servers' data directory: their secret key, which the worker needs too.
            [sys.executable, "-m", "ksync", "worker", "--db-url", self.db_url, "--id", self.worker_id,
             "--data-dir", str(self.log_dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.log_path.parent,
        )
        return self

    def kill(self) -> None:
        """SIGKILL: the machine dies; nothing is committed or deregistered."""
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop(self) -> None:
        """SIGTERM (members commit, the worker deregisters), SIGKILL if it hangs."""
        proc, self.process = self.process, None
        if proc is not None:
            stop_process(proc)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")
