"""Throughput benchmark: how fast ksync copies records, against what bounds it.

Two local Apache Kafka 4.4.0 clusters (one KRaft node each, `ksync.devkafka.KafkaCluster`,
jars fetched by `make kafka`) stand in for a source and a target cluster. In one run, one phase after another (the machine is small and the
brokers share its CPU with the clients, so nothing overlaps), the script measures:

load          produce N records (V-byte values, keys b"k%08d", one header) round-robin over
              P partitions of topic `bench` on the source, with a tuned idempotent producer.
consume-only  a tuned consumer reads all N records of `bench` back (assign, no group join):
              the ceiling of the reading side of a sync.
produce-only  a tuned producer with the settings a sync must use (acks=all, idempotence,
              error-only delivery reports) writes N records into a fresh topic on the
              target, until flush() returns: the ceiling of the writing side.
naive         what a user writes by hand in one process: consume(500) batches, one
              produce() + poll(0) per record keeping key, value, headers, timestamp and
              partition, flush() then a synchronous commit every few tens of thousands of
              records (at-least-once, like ksync). Same tuning as the other clients
              (see CONSUMER_TUNING: fetch.queue.backoff.ms matters a lot).
ksync         the real service: `python -m ksync server` as a subprocess, one sync task
              created over the REST API; timed from the POST until every record is on
              the target (optionally again with task_max 2).

The goal is in the ratios printed last: ksync should be at least as fast as the hand-written
loop (ksync/naive >= 1.0) and reach at least half of the slower of the two one-sided
ceilings (ksync/min(consume,produce) >= 0.5): a sync can never beat the side it waits on.
MB/s counts value bytes only (records x value size).

Timing rules, so the figures compare like with like:
* naive and ksync both include their start-up: the consumer-group join, and, for ksync,
  picking up the task and creating the target topic. An info line also shows each rate from
  the first record on, without the start-up.
* Both join with the same session timeout: ksync's default, 10 s (--session-timeout-ms).
  The brokers run with group.initial.rebalance.delay.ms=0 (a production cluster's default
  is 3 s, KIP-134, which only a group's very first join pays), so a join takes a fraction
  of a second. The "steady" ratios, from the first record on, show the engine alone.
* naive knows itself when it is done: all N records consumed and flush() returned, so every
  record is acknowledged by the target.
* ksync is watched from outside, as cheaply as possible so the observer does not steal CPU
  from it: uncached high watermarks of the target partitions every 100 ms. Done = every
  target partition p holds as many records as source partition p (keep_partition is true,
  and the load wrote a known count to each partition). Duplicates, possible with
  at-least-once, are reported. Detection is at most a poll interval late (<= 0.1 s).

Usage: .venv/bin/python benchmarks/sync_throughput.py [--records N] [--size BYTES]
       [--partitions P] [--task-max 1,2] [--session-timeout-ms MS] [--skip-ksync]
Env defaults: BENCH_RECORDS, BENCH_SIZE, BENCH_PARTITIONS, BENCH_TASK_MAX,
BENCH_SESSION_TIMEOUT_MS.
Exit status is non-zero, with a message saying what went wrong, if any phase fails.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic

from ksync.devkafka import free_port, kafka_clusters
from ksync.devkafka.kafka import KAFKA_VERSION

SOURCE_TOPIC = "bench"
PRODUCE_ONLY_TOPIC = "bench-produce-only"
NAIVE_TOPIC = "bench-naive"
KSYNC_PREFIX = "ksync"
NAIVE_BATCH = 500
NAIVE_COMMIT_EVERY = 50_000
POLL_INTERVAL_S = 0.1
# A million 200-byte records fit in the page cache; the heap only holds requests in flight.
BROKER_HEAP_MB = 1024

# Producer settings a sync must use (ordered, no loss), tuned for throughput.
PRODUCER_TUNING: dict[str, Any] = {
    "acks": "all",
    "enable.idempotence": True,
    "linger.ms": 10,
    "batch.size": 1_000_000,
    "queue.buffering.max.messages": 2_000_000,
    "queue.buffering.max.kbytes": 1_048_576,
    "delivery.report.only.error": True,
}
CONSUMER_TUNING: dict[str, Any] = {
    "enable.auto.commit": False,
    "auto.offset.reset": "earliest",
    "fetch.max.bytes": 52_428_800,
    "max.partition.fetch.bytes": 8_388_608,
    "receive.message.max.bytes": 104_857_600,
    "queued.max.messages.kbytes": 262_144,
    "fetch.wait.max.ms": 100,
    # librdkafka pauses fetching a partition for fetch.queue.backoff.ms (default 1000 ms)
    # whenever its local queue holds queued.min.messages (default 100k) records: with a
    # consumer that keeps up this throttles reads to a third (measured: 150k -> 500k rec/s).
    "fetch.queue.backoff.ms": 10,
}


# Answers that only mean "not yet" while a topic is being created or leaders move.
RETRIABLE = {KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.UNKNOWN_TOPIC_OR_PART,
             KafkaError.LEADER_NOT_AVAILABLE, KafkaError._TIMED_OUT}


class BenchError(Exception):
    """A phase failed; the message says what happened."""


# --------------------------------------------------------------------------- clients


class ClientErrors:
    """error_cb for librdkafka clients: keep fatal errors, print real ones, drop noise."""

    # Connection churn, mostly at teardown when a broker is stopped before the client.
    NOISE: ClassVar[set[int]] = {KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._DESTROY}

    def __init__(self, who: str) -> None:
        self.who = who
        self.fatal: list[KafkaError] = []

    def __call__(self, err: KafkaError) -> None:
        if err.fatal():
            self.fatal.append(err)
            print(f"  [{self.who}] FATAL client error: {err}", file=sys.stderr)
        elif err.code() not in self.NOISE:
            print(f"  [{self.who}] client error: {err}", file=sys.stderr)

    def check(self) -> None:
        if self.fatal:
            raise BenchError(f"{self.who}: fatal client error: {self.fatal[0]}")


def base_conf(bootstrap: str, errors: ClientErrors) -> dict[str, Any]:
    return {"bootstrap.servers": bootstrap, "log_level": 3, "error_cb": errors}


def make_producer(bootstrap: str, who: str) -> tuple[Producer, ClientErrors, list[str]]:
    """A tuned producer; delivery failures are collected in the returned list."""
    errors = ClientErrors(who)
    failed: list[str] = []

    def on_delivery(err: KafkaError | None, _msg: Message) -> None:
        if err is not None:  # only errors are reported (delivery.report.only.error)
            failed.append(str(err))

    conf = base_conf(bootstrap, errors) | PRODUCER_TUNING | {"on_delivery": on_delivery}
    return Producer(conf), errors, failed


def make_consumer(bootstrap: str, who: str, **extra: Any) -> tuple[Consumer, ClientErrors]:
    errors = ClientErrors(who)
    conf = base_conf(bootstrap, errors) | CONSUMER_TUNING
    conf["group.id"] = f"{who}-{uuid.uuid4().hex[:8]}"
    conf.update(extra)
    return Consumer(conf), errors


@contextlib.contextmanager
def closing_consumer(consumer: Consumer) -> Iterator[Consumer]:
    try:
        yield consumer
    finally:
        with contextlib.suppress(Exception):
            consumer.close()


def produce_retrying(producer: Producer, *args: Any, **kwargs: Any) -> None:
    """produce(), waiting for room when the local queue is full."""
    while True:
        try:
            producer.produce(*args, **kwargs)
            return
        except BufferError:
            producer.poll(0.05)


def flush_all(producer: Producer, who: str, deadline: float) -> None:
    while (left := producer.flush(1.0)) > 0:
        if time.monotonic() > deadline:
            raise BenchError(f"{who}: {left} records still undelivered at the deadline")


def admin_client(bootstrap: str) -> AdminClient:
    # An AdminClient is a producer handle to librdkafka, so a Metadata request naming a
    # topic asks the broker to auto-create it (Kafka's default auto.create.topics.enable),
    # with the broker's partition count, before ksync can create it with the source's.
    # The bench brokers refuse it anyway; never ask.
    return AdminClient({"bootstrap.servers": bootstrap, "log_level": 3,
                        "allow.auto.create.topics": False})


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = admin_client(bootstrap)
    fut = admin.create_topics([NewTopic(topic, partitions, 1)])[topic]
    try:
        fut.result(30)
    except KafkaException as exc:
        raise BenchError(f"cannot create topic {topic} on {bootstrap}: {exc}") from None
    wait_for_partitions(admin, topic, partitions, time.monotonic() + 30)


def wait_for_partitions(admin: AdminClient, topic: str, partitions: int, deadline: float) -> int:
    """Block until `topic` shows at least `partitions` partitions; return the count."""
    while True:
        md = admin.list_topics(timeout=10).topics.get(topic)
        if md is not None and md.error is None and len(md.partitions) >= partitions:
            return len(md.partitions)
        if time.monotonic() > deadline:
            raise BenchError(f"topic {topic} did not appear with {partitions} partitions")
        time.sleep(POLL_INTERVAL_S)


def delete_topic(bootstrap: str, topic: str) -> None:
    """Free the broker's disk and page cache between phases so every phase starts alike."""
    admin = admin_client(bootstrap)
    with contextlib.suppress(Exception):
        admin.delete_topics([topic])[topic].result(30)


