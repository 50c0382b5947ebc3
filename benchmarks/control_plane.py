"""Control-plane load: one ksync server holding many small tasks, and one wide task.

Two local Apache Kafka 4.4.0 clusters (one KRaft node each, as in sync_throughput.py)
stand in for a source and a target. One `ksync server` (SQLite by default, PostgreSQL
with --db-url) then:

create      POSTs --tasks tasks one after another, each copying one small topic of its
            own (--partitions partitions, --records records) from the earliest offset;
            reports the POST latency and the time until every task shows Running.
steady      while they run: GET /api/v1/tasks, GET of one task, and a pause + start of
            one task, each --samples times; p50/p99/max of each.
footprint   the server's RSS and threads, and its process tree's (member processes),
            before the tasks and with them, per task.
round       pause every task, wait until all are Paused, start every task, wait until all
            are Running; the time of each half and the threads/RSS before and after.
wide        on a fresh server, one task of --wide-partitions partitions: time from the
            POST to Running, to the first record and the steady rate over --wide-records.

    make bench-control                                   # 500 tasks, one 2,000-partition task
    .venv/bin/python benchmarks/control_plane.py --tasks 100 --skip-wide
    .venv/bin/python benchmarks/control_plane.py --db-url postgresql+psycopg://…
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from confluent_kafka import KafkaException, TopicPartition
from confluent_kafka.admin import NewTopic, OffsetSpec
from far import bench_clusters
from harness import (
    BenchError,
    admin_client,
    flush_all,
    info,
    make_producer,
    partition_counts,
    produce_retrying,
    text_pool,
)
from ksync_runner import KsyncServer
from load import load

POLL_S = 0.5


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", type=int, default=500)
    ap.add_argument("--partitions", type=int, default=1, help="partitions of each small topic")
    ap.add_argument("--records", type=int, default=100, help="records in each small topic")
    ap.add_argument("--samples", type=int, default=100, help="calls per measured operation")
    ap.add_argument("--rounds", type=int, default=2,
                    help="pause-all/start-all rounds: the first also pays one-time costs")
    ap.add_argument("--running-deadline-s", type=float, default=600)
    ap.add_argument("--db-url", default=None, help="the server's store (default: SQLite)")
    ap.add_argument("--wide-partitions", type=int, default=2000)
    ap.add_argument("--wide-records", type=int, default=400_000)
    ap.add_argument("--skip-wide", action="store_true", help="skip the wide task")
    ap.add_argument("--only-wide", action="store_true", help="only the wide task")
    ap.add_argument("--profile", metavar="FILE", default=None,
                    help="sample the server's threads' stacks into FILE (sample_stacks.py)")
    ap.add_argument("--source-dir", default=None,
                    help="another checkout's src/ to run the server from (a baseline)")
    ap.add_argument("--server-arg", action="append", default=[],
                    help="an extra `ksync server` option (repeatable)")
    args = ap.parse_args(argv)
    if min(args.tasks, args.partitions, args.samples, args.wide_partitions, args.rounds) < 1:
        ap.error("--tasks, --partitions, --samples, --wide-partitions and --rounds must be positive")
    return args


# --------------------------------------------------------------------------- measures


@dataclass(frozen=True)
class Footprint:
    """RSS (MB) and threads of the server alone and of its process tree."""

    rss_mb: float
    threads: int
    tree_rss_mb: float
    tree_threads: int
    processes: int

    def line(self) -> str:
        return (f"server {self.rss_mb:6.0f} MB {self.threads:5d} threads | tree "
                f"({self.processes} processes) {self.tree_rss_mb:6.0f} MB "
                f"{self.tree_threads:5d} threads")


def _status(pid: int) -> tuple[float, int]:
    rss, threads = 0.0, 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    except OSError:
        pass
    return rss, threads


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                kids = Path(f"/proc/{p}/task/{tid}/children").read_text().split()
                todo += [int(k) for k in kids]
        except OSError:
            continue
    return out


def cpu_s(server: KsyncServer) -> float:
    """CPU seconds the server process has used (its member processes not counted): on a
    shared machine a better measure of its own work than wall time."""
    assert server.proc is not None
    try:
        raw = Path(f"/proc/{server.proc.pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = raw[raw.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuWindow:
    """The server's CPU use between `start` and `line`."""

    def __init__(self, server: KsyncServer) -> None:
        self.server = server
        self.cpu0, self.t0 = cpu_s(server), time.perf_counter()

    def line(self, what: str) -> str:
        cpu, wall = cpu_s(self.server) - self.cpu0, time.perf_counter() - self.t0
        return (f"server CPU {what}: {cpu:.1f} s over {wall:.1f} s "
                f"({100 * cpu / wall if wall else 0:.0f} % of a core)")


