"""Support for alarm tests: a local webhook receiver, task snapshots, and a stand-in
dispatcher that records deliveries instead of sending them."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from ksync.monitoring.alarms.snapshot import TaskSnapshot
from ksync.monitoring.alarms.webhooks import Delivery

T0 = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def metrics(now: datetime, **values: Any) -> dict[str, Any]:
    """Task metrics as the controller writes them, stamped `now`."""
    base: dict[str, Any] = {
        "records_per_s": 100.0,
        "bytes_per_s": 10_000.0,
        "source_records_per_s": 100.0,
        "lag": 0,
        "latency_ms": {"p50": 5.0, "p99": 20.0, "max": 30.0},
        "records_total": 1000,
        "bytes_total": 100_000,
        "at": now.timestamp(),
    }
    return {**base, **values}


def task(
    task_id: str = "task-aaaaaaaa",
    name: str = "orders-to-sh",
    status: str = "Running",
    desired: str = "running",
    error: str | None = None,
    metrics: dict[str, Any] | None = None,
) -> TaskSnapshot:
    return TaskSnapshot(task_id, name, status, desired, error, metrics)


class Receiver:
    """A webhook receiver on 127.0.0.1 (a free port) in a thread: records each POST.

    `behaviour`: "ok" answers 200; "fail" answers 500; "hang" answers nothing for
    `hang_s` (60 s by default; released early by `close()`).
    """

    def __init__(self, behaviour: str = "ok", hang_s: float = 60.0) -> None:
        self.behaviour = behaviour
        self.hang_s = hang_s
        self.requests: list[tuple[float, dict[str, str], dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"null")
                with outer._lock:
                    outer.requests.append((time.monotonic(), dict(self.headers), body))
                if outer.behaviour == "hang":
                    outer._release.wait(outer.hang_s)
                    return
                code = 500 if outer.behaviour == "fail" else 200
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True, name=f"receiver-{behaviour}")
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    @property
    def bodies(self) -> list[dict[str, Any]]:
        with self._lock:
            return [body for _, _, body in self.requests]

    def arrivals(self) -> list[float]:
        with self._lock:
            return [t for t, _, _ in self.requests]

    def wait_for(
        self, predicate: Callable[[list[dict[str, Any]]], bool], timeout_s: float = 30.0, what: str = ""
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            bodies = self.bodies
            if predicate(bodies):
                return bodies
            time.sleep(0.05)
        raise AssertionError(f"receiver {self.behaviour}: timed out after {timeout_s}s waiting for {what}; got {self.bodies}")

    def close(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RecordingDispatcher:
    """Stands in for WebhookDispatcher: records what would be sent, answers 200 at once."""

    def __init__(self) -> None:
        self.sent: list[tuple[list[str], dict[str, Any]]] = []

    def deliver(self, urls: Any, payload: dict[str, Any], on_result: Callable[[str, Delivery], None]) -> None:
        self.sent.append((list(urls), payload))
        for url in urls:
            on_result(url, Delivery(200, 1, None, False))

    def close(self) -> None:
        pass
