"""Throughput and latency benchmark: ksync against its bounds and MirrorMaker 2.

Two local Apache Kafka 4.4.0 clusters (one KRaft node each, jars fetched by `make kafka`)
stand in for a source and a target. Phases run one after another (the machine is small
and the brokers share its CPU with the clients, so nothing overlaps). Per value size
(200 B and 1 KB, P partitions):

load            N records on the source, then both brokers warmed (untimed).
consume-only    the ceiling of the reading side: librdkafka (reference_clients.py) and
                Kafka's Java ConsumerPerformance (java_clients.py).
produce-only    the ceiling of the writing side with the settings a sync must use, from
                both clients likewise (ProducerPerformance).
naive           the hand-written consume/produce loop.
ksync, MM2      for task counts 1 and 2 in the order ksync, MM2, MM2, ksync, so drift of
                the machine over time weighs on both alike. ksync is the real server
                (ksync_runner.py, its CPU per process of its tree: the server and its
                member child processes); MM2 is dedicated mode (mirrormaker.py).

Then latency (latency.py): 1 KB records at a fixed rate, windows floor (read back from the
source), ksync, MM2, MM2, ksync; p50/p99/max from source CreateTime to readable.

Then exactly-once (`exactly_once`): 200 B records, ksync task_max 1 at-least-once,
exactly-once, exactly-once, at-least-once; the ratio of the steady rates (--eos-only runs
just this phase).

With --far, a far target (far.py): ksync and MM2 through a proxy that delays every byte
to and from the target broker by 10 ms each way, compression none and lz4.

MB/s counts value bytes only. "steady" is from the first record on the target to the
last; CPU seconds are the replicator's tree over that steady window.

    make bench                               # everything, 1,000,000 records per size
    BENCH_RECORDS=100000 BENCH_LATENCY_S=10 make bench
    .venv/bin/python benchmarks/sync_throughput.py --latency-only
    .venv/bin/python benchmarks/sync_throughput.py --far-only --far-records 300000
    .venv/bin/python benchmarks/sync_throughput.py --eos-only --records 100000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from far import FAR_SIZE, bench_clusters, far_routes, far_target
from harness import BenchError, Result
from java_clients import java_consume_only, java_produce_only
from ksync_runner import KsyncServer, run_ksync_task, start_task
from latency import Latency, WindowPlan, window
from load import load, warm_brokers
from mirrormaker import MirrorMaker, run_mirrormaker
from reference_clients import consume_only, naive, produce_only

SIZES = (200, 1024)
TASK_COUNTS = (1, 2)
LATENCY_RATE = 10_000
LATENCY_SIZE = 1024
LATENCY_WARM_S = 3.0
WARM_RECORDS = 200_000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=int(env("BENCH_RECORDS", "1000000")))
    ap.add_argument("--partitions", type=int, default=int(env("BENCH_PARTITIONS", "8")))
    ap.add_argument("--session-timeout-ms", type=int,
                    default=int(env("BENCH_SESSION_TIMEOUT_MS", "10000")),
                    help="consumer-group session timeout of naive and ksync (default 10000)")
    ap.add_argument("--latency-s", type=float, default=float(env("BENCH_LATENCY_S", "30")),
                    help="measured seconds of each latency window (default 30)")
    ap.add_argument("--latency-only", action="store_true", help="skip the throughput part")
    ap.add_argument("--latency-ab", metavar="JSON", type=json.loads, default=None,
                    help="compare ksync with ksync under these task options (e.g. "
                         "'{\"linger_ms\": 0}') in the latency part, instead of with MM2")
    ap.add_argument("--skip-latency", action="store_true", help="skip the latency part")
    ap.add_argument("--eos-only", action="store_true",
                    help="only the exactly_once / at_least_once phase")
    ap.add_argument("--skip-eos", action="store_true", help="skip the exactly-once phase")
    ap.add_argument("--far", action="store_true",
                    help="also the far target (20 ms added RTT via a delaying TCP proxy)")
    ap.add_argument("--far-only", action="store_true", help="only the far-target case")
    ap.add_argument("--far-records", type=int, default=int(env("BENCH_FAR_RECORDS", "300000")),
                    help="records of the far-target case (default 300000)")
    args = ap.parse_args(argv)
    if min(args.records, args.far_records, args.partitions) < 1 or args.latency_s <= 0:
        ap.error("--records, --far-records and --partitions must be positive, "
                 "--latency-s above 0")
    return args


@dataclass
class SizeRuns:
    """Every result of one value size, by name."""

    size: int
    refs: dict[str, Result] = field(default_factory=dict)
    ksync: dict[int, list[Result]] = field(default_factory=dict)
    mm2: dict[int, list[Result]] = field(default_factory=dict)


def show(res: Result, per_process: bool) -> None:
    print(res.line(), flush=True)
    if per_process:
        for p in sorted(res.procs, key=lambda p: -p.seconds):
            print(f"    pid {p.pid:>7d} {p.label:<40} {p.seconds:6.1f} CPU s", flush=True)


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def throughput(src: str, dst: str, args: argparse.Namespace, size: int) -> SizeRuns:
    n, parts = args.records, args.partitions
    deadline = 120 + n / 2000
    topic = f"bench-{size}"
    runs = SizeRuns(size)
    print(f"\n== {size} B values, {n} records, {parts} partitions", flush=True)
    print(load(src, topic, n, size, parts, deadline).line(), flush=True)
    warm_brokers(src, dst, min(n, WARM_RECORDS), size, parts, deadline)
    for res in (consume_only(src, topic, n, size, parts, deadline),
                java_consume_only(src, topic, n, size, deadline),
                produce_only(dst, n, size, parts, deadline),
                java_produce_only(dst, n, size, parts, deadline),
                naive(src, dst, topic, n, size, parts, args.session_timeout_ms, deadline)):
        runs.refs[res.name] = res
        show(res, False)
    server = KsyncServer()
    try:
        server.start()
        ids = server.register(src, dst)
        run = 0
        for tasks in TASK_COUNTS:
            runs.ksync[tasks], runs.mm2[tasks] = [], []
            for who in ("ksync", "mm2", "mm2", "ksync"):
                run += 1
                name = f"{who} tasks={tasks} #{run}"
                if who == "ksync":
                    res = run_ksync_task(server, ids, dst, topic, n, size, parts, tasks,
                                         f"k{size}x{run}", deadline, name)
                    runs.ksync[tasks].append(res)
                else:
                    res = run_mirrormaker(src, dst, topic, n, size, parts, tasks,
                                          f"m{size}x{run}", deadline, name)
                    runs.mm2[tasks].append(res)
                show(res, who == "ksync")
    finally:
        server.stop()
    return runs


def summary(runs: SizeRuns) -> None:
    print(f"\n-- summary, {runs.size} B values (means of the two runs of each)", flush=True)
    for tasks in TASK_COUNTS:
        k, m = runs.ksync[tasks], runs.mm2[tasks]
        steady = mean([r.steady_rate for r in k]) / mean([r.steady_rate for r in m])
        core = mean([r.mb_per_core or 0 for r in k]) / mean([r.mb_per_core or 0 for r in m])
        print(f"ksync/MM2 tasks={tasks}: steady throughput {steady:.2f}, "
              f"MB/s per core {core:.2f}")
    k1 = mean([r.steady_rate for r in runs.ksync[1]])
    k2 = mean([r.steady_rate for r in runs.ksync[2]])
    print(f"ksync task_max 2 / task_max 1 (steady): {k2 / k1:.2f}")
    # The best client on each side, librdkafka's or Java's; the sync's limit is the slower side.
    sides = {side: max((runs.refs[f"{side}-only"], runs.refs[f"{side}-only (Java)"]),
                       key=lambda r: r.rate) for side in ("consume", "produce")}
    bound = min(r.rate for r in sides.values())
    best = ", ".join(f"{r.name} {r.rate:.0f} rec/s" for r in sides.values())
    for tasks in TASK_COUNTS:
        rate = mean([r.steady_rate for r in runs.ksync[tasks]])
        print(f"ksync tasks={tasks} steady / min(best consume-only, best produce-only): "
              f"{rate / bound:.2f} (best: {best}; goal >= 0.8)")
    firsts = [r.first_s or 0.0 for tasks in TASK_COUNTS for r in runs.ksync[tasks]]
    mm_firsts = [r.first_s or 0.0 for tasks in TASK_COUNTS for r in runs.mm2[tasks]]
    print(f"first record on the target: ksync after the task's POST max {max(firsts):.1f} s "
          f"(runs {', '.join(f'{f:.1f}' for f in firsts)}; goal <= 2 s), MM2 after its "
          f"JVM launch max {max(mm_firsts):.1f} s")
    last = runs.ksync[2][-1]
    total = sum(p.seconds for p in last.procs) or 1.0
    shares = ", ".join(f"pid {p.pid} {p.label} {100 * p.seconds / total:.0f} %"
                       for p in sorted(last.procs, key=lambda p: -p.seconds))
    print(f"CPU share per process, ksync task_max 2 (last run): {shares}", flush=True)


def latency(src: str, dst: str, args: argparse.Namespace) -> None:
    plan = WindowPlan(LATENCY_RATE, args.latency_s, LATENCY_WARM_S, LATENCY_SIZE, args.partitions)
    print(f"\n== latency: {LATENCY_RATE} rec/s of {LATENCY_SIZE} B for {args.latency_s:.0f} s "
          "per window", flush=True)
    server = KsyncServer()
    results: dict[str, list[Latency]] = {"floor": [], "ksync": []}
    try:
        server.start()
        ids = server.register(src, dst)

        def ksync_on(prefix: str, options: dict[str, Any] | None = None
                     ) -> Callable[[str], tuple[str, Callable[[], None], Callable[[], None]]]:
            def start(topic: str) -> tuple[str, Callable[[], None], Callable[[], None]]:
                task = start_task(server, ids, topic, prefix, 1, prefix, options)
                return task.topic, task.check, lambda: task.delete(dst)
            return start

        def mm2_on(alias: str) -> Callable[[str], tuple[str, Callable[[], None],
                                                       Callable[[], None]]]:
            def start(topic: str) -> tuple[str, Callable[[], None], Callable[[], None]]:
                mm = MirrorMaker(src, dst, topic, alias, 1)
                try:
                    mm.start()
                except BaseException:
                    mm.stop()
                    raise
                return mm.target_topic, mm.check, mm.stop
            return start

        other = "mm2"
        b1, b2 = mm2_on("lm1"), mm2_on("lm2")
        if args.latency_ab is not None:
            # A B B A against a variant of ksync itself: the measure of a tuning change.
            other = "variant"
            b1, b2 = ksync_on("lv1", args.latency_ab), ksync_on("lv2", args.latency_ab)
            print(f"variant: ksync with {json.dumps(args.latency_ab)}", flush=True)
        results[other] = []
        order = [("floor", None), ("ksync", ksync_on("lk1")), (other, b1),
                 (other, b2), ("ksync", ksync_on("lk2"))]
        for i, (who, replicator) in enumerate(order, 1):
            res = window(f"{who} #{i}", src, dst, f"lat-{i}", plan, replicator)
            results[who].append(res)
            print(res.line(), flush=True)
    finally:
        server.stop()
    for q in ("p50", "p99", "max"):
        k = mean([getattr(r, q) for r in results["ksync"]])
        m = mean([getattr(r, q) for r in results[other]])
        label = "MM2" if other == "mm2" else "variant"
        print(f"latency ksync/{label} {q}: {k / m:.2f} (ksync {k:.1f} ms, {label} {m:.1f} ms)",
              flush=True)


EOS_SIZE = 200


def exactly_once(src: str, dst: str, args: argparse.Namespace) -> None:
    """The cost of exactly-once: one transaction per member and commit interval."""
    n, parts = args.records, args.partitions
    deadline = 120 + n / 2000
    topic = "bench-eos"
    print(f"\n== exactly-once, {EOS_SIZE} B values, {n} records, {parts} partitions", flush=True)
    print(load(src, topic, n, EOS_SIZE, parts, deadline).line(), flush=True)
    warm_brokers(src, dst, min(n, WARM_RECORDS), EOS_SIZE, parts, deadline)
    rates: dict[str, list[float]] = {"at_least_once": [], "exactly_once": []}
    server = KsyncServer()
    try:
        server.start()
        ids = server.register(src, dst)
        for run, delivery in enumerate(
            ("at_least_once", "exactly_once", "exactly_once", "at_least_once"), 1
        ):
            res = run_ksync_task(server, ids, dst, topic, n, EOS_SIZE, parts, 1, f"e{run}",
                                 deadline, f"ksync {delivery} #{run}",
                                 options={"delivery": delivery})
            rates[delivery].append(res.steady_rate)
            show(res, False)
    finally:
        server.stop()
    ratio = mean(rates["exactly_once"]) / mean(rates["at_least_once"])
    print(f"ksync exactly_once / at_least_once (steady, task_max 1): {ratio:.2f}", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    t0 = time.monotonic()
    try:
        routes = far_routes() if args.far or args.far_only else None
        with bench_clusters(routes) as (source, target):
            src, dst = source.bootstrap, target.bootstrap
            if args.eos_only:
                exactly_once(src, dst, args)
                return 0
            if args.far_only:
                assert routes is not None
                warm_brokers(src, dst, WARM_RECORDS, FAR_SIZE, args.partitions, 300)
                far_target(src, target, routes, args.far_records, args.partitions)
                return 0
            if not args.latency_only:
                for size in SIZES:
                    summary(throughput(src, dst, args, size))
            if not args.latency_only and not args.skip_eos:
                exactly_once(src, dst, args)
            if not args.skip_latency:
                if args.latency_only:
                    warm_brokers(src, dst, WARM_RECORDS, LATENCY_SIZE, args.partitions, 300)
                latency(src, dst, args)
            if routes is not None:
                far_target(src, target, routes, args.far_records, args.partitions)
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    print(f"\nbenchmark done in {time.monotonic() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
