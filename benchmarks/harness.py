"""What every benchmark phase shares: librdkafka clients tuned alike, topics, the target
observer that decides when a copy is done, results, and CPU accounting of a process tree.

Nothing here measures on its own; the phase modules (load, reference_clients, mirrormaker,
ksync_runner, latency, far_target) do, and sync_throughput runs them in order.
"""

from __future__ import annotations

import contextlib
import os
import random
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

POLL_INTERVAL_S = 0.1
# A million 1 KB records fit in the page cache; the heap only holds requests in flight.
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


def info(msg: str) -> None:
    print(f"  {msg}", flush=True)


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


def make_producer(bootstrap: str, who: str, **extra: Any) -> tuple[Producer, ClientErrors, list[str]]:
    """A tuned producer; delivery failures are collected in the returned list."""
    errors = ClientErrors(who)
    failed: list[str] = []

    def on_delivery(err: KafkaError | None, _msg: Message) -> None:
        if err is not None:  # only errors are reported (delivery.report.only.error)
            failed.append(str(err))

    conf = base_conf(bootstrap, errors) | PRODUCER_TUNING | {"on_delivery": on_delivery} | extra
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


# --------------------------------------------------------------------------- topics


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


def wait_for_partitions(admin: AdminClient, topic: str, partitions: int, deadline: float,
                        check: Callable[[], None] | None = None) -> int:
    """Block until `topic` shows at least `partitions` partitions; return the count."""
    while True:
        md = admin.list_topics(timeout=10).topics.get(topic)
        if md is not None and md.error is None and len(md.partitions) >= partitions:
            return len(md.partitions)
        if check is not None:
            check()
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


def text_pool(size: int) -> list[bytes]:
    """4096 JSON-like values of `size` bytes: field names repeat, numbers vary, so they
    compress about like real event payloads (random bytes do not compress at all)."""
    rng = random.Random(7)
    pool = []
    for i in range(4096):
        parts = [f'{{"id":{i},"user":"user-{rng.randrange(10_000)}","event":"page_view"']
        while sum(map(len, parts)) < size:
            parts.append(f',"k{len(parts)}":"value-{rng.randrange(1_000_000)}"')
        pool.append(("".join(parts) + "}").encode()[:size])
    return pool


def partition_counts(records: int, partitions: int) -> dict[int, int]:
    """Records per partition when record i goes to partition i % partitions."""
    return {p: records // partitions + (1 if p < records % partitions else 0)
            for p in range(partitions)}


# --------------------------------------------------------------------------- CPU


CLK_TCK = os.sysconf("SC_CLK_TCK")


