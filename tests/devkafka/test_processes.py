"""stop_process: a child that ignores its signal is killed after its time, and what a
spawned child leaves behind in its process group goes with it."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from helpers import wait_until

from ksync.devkafka import spawn, stop_process


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state == "Z"


def test_a_child_that_exits_on_its_signal_stopped_cleanly() -> None:
    proc = spawn(["sleep", "300"])
    assert stop_process(proc, timeout_s=10) is True
    assert proc.returncode == -signal.SIGTERM


def test_a_child_that_ignores_its_signal_is_killed_after_its_time() -> None:
    proc = spawn(["sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.1; done"],
                 stdout=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"ready\n"  # the trap is set
    assert stop_process(proc, timeout_s=0.5) is False
    assert proc.returncode == -signal.SIGKILL


def test_what_a_spawned_child_leaves_in_its_group_is_killed_with_it() -> None:
    # The shell dies on SIGTERM; the sleep it started would live on, orphaned.
    proc = spawn(["sh", "-c", "sleep 300 & echo $!; wait"], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    grandchild = int(proc.stdout.readline())
    assert not _gone(grandchild)
    assert stop_process(proc, timeout_s=10) is False
    wait_until(lambda: _gone(grandchild), timeout_s=10, what=f"process {grandchild} to be gone")


def test_a_child_outside_its_own_group_leaves_our_group_alone() -> None:
    # Not from spawn: it shares the test's process group, which must not be signalled.
    proc = subprocess.Popen(["sleep", "300"])
    assert os.getpgid(proc.pid) == os.getpgid(0)
    assert stop_process(proc, timeout_s=10) is True
