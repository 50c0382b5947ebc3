"""`ksync demo` still starts and copies: run as a user runs it (`python -m ksync demo` on a
free port), wait until the REST API it announces shows records copied to the target, then
press Ctrl-C (SIGINT) and check that every process it started is gone.

The demo runs tansu brokers, not Apache Kafka; it needs no Java, which is its point.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from helpers import wait_until

from ksync.devkafka import free_port

pytestmark = pytest.mark.demo

BANNER = "ksync demo is running."


def descendants(pid: int) -> set[int]:
    """Every living process below `pid`, from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Running, or stopped: not gone and not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


class Demo:
    """`python -m ksync demo` with its output collected line by line."""

    def __init__(self, port: int, sigint_ignored: bool = False) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KSYNC_")}
        self.port = port
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ksync", "demo", "--port", str(port), "--rate", "200"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
            # As a shell starts a background job (`make test &`): Python then keeps SIGINT
            # ignored unless the program installs a handler of its own.
            preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if sigint_ignored else None,  # noqa: PLW1509
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, name="demo-output", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self) -> str:
        return "\n".join(self.lines)

    def announced(self) -> bool:
        """Whether the demo printed its banner (its server, instances and task are up)."""
        assert self.process.poll() is None, f"the demo exited:\n{self.output()}"
        return BANNER in self.lines


@pytest.fixture(params=[False, True], ids=["sigint-default", "sigint-ignored-at-start"])
def demo(request: pytest.FixtureRequest) -> Iterator[Demo]:
    running = Demo(free_port(), sigint_ignored=request.param)
    try:
        yield running
    finally:
        if running.process.poll() is None:  # the test failed before stopping it
            left = descendants(running.process.pid)
            running.process.kill()
            running.process.wait()
            for pid in left:
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)


def test_the_demo_copies_records_and_ctrl_c_stops_everything(demo: Demo) -> None:
    wait_until(demo.announced, timeout_s=120, what="the demo's banner")
    base = f"http://127.0.0.1:{demo.port}"
    assert f"console / API : {base}/" in demo.output()

    # Through the REST API the demo announces: the task runs, both target topics exist,
    # and records are copied (the task commits source offsets only once the target has
    # them).
    with httpx.Client(base_url=base, timeout=30) as client:
        [task] = client.get("/api/v1/tasks").json()["tasks"]
        assert task["name"] == "demo-gz-to-sh", task

        def copying() -> bool:
            # The member commits its first progress a moment before the controller's next
            # pass derives Running from its report: wait for both.
            shown = client.get(f"/api/v1/tasks/{task['id']}").json()
            copied = sum(p["committed_offset"] for p in shown["progress"])
            return copied > 0 and shown["status"] == "Running"

        wait_until(copying, timeout_s=90, what="records copied to the target, task Running")
        target = task["target"]["instance_id"]
        topics = {t["name"] for t in client.get(f"/api/v1/instances/{target}/topics").json()["topics"]}
        assert {"gz.orders", "gz.payments"} <= topics, topics

    # Two brokers and the server run under the demo; Ctrl-C stops them and the demo.
    started = descendants(demo.process.pid)
    assert len(started) >= 3, started
    demo.process.send_signal(signal.SIGINT)
    assert demo.process.wait(timeout=90) == 0, demo.output()
    wait_until(lambda: not [pid for pid in started if alive(pid)], timeout_s=30,
               what=f"the demo's processes {sorted(started)} to be gone")
    assert "demo stopped: server and brokers are down" in demo.output()
    assert "Traceback" not in demo.output(), demo.output()