def value_pool(size: int) -> list[bytes]:
    """4096 distinct random values, cycled: about 800 KB at 200 B, so no compressor's window
    (lz4: 64 KB) sees a repeat, and no per-record cost in the timed loops."""
    return [os.urandom(size) for _ in range(4096)]


def partition_counts(records: int, partitions: int) -> dict[int, int]:
    """Records per partition when record i goes to partition i % partitions."""
    return {p: records // partitions + (1 if p < records % partitions else 0)
            for p in range(partitions)}


# --------------------------------------------------------------------------- results


@dataclass
class Result:
    name: str
    records: int
    seconds: float
    value_size: int

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else float("inf")

    def line(self) -> str:
        mb_s = self.rate * self.value_size / 1e6
        return (f"{self.name:<15} {self.records:>7d} records  {self.seconds:5.1f} s  "
                f"{self.rate:7.0f} rec/s  {mb_s:5.1f} MB/s")


def info(msg: str) -> None:
    print(f"  {msg}", flush=True)


# --------------------------------------------------------------------------- phases


def phase_load(src: str, args: argparse.Namespace, deadline_s: float) -> Result:
    create_topic(src, SOURCE_TOPIC, args.partitions)
    producer, errors, failed = make_producer(src, "load")
    values = value_pool(args.size)
    mask = len(values) - 1
    headers = [("bench", b"ksync")]
    parts = args.partitions
    deadline = time.monotonic() + deadline_s
    t0 = time.perf_counter()
    for i in range(args.records):
        produce_retrying(producer, SOURCE_TOPIC, values[i & mask], b"k%08d" % i,
                         partition=i % parts, headers=headers)
        if i & 1023 == 0:
            producer.poll(0)
            if time.monotonic() > deadline:
                raise BenchError(f"load: only {i} records queued at the deadline")
    flush_all(producer, "load", deadline)
    seconds = time.perf_counter() - t0
    errors.check()
    if failed:
        raise BenchError(f"load: {len(failed)} records failed, first: {failed[0]}")
    return Result("load", args.records, seconds, args.size)


