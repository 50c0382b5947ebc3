"""A far target: ~20 ms round trip to the target broker only, via tc netem on lo.

A prio qdisc (every priority mapped to its first band, so other loopback traffic keeps
its path) with a netem delay of 10 ms on an extra band; u32 filters send there what the
target broker's port sends (sport) and receives (dport). Needs root and `tc`.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

from harness import BenchError, info

DELAY_MS = 10


def _tc(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["tc", *args], capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise BenchError(f"tc {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


@contextmanager
def delayed_port(port: int, delay_ms: int = DELAY_MS) -> Iterator[None]:
    """Delay every packet to and from `port` on lo by `delay_ms` while the block runs."""
    current = _tc("qdisc", "show", "dev", "lo").stdout
    if "prio" in current or "netem" in current:
        raise BenchError(f"lo already has a qdisc set up by someone else: {current.strip()}; "
                         "not replacing it")
    _tc("qdisc", "add", "dev", "lo", "root", "handle", "1:", "prio", "bands", "4",
        "priomap", *["0"] * 16)
    try:
        _tc("qdisc", "add", "dev", "lo", "parent", "1:4", "handle", "40:", "netem",
            "delay", f"{delay_ms}ms")
        for direction in ("sport", "dport"):
            _tc("filter", "add", "dev", "lo", "protocol", "ip", "parent", "1:0", "prio", "1",
                "u32", "match", "ip", direction, str(port), "0xffff", "flowid", "1:4")
        info(f"lo: {delay_ms} ms each way on port {port}")
        yield
    finally:
        _tc("qdisc", "del", "dev", "lo", "root", check=False)
