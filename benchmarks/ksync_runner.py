"""ksync as a user runs it: `python -m ksync server` in a subprocess, one sync task per run
created over the REST API, watched from outside until every record is on the target."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from harness import (
    BenchError,
    CpuMeter,
    Result,
    delete_topic,
    info,
    partition_counts,
    wait_on_target,
)

from ksync.devkafka import free_port

KSYNC_PREFIX = "ksync"


class OptionUnavailable(BenchError):
    """The server refused a task option (422): this tree does not have it."""


class KsyncServer:
    """`python -m ksync server` in a subprocess with its own data directory."""

    def __init__(self, *extra_args: str, source_dir: str | None = None,
                 profile_to: str | None = None) -> None:
        # BENCH_KSYNC_ARGS: extra `ksync server` options for every ksync phase.
        self.extra_args = [*os.environ.get("BENCH_KSYNC_ARGS", "").split(), *extra_args]
        # Another checkout's src/ to run instead of the installed package (compare_revisions).
        self.source_dir = source_dir
        # Where sample_stacks.py writes the server's thread profile (None: not profiled).
        self.profile_to = profile_to
        self.port = free_port()
        self.data_dir = tempfile.mkdtemp(prefix="ksync-bench-")
        self.log_path = os.path.join(self.data_dir, "server.log")
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(base_url=self.base, timeout=30)
        self.meter: CpuMeter | None = None

    def start(self, timeout_s: float = 60) -> None:
        profiler = ([os.path.join(os.path.dirname(__file__), "sample_stacks.py"), self.profile_to]
                    if self.profile_to else [])
        cmd = [sys.executable, *profiler, "-m", "ksync", "server", "--host", "127.0.0.1",
               "--port", str(self.port), "--data-dir", self.data_dir, *self.extra_args]
        env = dict(os.environ)
        if self.source_dir is not None:
            env["PYTHONPATH"] = self.source_dir  # ahead of the editable install's path
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        self.meter = CpuMeter(self.proc.pid).start()
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc.poll() is not None:
                raise BenchError(f"ksync server exited with status {self.proc.returncode} "
                                 f"before it was healthy:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if self.http.get("/healthz", timeout=2).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise BenchError(f"ksync server not healthy on {self.base}/healthz after "
                                 f"{timeout_s:.0f} s:\n{self.log_tail()}")
            time.sleep(0.2)

    def log_tail(self, lines: int = 30) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no server log)"

    def call(self, method: str, path: str, expect: int, body: Any = None) -> Any:
        try:
            resp = self.http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise BenchError(f"ksync {method} {path}: {exc}") from None
        if resp.status_code == 422 and expect != 422:
            raise OptionUnavailable(f"ksync {method} {path}: HTTP 422: {resp.text[:500]}")
        if resp.status_code != expect:
            raise BenchError(f"ksync {method} {path}: HTTP {resp.status_code}, expected "
                             f"{expect}: {resp.text[:500]}")
        return resp.json() if resp.content else None

    def register(self, src: str, dst: str) -> tuple[str, str]:
        """The source and target clusters as instances; returns their ids."""
        src_id = self.call("POST", "/api/v1/instances", 201,
                           {"name": "src", "bootstrap_servers": src})["id"]
        dst_id = self.call("POST", "/api/v1/instances", 201,
                           {"name": "dst", "bootstrap_servers": dst})["id"]
        return src_id, dst_id

    def stop(self) -> None:
        self.http.close()
        if self.meter is not None:
            self.meter.stop()
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            t0 = time.perf_counter()
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
                info(f"ksync server stopped {time.perf_counter() - t0:.1f} s after SIGTERM "
                     f"(exit status {proc.returncode})")
            except subprocess.TimeoutExpired:
                print("  ksync server ignored SIGTERM for 15 s: killing it", file=sys.stderr)
            # Its members may run in child processes: whatever is left of the session goes.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)  # its own session: pid == pgid
            proc.wait()
        shutil.rmtree(self.data_dir, ignore_errors=True)


class TaskWatch:
    """Polls GET /api/v1/tasks/{id} in a thread (every 2 s) so a Failed task ends the wait."""

    def __init__(self, server: KsyncServer, task_id: str) -> None:
        self.server, self.task_id = server, task_id
        self.last: dict[str, Any] = {}
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        with httpx.Client(base_url=self.server.base, timeout=10) as http:
            while not self.stop_event.wait(2.0):
                with contextlib.suppress(httpx.HTTPError, ValueError):
                    resp = http.get(f"/api/v1/tasks/{self.task_id}")
                    if resp.status_code == 200:
                        self.last = resp.json()

    def check(self, who: str) -> None:
        if str(self.last.get("status", "")).lower() == "failed":
            raise BenchError(f"{who}: the task failed: {self.last.get('error')!r}")

    def close(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=15)


@dataclass
class KsyncTask:
    """A running task: its id, its target topic and the server's liveness check."""

    server: KsyncServer
    task_id: str
    topic: str
    watch: TaskWatch
    name: str

    def check(self) -> None:
        self.watch.check(self.name)
        proc = self.server.proc
        if proc is not None and proc.poll() is not None:
            raise BenchError(f"{self.name}: ksync server exited with status "
                             f"{proc.returncode}:\n{self.server.log_tail()}")

    def delete(self, dst: str) -> None:
        """Stop the task so it takes no CPU from the next phase, then drop its topic."""
        self.watch.close()
        with contextlib.suppress(BenchError):
            self.server.call("DELETE", f"/api/v1/tasks/{self.task_id}", 202)
            gone = time.monotonic() + 30
            while time.monotonic() < gone:
                if self.server.http.get(f"/api/v1/tasks/{self.task_id}").status_code == 404:
                    break
                time.sleep(0.2)
        delete_topic(dst, self.topic)