def consume_all(
    consumer: Consumer, who: str, records: int, batch: int, deadline: float,
    on_batch: Callable[[list[Message]], None] | None = None,
) -> tuple[int, float | None]:
    """Read until `records` records came; return (count, time of the first record)."""
    count = 0
    t_first: float | None = None
    while count < records:
        msgs = consumer.consume(num_messages=batch, timeout=0.5)
        for m in msgs:
            err = m.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    continue
                raise BenchError(f"{who}: consume error: {err}")
            m.value()
        good = [m for m in msgs if m.error() is None]
        if good:
            if t_first is None:
                t_first = time.perf_counter()
            count += len(good)
            if on_batch is not None:
                on_batch(good)
        if time.monotonic() > deadline:
            raise BenchError(f"{who}: only {count} of {records} records read by the deadline")
    return count, t_first


def phase_consume_only(src: str, args: argparse.Namespace, deadline_s: float) -> Result:
    consumer, errors = make_consumer(src, "consume-only")
    with closing_consumer(consumer):
        t0 = time.perf_counter()
        consumer.assign([TopicPartition(SOURCE_TOPIC, p, OFFSET_BEGINNING)
                         for p in range(args.partitions)])
        count, _ = consume_all(consumer, "consume-only", args.records, 10_000,
                               time.monotonic() + deadline_s)
        seconds = time.perf_counter() - t0
        errors.check()
    if count != args.records:
        raise BenchError(f"consume-only: read {count} records, expected {args.records}")
    return Result("consume-only", args.records, seconds, args.size)