def _read_stat(pid: int) -> tuple[str, int, float] | None:
    """(comm, start time in ticks, utime+stime in seconds) of one process, None if gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm is in parentheses and may hold spaces: split after the last ')'.
    comm = raw[raw.index("(") + 1:raw.rindex(")")]
    rest = raw[raw.rindex(")") + 2:].split()
    # Fields after comm start at field 3 (state): utime=14, stime=15, starttime=22.
    return comm, int(rest[19]), (int(rest[11]) + int(rest[12])) / CLK_TCK


def _children(pid: int) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                out += [int(c) for c in Path(f"/proc/{pid}/task/{tid}/children").read_text().split()]
    return out


def _label(pid: int, comm: str) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return comm
    text = " ".join(a.decode(errors="replace") for a in argv if a)
    if "multiprocessing" in text:
        return f"{comm} (multiprocessing child)"
    if "ksync.worker.child" in text:
        return f"{comm} (ksync member child)"
    if " -m ksync" in text:
        return f"{comm} (ksync server)"
    return comm


@dataclass
class ProcCpu:
    pid: int
    label: str
    seconds: float


@dataclass
class CpuMeter:
    """CPU seconds (user + system) of a process and every descendant, brokers excluded.

    A thread samples the tree every `interval_s`, so a child that exits between two
    samples loses at most one interval of its CPU; /proc/<pid>/stat counts all threads of
    a process. `mark()` snapshots the tree; differences of marks give the CPU of a window.
    """

    root_pid: int
    interval_s: float = 0.2
    seen: dict[tuple[int, int], ProcCpu] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _thread: threading.Thread | None = None

    def start(self) -> CpuMeter:
        self.sample()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def sample(self) -> None:
        todo, found = [self.root_pid], []
        while todo:
            pid = todo.pop()
            stat = _read_stat(pid)
            if stat is None:
                continue
            found.append((pid, stat))
            todo += _children(pid)
        with self._lock:
            for pid, (comm, start, secs) in found:
                key = (pid, start)
                if key in self.seen:
                    self.seen[key].seconds = secs
                    if self.seen[key].seconds < 1.0:
                        # A child first seen between fork and exec still shows its
                        # parent's command line: name it again until it has worked.
                        self.seen[key].label = _label(pid, comm)
                else:
                    self.seen[key] = ProcCpu(pid, _label(pid, comm), secs)

    def mark(self) -> dict[tuple[int, int], float]:
        """Per-process CPU seconds now (exited processes keep their last sample)."""
        self.sample()
        with self._lock:
            return {k: v.seconds for k, v in self.seen.items()}

    def since(self, before: dict[tuple[int, int], float],
              after: dict[tuple[int, int], float]) -> list[ProcCpu]:
        """Per-process CPU between two marks, processes that did work first."""
        with self._lock:
            out = [ProcCpu(self.seen[k].pid, self.seen[k].label, secs - before.get(k, 0.0))
                   for k, secs in after.items()]
        return sorted((p for p in out if p.seconds > 0), key=lambda p: -p.seconds)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


# --------------------------------------------------------------------------- results


@dataclass
class Result:
    """One timed run. `seconds` is end to end; `steady_s` from the first record on the
    target to the last; CPU fields only for replicators (their own process tree)."""

    name: str
    records: int
    value_size: int
    seconds: float
    steady_s: float | None = None
    first_s: float | None = None  # from the start (task POST, JVM launch) to the first record
    cpu_s: float | None = None  # CPU of the replicator's tree over the steady window
    procs: list[ProcCpu] = field(default_factory=list)
    note: str = ""

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else float("inf")

    @property
    def steady_rate(self) -> float:
        s = self.steady_s if self.steady_s else self.seconds
        return self.records / s if s > 0 else float("inf")

    def mb(self, rate: float) -> float:
        return rate * self.value_size / 1e6

    @property
    def mb_per_core(self) -> float | None:
        """Value MB moved per CPU second of the replicator (steady window)."""
        if not self.cpu_s:
            return None
        return self.records * self.value_size / 1e6 / self.cpu_s

    def line(self) -> str:
        text = (f"{self.name:<22} {self.records:>8d} rec {self.seconds:6.1f} s "
                f"{self.rate:8.0f} rec/s {self.mb(self.rate):6.1f} MB/s")
        if self.steady_s is not None:
            text += (f" | steady {self.steady_rate:8.0f} rec/s "
                     f"{self.mb(self.steady_rate):6.1f} MB/s")
        if self.first_s is not None:
            text += f" | first {self.first_s:4.1f} s"
        if self.cpu_s is not None:
            text += f" | cpu {self.cpu_s:5.1f} s {self.mb_per_core or 0:6.1f} MB/s/core"
        return text + (f"  {self.note}" if self.note else "")


# --------------------------------------------------------------------------- observer


@dataclass
class Arrival:
    t_done: float
    t_first: float
    ends: dict[int, int]


def wait_on_target(
    dst: str, topic: str, expected: dict[int, int], deadline: float,
    check: Callable[[], None], who: str, on_first: Callable[[], None] | None = None,
) -> Arrival:
    """Block until target partition p holds expected[p] records, for every p.

    Kafka's high watermark is the end of what every in-sync replica has: acknowledged
    records. Polled uncached every 100 ms, so done is seen at most a poll late.
    `on_first` runs when the first record is seen (the CPU meter marks there).
    """
    total = sum(expected.values())
    admin = admin_client(dst)
    wait_for_partitions(admin, topic, len(expected), deadline, check)
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
                    # A topic just created: its leader may not be known everywhere yet
                    # (NOT_LEADER_FOR_PARTITION); the next poll asks again.
                    if exc.args[0].fatal() or exc.args[0].code() not in RETRIABLE:
                        raise BenchError(f"{who}: observer cannot read {topic}[{p}]: {exc}") from None
                    continue
                ends[p] = max(ends[p], hi)
            now = time.perf_counter()
            if t_first is None and sum(ends.values()) > 0:
                t_first = now
                if on_first is not None:
                    on_first()
            if all(ends[p] >= n for p, n in expected.items()):
                return Arrival(now, t_first or now, ends)
            errors.check()
            check()
            if time.monotonic() > deadline:
                arrived = sum(min(ends[p], n) for p, n in expected.items())
                raise BenchError(f"{who}: only {arrived} of {total} records arrived by the deadline")
            time.sleep(POLL_INTERVAL_S)