def start_task(server: KsyncServer, ids: tuple[str, str], source_topic: str, prefix: str,
               task_max: int, name: str, options: dict[str, Any] | None = None) -> KsyncTask:
    """POST a sync task copying `source_topic` into `<prefix>.<source_topic>` (partitions
    kept) from the earliest offset."""
    spec = {
        "name": f"bench-{prefix}",
        "source": {"instance_id": ids[0], "topics": [source_topic], "start": {"type": "earliest"}},
        "target": {"instance_id": ids[1], "topic_prefix": prefix, "separator": ".",
                   "keep_partition": True},
        "options": {"task_max": task_max, **(options or {})},
    }
    task = server.call("POST", "/api/v1/tasks", 202, spec)
    return KsyncTask(server, task["id"], f"{prefix}.{source_topic}", TaskWatch(server, task["id"]),
                     name)


def run_ksync_task(server: KsyncServer, ids: tuple[str, str], dst: str, source_topic: str,
                   records: int, size: int, partitions: int, task_max: int, prefix: str,
                   deadline_s: float, name: str, options: dict[str, Any] | None = None,
                   on_arrival: Callable[[str], None] | None = None) -> Result:
    """One timed copy: from the POST until every record is on the target. `dst` is where
    the observer reads (the task's target instance may reach the same broker another way);
    `on_arrival(target topic)` runs once every record is there, before the topic goes."""
    assert server.meter is not None
    expected = partition_counts(records, partitions)
    marks: dict[str, dict[tuple[int, int], float]] = {}
    t0 = time.perf_counter()
    task = start_task(server, ids, source_topic, prefix, task_max, name, options)
    try:
        arrival = wait_on_target(dst, task.topic, expected, time.monotonic() + deadline_s,
                                 task.check, name,
                                 on_first=lambda: marks.__setitem__("first", server.meter.mark()))  # type: ignore[union-attr]
        after = server.meter.mark()
        if on_arrival is not None:
            on_arrival(task.topic)
    except BenchError as exc:
        raise BenchError(f"{exc}\n  last task state: {task.watch.last}\n  server log tail:\n"
                         f"{server.log_tail()}") from None
    finally:
        task.delete(dst)
    procs = server.meter.since(marks.get("first", {}), after)
    extra = sum(arrival.ends.values()) - records
    note = f"({extra} duplicates: at-least-once redelivery)" if extra > 0 else ""
    if (options or {}).get("delivery") == "exactly_once" and extra > 0:
        note = f"({extra} offsets taken by transaction markers)"
    return Result(name, records, size, arrival.t_done - t0, steady_s=arrival.t_done - arrival.t_first,
                  first_s=arrival.t_first - t0, cpu_s=sum(p.seconds for p in procs),
                  procs=procs, note=note)