def phase_produce_only(dst: str, args: argparse.Namespace, deadline_s: float) -> Result:
    create_topic(dst, PRODUCE_ONLY_TOPIC, args.partitions)
    producer, errors, failed = make_producer(dst, "produce-only")
    values = value_pool(args.size)
    mask = len(values) - 1
    headers = [("bench", b"ksync")]
    parts = args.partitions
    now_ms = int(time.time() * 1000)
    deadline = time.monotonic() + deadline_s
    t0 = time.perf_counter()
    for i in range(args.records):
        # The same call shape a sync makes: explicit partition, timestamp and headers.
        produce_retrying(producer, PRODUCE_ONLY_TOPIC, values[i & mask], b"k%08d" % i,
                         partition=i % parts, timestamp=now_ms, headers=headers)
        if i & 1023 == 0:
            producer.poll(0)
            if time.monotonic() > deadline:
                raise BenchError(f"produce-only: only {i} records queued at the deadline")
    flush_all(producer, "produce-only", deadline)
    seconds = time.perf_counter() - t0
    errors.check()
    if failed:
        raise BenchError(f"produce-only: {len(failed)} records failed, first: {failed[0]}")
    delete_topic(dst, PRODUCE_ONLY_TOPIC)
    return Result("produce-only", args.records, seconds, args.size)


def phase_naive(src: str, dst: str, args: argparse.Namespace,
                deadline_s: float) -> tuple[Result, float]:
    """The hand-written loop; returns its result and the time to its first record."""
    create_topic(dst, NAIVE_TOPIC, args.partitions)
    producer, perrors, failed = make_producer(dst, "naive-producer")
    consumer, cerrors = make_consumer(src, "naive",
                                      **{"session.timeout.ms": args.session_timeout_ms})
    deadline = time.monotonic() + deadline_s
    with closing_consumer(consumer):
        t0 = time.perf_counter()
        consumer.subscribe([SOURCE_TOPIC])
        count = 0
        since_commit = 0
        t_first: float | None = None
        while count < args.records:
            msgs = consumer.consume(NAIVE_BATCH, 1.0)
            for msg in msgs:
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        continue
                    raise BenchError(f"naive: consume error: {err}")
                produce_retrying(producer, NAIVE_TOPIC, msg.value(), msg.key(),
                                 partition=msg.partition(), timestamp=msg.timestamp()[1],
                                 headers=msg.headers())
                producer.poll(0)
                count += 1
                since_commit += 1
            if msgs and t_first is None:
                t_first = time.perf_counter()
            if since_commit >= NAIVE_COMMIT_EVERY or (count >= args.records and since_commit):
                flush_all(producer, "naive", deadline)
                consumer.commit(asynchronous=False)
                since_commit = 0
            if failed:
                raise BenchError(f"naive: {len(failed)} records failed, first: {failed[0]}")
            perrors.check()
            cerrors.check()
            if time.monotonic() > deadline:
                raise BenchError(f"naive: only {count} of {args.records} records copied "
                                 "by the deadline")
        flush_all(producer, "naive", deadline)
        seconds = time.perf_counter() - t0
    if failed:
        raise BenchError(f"naive: {len(failed)} records failed, first: {failed[0]}")
    if count != args.records:
        raise BenchError(f"naive: copied {count} records, expected {args.records}")
    delete_topic(dst, NAIVE_TOPIC)
    return Result("naive", args.records, seconds, args.size), (t_first or t0) - t0


# --------------------------------------------------------------------------- ksync


