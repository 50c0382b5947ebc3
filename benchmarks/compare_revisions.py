"""Before/after: ksync end to end from two source trees, in one run, as a ratio.

Loads the source once, then alternates `ksync server` from a base revision (a temporary
git worktree) and from the working tree, each copying the same records into a fresh
topic, so both see the same brokers, data and machine load. Prints every run and
new/base of the mean end-to-end rates. Use it before claiming an optimisation:

    .venv/bin/python benchmarks/compare_revisions.py --base HEAD~1 --runs 3

The base runs from its own src/ with this checkout's virtualenv, so it must not need
dependencies this one lacks.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness import BROKER_HEAP_MB
from ksync_runner import KsyncServer, run_ksync_task
from load import load

from ksync.devkafka import kafka_clusters

REPO = Path(__file__).resolve().parent.parent
TOPIC = "bench"
SIZE = 200
PARTITIONS = 8


@contextmanager
def worktree(rev: str) -> Iterator[Path]:
    """A detached checkout of `rev`, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="ksync-base-")) / "tree"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "--quiet", str(path), rev],
                   check=True)
    try:
        yield path
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(path)],
                       check=False)


def run_once(source_dir: str | None, src: str, dst: str, opts: argparse.Namespace,
             run: int) -> tuple[float, float]:
    """One task on a fresh server; returns (end-to-end rate, rate after the first record)."""
    server = KsyncServer(source_dir=source_dir)
    try:
        server.start()
        ids = server.register(src, dst)
        deadline = 120 + opts.records / 2000
        res = run_ksync_task(server, ids, dst, TOPIC, opts.records, SIZE, PARTITIONS, 1,
                             f"cmp{run}", deadline, f"run{run}")
    finally:
        server.stop()
    return res.rate, res.steady_rate


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", default="HEAD", help="git revision to compare with (default HEAD)")
    ap.add_argument("--runs", type=int, default=3, help="runs per tree (default 3)")
    ap.add_argument("--records", type=int, default=1_000_000)
    opts = ap.parse_args()
    if opts.runs < 1 or opts.records < 1:
        ap.error("--runs and --records must be positive")
    rates: dict[str, list[float]] = {"base": [], "new": []}
    steady_rates: dict[str, list[float]] = {"base": [], "new": []}
    with worktree(opts.base) as base, kafka_clusters(
        "cmp-src", "cmp-dst", heap_mb=BROKER_HEAP_MB
    ) as brokers:
        src, dst = brokers[0].bootstrap, brokers[1].bootstrap
        print(load(src, TOPIC, opts.records, SIZE, PARTITIONS, 120 + opts.records / 2000).line(),
              flush=True)
        # The first task on fresh brokers runs ~40 % slower whichever tree it is (the
        # brokers' JIT and caches warm up): one uncounted run keeps that out of the ratio.
        rate, steady = run_once(None, src, dst, opts, 0)
        print(f"warm-up  {rate:8.0f} rec/s end to end (not counted)", flush=True)
        run = 1
        for _ in range(opts.runs):
            for name, source_dir in (("base", str(base / "src")), ("new", None)):
                rate, steady = run_once(source_dir, src, dst, opts, run)
                run += 1
                rates[name].append(rate)
                steady_rates[name].append(steady)
                print(f"{name:<4} {rate:8.0f} rec/s end to end  {steady:8.0f} rec/s after the "
                      "first record", flush=True)
    mean = {k: sum(v) / len(v) for k, v in rates.items()}
    steady_mean = {k: sum(v) / len(v) for k, v in steady_rates.items()}
    print(f"base {opts.base}: {mean['base']:.0f} rec/s, working tree: {mean['new']:.0f} rec/s, "
          f"new/base = {mean['new'] / mean['base']:.2f}")
    print(f"after the first record (the hot path): base {steady_mean['base']:.0f} rec/s, "
          f"working tree {steady_mean['new']:.0f} rec/s, "
          f"new/base = {steady_mean['new'] / steady_mean['base']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
