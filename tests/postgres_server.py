"""A private PostgreSQL server for the tests, from Debian's `postgresql` binaries.

initdb into a temporary folder, trust auth for `postgres` on 127.0.0.1 only, a free port,
no fsync (a test database need not survive a power cut). Started once per test session
and stopped at its end; nothing on the machine is configured or left behind. PostgreSQL
refuses to run as root, so as root the server runs as the `postgres` user that Debian's
package creates.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from ksync.devkafka import free_port, stop_process


def _pg_bin() -> Path:
    """The newest /usr/lib/postgresql/<version>/bin with initdb."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not found:
        raise RuntimeError(
            "PostgreSQL's server binaries are not installed (no /usr/lib/postgresql/*/bin/initdb): "
            "run scripts/ensure-test-system as root, or apt-get install postgresql"
        )
    return found[-1].parent


def _as_user(uid: int | None, gid: int | None):  # type: ignore[no-untyped-def]
    """preexec_fn: drop to `uid`/`gid` (when root), then die with the parent.

    The death signal is set after setuid: changing credentials clears it."""

    def run() -> None:
        if uid is not None and gid is not None:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG

    return run


class PostgresServer:
    """`start()`, then `admin_url` (psycopg) and `url(db)` (SQLAlchemy); `stop()`."""

    def __init__(self) -> None:
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="ksync-pg-"))
        self.data = self.folder / "data"
        self.process: subprocess.Popen[bytes] | None = None
        self._uid: int | None = None
        self._gid: int | None = None
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            self._uid, self._gid = user.pw_uid, user.pw_gid
            os.chown(self.folder, user.pw_uid, user.pw_gid)

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> PostgresServer:
        bin_dir = _pg_bin()
        done = subprocess.run(
            [str(bin_dir / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
             "--no-sync", "-E", "UTF8", "--locale=C"],
            capture_output=True, text=True, timeout=120, check=False,
            preexec_fn=_as_user(self._uid, self._gid),
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed ({done.returncode}): {done.stdout}{done.stderr}")
        log = open(self.folder / "server.log", "ab")  # noqa: SIM115 - the child keeps it
        try:
            self.process = subprocess.Popen(
                [str(bin_dir / "postgres"), "-D", str(self.data), "-p", str(self.port),
                 "-h", "127.0.0.1", "-k", str(self.folder), "-c", "fsync=off",
                 "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                 "-c", "max_connections=300"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_as_user(self._uid, self._gid),  # noqa: PLW1509 - setuid, prctl only
            )
        finally:
            log.close()
        self._wait_ready()
        return self

    def _wait_ready(self, timeout_s: float = 30.0) -> None:
        import psycopg

        deadline = time.monotonic() + timeout_s
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.process.returncode}:\n{self.log()}")
            try:
                with psycopg.connect(self.admin_url, connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"postgres not ready after {timeout_s}s:\n{self.log()}") from None
                time.sleep(0.1)

    def log(self) -> str:
        path = self.folder / "server.log"
        return path.read_text(errors="replace")[-4000:] if path.is_file() else ""

    def stop(self) -> None:
        proc, self.process = self.process, None
        if proc is not None:
            # SIGINT is PostgreSQL's "fast" shutdown: sessions are ended, no waiting on them.
            stop_process(proc, signal.SIGINT, timeout_s=20)
        shutil.rmtree(self.folder, ignore_errors=True)


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()