class KsyncServer:
    """`python -m ksync server` in a subprocess with its own data directory."""

    def __init__(self, session_timeout_ms: int, *extra_args: str,
                 source_dir: str | None = None) -> None:
        # BENCH_KSYNC_ARGS: extra `ksync server` options for every ksync phase.
        self.extra_args = ["--session-timeout-ms", str(session_timeout_ms),
                           *os.environ.get("BENCH_KSYNC_ARGS", "").split(), *extra_args]
        # Another checkout's src/ to run instead of the installed package (compare_revisions).
        self.source_dir = source_dir
        self.port = free_port()
        self.data_dir = tempfile.mkdtemp(prefix="ksync-bench-")
        self.log_path = os.path.join(self.data_dir, "server.log")
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(base_url=self.base, timeout=30)

    def start(self, timeout_s: float = 60) -> None:
        cmd = [sys.executable, "-m", "ksync", "server", "--host", "127.0.0.1",
               "--port", str(self.port), "--data-dir", self.data_dir, *self.extra_args]
        env = dict(os.environ)
        if self.source_dir is not None:
            env["PYTHONPATH"] = self.source_dir  # ahead of the editable install's path
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
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
        if resp.status_code != expect:
            raise BenchError(f"ksync {method} {path}: HTTP {resp.status_code}, expected "
                             f"{expect}: {resp.text[:500]}")
        return resp.json() if resp.content else None

    def stop(self) -> None:
        self.http.close()
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
                with contextlib.suppress(ProcessLookupError):
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
                with contextlib.suppress(Exception):
                    resp = http.get(f"/api/v1/tasks/{self.task_id}")
                    if resp.status_code == 200:
                        self.last = resp.json()

    def check(self, who: str) -> None:
        if str(self.last.get("status", "")).lower() == "failed":
            raise BenchError(f"{who}: the task failed: {self.last.get('error')!r}")

    def close(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=15)


def wait_on_target(
    dst: str, topic: str, expected: dict[int, int], deadline: float,
    check: Callable[[], None], who: str,
) -> tuple[float, float | None, dict[int, int]]:
    """Block until target partition p holds expected[p] records, for every p.

    Returns (time done, time the first record was seen, end offset per partition). Kafka's
    high watermark is the end of what every in-sync replica has: acknowledged records.
    """
    total = sum(expected.values())
    admin = admin_client(dst)
    wait_for_partitions(admin, topic, len(expected), deadline)
    consumer, errors = make_consumer(dst, f"{who}-observer")
    ends = dict.fromkeys(expected, 0)
    t_first: float | None = None
    with closing_consumer(consumer):
        while True:
            for p in expected:
                try:
                    _lo, hi = consumer.get_watermark_offsets(TopicPartition(topic, p),
                                                             timeout=10, cached=False)
                except KafkaException as exc:
                    # A topic ksync just created: its leader may not be known everywhere
                    # yet (NOT_LEADER_FOR_PARTITION); the next poll asks again.
                    if exc.args[0].fatal() or exc.args[0].code() not in RETRIABLE:
                        raise BenchError(f"{who}: observer cannot read {topic}[{p}]: {exc}") from None
                    continue
                ends[p] = max(ends[p], hi)
            now = time.perf_counter()
            if t_first is None and sum(ends.values()) > 0:
                t_first = now
            if all(ends[p] >= n for p, n in expected.items()):
                return now, t_first, ends
            errors.check()
            check()
            if time.monotonic() > deadline:
                arrived = sum(min(ends[p], n) for p, n in expected.items())
                raise BenchError(f"{who}: only {arrived} of {total} records arrived by the deadline")
            time.sleep(POLL_INTERVAL_S)