def footprint(server: KsyncServer) -> Footprint:
    assert server.proc is not None
    pid = server.proc.pid
    rss, threads = _status(pid)
    tree = [_status(p) for p in _tree(pid)]
    return Footprint(rss, threads, sum(r for r, _ in tree), sum(t for _, t in tree), len(tree))


@dataclass
class Latencies:
    name: str
    seconds: list[float]

    def line(self) -> str:
        ms = sorted(s * 1000 for s in self.seconds)
        if not ms:
            return f"{self.name:<28} no samples"
        p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
        return (f"{self.name:<28} n={len(ms):4d} p50 {statistics.median(ms):8.1f} ms  "
                f"p99 {p99:8.1f} ms  max {ms[-1]:8.1f} ms")


def timed(http: httpx.Client, method: str, path: str, expect: int,
          body: object = None) -> tuple[float, httpx.Response]:
    t0 = time.perf_counter()
    resp = http.request(method, path, json=body)
    took = time.perf_counter() - t0
    if resp.status_code != expect:
        raise BenchError(f"{method} {path}: HTTP {resp.status_code}, expected {expect}: "
                         f"{resp.text[:300]}")
    return took, resp


class Lister:
    """GET /api/v1/tasks; each call's time is kept."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.latency = Latencies("GET /api/v1/tasks", [])

    def statuses(self) -> dict[str, str]:
        took, resp = timed(self.http, "GET", "/api/v1/tasks", 200)
        self.latency.seconds.append(took)
        return {t["id"]: t["status"] for t in resp.json()["tasks"]}


def wait_all(lister: Lister, ids: list[str], status: str, deadline_s: float,
             server: KsyncServer, what: str) -> float:
    """Seconds until every task in `ids` shows `status`; a Failed task ends the wait."""
    t0 = time.perf_counter()
    deadline = time.monotonic() + deadline_s
    last_report = t0
    while True:
        seen = lister.statuses()
        counts: dict[str, int] = {}
        for i in ids:
            counts[seen.get(i, "gone")] = counts.get(seen.get(i, "gone"), 0) + 1
        if counts.get(status, 0) == len(ids):
            return time.perf_counter() - t0
        if counts.get("Failed"):
            raise BenchError(f"{what}: {counts['Failed']} tasks Failed\n{server.log_tail()}")
        now = time.perf_counter()
        if now - last_report > 15:
            last_report = now
            info(f"{what}: {now - t0:5.0f} s {dict(sorted(counts.items()))}")
        if time.monotonic() > deadline:
            raise BenchError(f"{what}: after {deadline_s:.0f} s: {counts}\n{server.log_tail()}")
        time.sleep(POLL_S)


# --------------------------------------------------------------------------- phases


def small_topics(src: str, count: int, partitions: int, records: int) -> list[str]:
    """`count` topics of `records` records each, created in one request per 100."""
    names = [f"cp-{i:05d}" for i in range(count)]
    admin = admin_client(src)
    for start in range(0, count, 100):
        batch = [NewTopic(n, partitions, 1) for n in names[start:start + 100]]
        for name, fut in admin.create_topics(batch).items():
            try:
                fut.result(60)
            except KafkaException as exc:
                raise BenchError(f"cannot create {name}: {exc}") from None
    # Every topic listed with a leader before the first record: a record for a topic
    # the producer does not know yet fails as unknown.
    deadline = time.monotonic() + 120
    while True:
        listed = admin.list_topics(timeout=30).topics
        missing = [n for n in names if n not in listed or listed[n].error is not None
                   or len(listed[n].partitions) < partitions]
        if not missing:
            break
        if time.monotonic() > deadline:
            raise BenchError(f"{len(missing)} source topics not listed, first {missing[0]}")
        time.sleep(POLL_S)
    producer, errors, failed = make_producer(src, "cp-load")
    values = text_pool(200)
    deadline = time.monotonic() + 300
    for n, name in enumerate(names):
        for i in range(records):
            produce_retrying(producer, name, values[(n + i) % len(values)], b"k%d" % i,
                             partition=i % partitions)
        producer.poll(0)
    flush_all(producer, "cp-load", deadline)
    errors.check()
    if failed:
        raise BenchError(f"cp-load: {len(failed)} records failed: {failed[0]}")
    return names


def spec(ids: tuple[str, str], topic: str, prefix: str) -> dict[str, object]:
    return {
        "name": f"bench-{prefix}-{topic}",
        "source": {"instance_id": ids[0], "topics": [topic], "start": {"type": "earliest"}},
        "target": {"instance_id": ids[1], "topic_prefix": prefix, "separator": ".",
                   "keep_partition": True},
    }


def server_args(args: argparse.Namespace) -> list[str]:
    extra = list(args.server_arg)
    if args.db_url:
        extra += ["--db-url", args.db_url]
    return extra


def many_tasks(src: str, args: argparse.Namespace) -> None:
    n = args.tasks
    print(f"\n== {n} tasks, one topic each ({args.partitions} partition(s), "
          f"{args.records} records)", flush=True)
    t0 = time.perf_counter()
    topics = small_topics(src, n, args.partitions, args.records)
    info(f"{n} source topics loaded in {time.perf_counter() - t0:.1f} s")
    server = KsyncServer(*server_args(args), source_dir=args.source_dir,
                         profile_to=args.profile)
    try:
        server.start()
        ids = server.register(src, args.dst)
        http = httpx.Client(base_url=server.base, timeout=120)
        lister = Lister(http)
        idle = footprint(server)
        print(f"idle server:          {idle.line()}", flush=True)
        posts = Latencies("POST /api/v1/tasks", [])
        task_ids: list[str] = []
        window = CpuWindow(server)
        t_create = time.perf_counter()
        for topic in topics:
            took, resp = timed(http, "POST", "/api/v1/tasks", 202, spec(ids, topic, "cp"))
            posts.seconds.append(took)
            task_ids.append(resp.json()["id"])
        created_s = time.perf_counter() - t_create
        print(f"created {n} tasks in {created_s:.1f} s", flush=True)
        print(posts.line(), flush=True)
        print(window.line("while creating"), flush=True)
        window = CpuWindow(server)
        running_s = wait_all(lister, task_ids, "Running",
                             args.running_deadline_s, server, "to Running")
        print(f"all {n} Running {created_s + running_s:.1f} s after the first POST "
              f"({running_s:.1f} s after the last)", flush=True)
        print(lister.latency.line() + "  (while converging)", flush=True)
        print(window.line("until all Running"), flush=True)
        window = CpuWindow(server)
        time.sleep(10)
        print(window.line("idle with every task Running, 10 s"), flush=True)
        steady(server, http, task_ids, args.samples)
        loaded = footprint(server)
        print(f"with {n} tasks:       {loaded.line()}", flush=True)
        print(f"per task: server {(loaded.rss_mb - idle.rss_mb) / n:.2f} MB "
              f"{(loaded.threads - idle.threads) / n:.2f} threads | tree "
              f"{(loaded.tree_rss_mb - idle.tree_rss_mb) / n:.2f} MB "
              f"{(loaded.tree_threads - idle.tree_threads) / n:.2f} threads", flush=True)
        for r in range(1, args.rounds + 1):
            print(f"-- pause-all/start-all round {r} of {args.rounds}", flush=True)
            pause_round(server, http, task_ids, args.running_deadline_s)
        server_log_counts(server)
    finally:
        server.stop()


def steady(server: KsyncServer, http: httpx.Client, task_ids: list[str], samples: int) -> None:
    """Latencies of the usual calls while every task runs."""
    listing = Latencies("GET /api/v1/tasks (steady)", [])
    one = Latencies("GET /api/v1/tasks/{id}", [])
    pause = Latencies("POST …/pause", [])
    start = Latencies("POST …/start", [])
    for i in range(samples):
        listing.seconds.append(timed(http, "GET", "/api/v1/tasks", 200)[0])
        tid = task_ids[i % len(task_ids)]
        one.seconds.append(timed(http, "GET", f"/api/v1/tasks/{tid}", 200)[0])
    for i in range(min(samples, 20)):
        tid = task_ids[(i * 7) % len(task_ids)]
        pause.seconds.append(timed(http, "POST", f"/api/v1/tasks/{tid}/pause", 202)[0])
        start.seconds.append(timed(http, "POST", f"/api/v1/tasks/{tid}/start", 202)[0])
    for lat in (listing, one, pause, start):
        print(lat.line(), flush=True)
    wait_all(Lister(http), task_ids, "Running", 300, server, "settle")


def pause_round(server: KsyncServer, http: httpx.Client, task_ids: list[str],
                deadline_s: float) -> None:
    """Pause every task, then start every task; the footprint across the round."""
    lister = Lister(http)
    before = footprint(server)
    window = CpuWindow(server)
    t0 = time.perf_counter()
    for tid in task_ids:
        timed(http, "POST", f"/api/v1/tasks/{tid}/pause", 202)
    paused_s = wait_all(lister, task_ids, "Paused", deadline_s, server, "pause-all")
    t1 = time.perf_counter()
    mid = footprint(server)
    for tid in task_ids:
        timed(http, "POST", f"/api/v1/tasks/{tid}/start", 202)
    running_s = wait_all(lister, task_ids, "Running", deadline_s, server, "start-all")
    t2 = time.perf_counter()
    # Memory released by stopped members shows after the allocator returns it.
    after = footprint(server)
    print(f"pause-all: {t1 - t0:.1f} s ({paused_s:.1f} s after the last POST); "
          f"start-all: {t2 - t1:.1f} s ({running_s:.1f} s after the last POST)", flush=True)
    print(f"before the round:     {before.line()}", flush=True)
    print(f"all paused:           {mid.line()}", flush=True)
    print(f"after the round:      {after.line()}", flush=True)
    print(f"round difference: server {after.rss_mb - before.rss_mb:+.0f} MB "
          f"{after.threads - before.threads:+d} threads | tree "
          f"{after.tree_rss_mb - before.tree_rss_mb:+.0f} MB "
          f"{after.tree_threads - before.tree_threads:+d} threads", flush=True)
    print(lister.latency.line() + "  (during the round)", flush=True)
    print(window.line("during the round"), flush=True)


def server_log_counts(server: KsyncServer) -> None:
    """Lines of the server log that mean the control plane fell behind."""
    try:
        text = Path(server.log_path).read_text(errors="replace")
    except OSError:
        return
    for needle in ("database is locked", "missed its heartbeats", "-> Unassigned",
                   "Traceback"):
        print(f"server log: {text.count(needle):5d} × {needle!r}", flush=True)


def wide_arrival(dst: str, topic: str, records: int, partitions: int,
                 check: Callable[[], None]) -> tuple[float, float]:
    """(first record seen, every record seen) on the target, perf_counter times. One
    ListOffsets request per poll for every partition: asking 2,000 partitions one by one
    (harness.wait_on_target) takes longer per round than the copy itself."""
    admin = admin_client(dst)
    expected = partition_counts(records, partitions)
    request = {TopicPartition(topic, p): OffsetSpec.latest() for p in range(partitions)}
    deadline = time.monotonic() + 900
    t_first: float | None = None
    while True:
        try:
            ends = {tp.partition: fut.result(30).offset
                    for tp, fut in admin.list_offsets(request, request_timeout=30).items()}
        except KafkaException:
            ends = {}  # the topic is being created: not every partition has a leader yet
        now = time.perf_counter()
        if t_first is None and sum(ends.values()) > 0:
            t_first = now
        if ends and all(ends.get(p, 0) >= n for p, n in expected.items()):
            return t_first or now, now
        check()
        if time.monotonic() > deadline:
            raise BenchError(f"wide: {sum(ends.values())} of {records} records by the deadline")
        time.sleep(0.2)


def wide_task(src: str, args: argparse.Namespace) -> None:
    parts, records = args.wide_partitions, args.wide_records
    print(f"\n== one task of {parts} partitions, {records} records of 200 B", flush=True)
    topic = f"cp-wide-{parts}"
    print(load(src, topic, records, 200, parts, 600, name="load wide",
               values=text_pool(200)).line(), flush=True)
    server = KsyncServer(*server_args(args), source_dir=args.source_dir)
    try:
        server.start()
        ids = server.register(src, args.dst)
        http = httpx.Client(base_url=server.base, timeout=120)
        t0 = time.perf_counter()
        _took, resp = timed(http, "POST", "/api/v1/tasks", 202, spec(ids, topic, "wide"))
        tid = resp.json()["id"]
        lister = Lister(http)

        def check() -> None:
            proc = server.proc
            if proc is not None and proc.poll() is not None:
                raise BenchError(f"server exited:\n{server.log_tail()}")

        running_s = wait_all(lister, [tid], "Running", args.running_deadline_s, server,
                             "wide to Running")
        print(f"wide task Running {running_s:.1f} s after its POST", flush=True)
        t_first, t_done = wide_arrival(args.dst, f"wide.{topic}", records, parts, check)
        steady_s = t_done - t_first
        print(f"wide task: first record {t_first - t0:.1f} s after the POST, all "
              f"{records} in {t_done - t0:.1f} s, steady {records / steady_s:.0f} "
              f"rec/s over {steady_s:.1f} s", flush=True)
        print(f"wide task footprint:  {footprint(server).line()}", flush=True)
        server_log_counts(server)
    finally:
        server.stop()


def load_line() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} on {os.cpu_count()} cores"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    t0 = time.monotonic()
    print(f"control-plane benchmark: {load_line()}", flush=True)
    phases: list[Callable[[str, argparse.Namespace], None]] = []
    if not args.only_wide:
        phases.append(many_tasks)
    if not args.skip_wide:
        phases.append(wide_task)
    try:
        with bench_clusters(None) as (source, target):
            args.dst = target.bootstrap
            for phase in phases:
                phase(source.bootstrap, args)
                print(f"  ({load_line()})", flush=True)
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    print(f"\nbenchmark done in {time.monotonic() - t0:.0f} s ({load_line()})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