def run_ksync_task(server: KsyncServer, src_id: str, dst_id: str, dst: str,
                   args: argparse.Namespace, task_max: int, run: int, deadline_s: float,
                   name: str | None = None) -> tuple[Result, float]:
    # The first run is the "ksync" line the ratios use; later runs get their own topic.
    name = name or ("ksync" if run == 0 else f"ksync tmax={task_max}")
    prefix = KSYNC_PREFIX if run == 0 else f"{KSYNC_PREFIX}{run + 1}"
    topic = f"{prefix}.{SOURCE_TOPIC}"
    spec = {
        "name": f"bench-{run + 1}",
        "source": {"instance_id": src_id, "topics": [SOURCE_TOPIC],
                   "start": {"type": "earliest"}},
        "target": {"instance_id": dst_id, "topic_prefix": prefix, "separator": ".",
                   "keep_partition": True},
        "options": {"task_max": task_max},
    }
    expected = partition_counts(args.records, args.partitions)
    t0 = time.perf_counter()
    task = server.call("POST", "/api/v1/tasks", 202, spec)
    task_id = task["id"]
    watch = TaskWatch(server, task_id)

    def check() -> None:
        watch.check(name)
        if server.proc is not None and server.proc.poll() is not None:
            raise BenchError(f"{name}: ksync server exited with status "
                             f"{server.proc.returncode}:\n{server.log_tail()}")

    try:
        t_done, t_first, ends = wait_on_target(dst, topic, expected, time.monotonic() + deadline_s,
                                               check, name)
    except BenchError as exc:
        raise BenchError(f"{exc}\n  last task state: {watch.last}\n  server log tail:\n"
                         f"{server.log_tail()}") from None
    finally:
        watch.close()
    extra = sum(ends.values()) - args.records
    if extra > 0:
        info(f"{name}: {extra} duplicate records on the target (at-least-once redelivery)")
    # Stop the task so it does not poll and take CPU from the next phase; keep the topic
    # deletion best effort (it is only memory).
    with contextlib.suppress(BenchError):
        server.call("DELETE", f"/api/v1/tasks/{task_id}", 202)
        gone = time.monotonic() + 30
        while time.monotonic() < gone:
            if server.http.get(f"/api/v1/tasks/{task_id}").status_code == 404:
                break
            time.sleep(0.2)
    delete_topic(dst, topic)
    return Result(name, args.records, t_done - t0, args.size), (t_first or t0) - t0


def _register(server: KsyncServer, src: str, dst: str) -> tuple[str, str]:
    src_id = server.call("POST", "/api/v1/instances", 201,
                         {"name": "src", "bootstrap_servers": src})["id"]
    dst_id = server.call("POST", "/api/v1/instances", 201,
                         {"name": "dst", "bootstrap_servers": dst})["id"]
    return src_id, dst_id


def phase_ksync(src: str, dst: str, args: argparse.Namespace,
                deadline_s: float) -> list[tuple[Result, float]]:
    out = []
    server = KsyncServer(args.session_timeout_ms)
    try:
        server.start()
        src_id, dst_id = _register(server, src, dst)
        # The first task on fresh brokers runs ~25-40 % slower whatever it is (measured:
        # measure and --no-measure alternated five times end within 1 % of each other,
        # while whichever ran first lost a third): one uncounted task absorbs that.
        warm, _ = run_ksync_task(server, src_id, dst_id, dst, args, args.task_max[0], 98,
                                 deadline_s, name="ksync warm-up")
        info(f"{warm.line()} (warm-up, not counted)")
        for run, task_max in enumerate(args.task_max):
            out.append(run_ksync_task(server, src_id, dst_id, dst, args, task_max, run,
                                      deadline_s))
            info(out[-1][0].line())
    finally:
        server.stop()
    # The cost of measuring: the same task on a server whose members skip the per-batch
    # metrics work (hidden --no-measure), in the same run, on the same brokers.
    bare = KsyncServer(args.session_timeout_ms, "--no-measure")
    try:
        bare.start()
        src_id, dst_id = _register(bare, src, dst)
        out.append(run_ksync_task(bare, src_id, dst_id, dst, args, args.task_max[0],
                                  len(args.task_max), deadline_s, name="ksync no-metrics"))
        info(out[-1][0].line())
    finally:
        bare.stop()
    return out


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=int(env("BENCH_RECORDS", "1000000")))
    ap.add_argument("--size", type=int, default=int(env("BENCH_SIZE", "200")),
                    help="value size in bytes")
    ap.add_argument("--partitions", type=int, default=int(env("BENCH_PARTITIONS", "8")))
    ap.add_argument("--task-max", default=env("BENCH_TASK_MAX", "1"),
                    help="comma-separated task_max values to run ksync with (first = 'ksync')")
    ap.add_argument("--session-timeout-ms", type=int,
                    default=int(env("BENCH_SESSION_TIMEOUT_MS", "10000")),
                    help="consumer-group session timeout of naive and ksync (default 10000, "
                         "ksync's)")
    ap.add_argument("--skip-ksync", action="store_true", help="only the first four phases")
    ap.add_argument("--deadline", type=float, default=None,
                    help="seconds allowed per phase (default 120 + records / 2000)")
    args = ap.parse_args(argv)
    if args.records < 1 or args.size < 1 or args.partitions < 1:
        ap.error("--records, --size and --partitions must be positive")
    if not 1000 <= args.session_timeout_ms <= 300_000:
        ap.error("--session-timeout-ms must be between 1000 and 300000")
    try:
        args.task_max = [int(x) for x in str(args.task_max).split(",") if x.strip()]
    except ValueError:
        ap.error("--task-max is a comma-separated list of integers, e.g. 1,2")
    if not args.task_max and not args.skip_ksync:
        ap.error("--task-max needs at least one value")
    return args


def run_phases(src: str, dst: str, args: argparse.Namespace, deadline_s: float,
               ) -> tuple[list[Result], dict[str, float]]:
    """Every phase, one after the other; returns the results and the start-up times."""
    results: list[Result] = []
    starts: dict[str, float] = {}
    results.append(phase_load(src, args, deadline_s))
    info(results[-1].line())
    results.append(phase_consume_only(src, args, deadline_s))
    info(results[-1].line())
    results.append(phase_produce_only(dst, args, deadline_s))
    info(results[-1].line())
    naive, starts["naive"] = phase_naive(src, dst, args, deadline_s)
    results.append(naive)
    info(naive.line())
    if not args.skip_ksync:
        for res, start in phase_ksync(src, dst, args, deadline_s):
            results.append(res)
            starts[res.name] = start
    return results, starts


def report(results: list[Result], starts: dict[str, float]) -> None:
    by_name = {r.name: r for r in results}
    # Rates from the first record on: the engine without the start-up (the group join).
    steady = {name: by_name[name].records / max(by_name[name].seconds - start, 1e-9)
              for name, start in starts.items()}
    print()
    for name, start in starts.items():
        print(f"info: {name}: first record on the target after {start:.1f} s (group join, "
              f"start-up), {steady[name]:.0f} rec/s from then on")
    print()
    for r in results:
        print(r.line())
    if "ksync" in by_name:
        ks = by_name["ksync"].rate
        bound = min(by_name["consume-only"].rate, by_name["produce-only"].rate)
        print(f"{'ksync/naive':<23} = {ks / by_name['naive'].rate:.2f}")
        print(f"ksync/min(consume,produce) = {ks / bound:.2f}")
        if "ksync no-metrics" in by_name:
            print(f"{'ksync/ksync no-metrics':<23} = {ks / by_name['ksync no-metrics'].rate:.2f}"
                  "   (the cost of measuring)")
        # The same ratios without the start-up, so a reader can tell the engine's speed
        # from the fixed cost of joining; not the goal's figures.
        if "naive" in steady:
            print(f"{'steady ksync/naive':<23} = {steady['ksync'] / steady['naive']:.2f}"
                  "   (from the first record on)")
            print(f"steady ksync/min(consume,produce) = {steady['ksync'] / bound:.2f}")
    sys.stdout.flush()


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    deadline_s = args.deadline if args.deadline else 120 + args.records / 2000
    # SIGTERM (a CI timeout, `kill`) unwinds like Ctrl-C, so every child process is stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    print(f"ksync throughput: {args.records} records x {args.size} B values, "
          f"{args.partitions} partitions, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.2f} (other processes on the machine skew every figure), "
          f"session timeout {args.session_timeout_ms} ms for naive and ksync, "
          f"Apache Kafka {KAFKA_VERSION}", flush=True)
    failure: str | None = None
    with kafka_clusters("bench-src", "bench-dst", heap_mb=BROKER_HEAP_MB) as brokers:
        src, dst = brokers[0].bootstrap, brokers[1].bootstrap
        info(f"source cluster {src}, target cluster {dst}")
        # Failures are caught inside the `with`: leaving the except block drops the
        # traceback, and with it every Kafka client of the failed phase, before the brokers
        # stop (otherwise the clients log connection errors at teardown).
        try:
            results, starts = run_phases(src, dst, args, deadline_s)
        except BenchError as exc:
            failure = f"bench FAILED: {exc}"
        except KeyboardInterrupt:
            failure = "bench interrupted"
    if failure is not None:
        print(f"\n{failure}", file=sys.stderr)
        return 130 if failure == "bench interrupted" else 1
    info(f"load average at the end {os.getloadavg()[0]:.2f}")
    report(results, starts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
