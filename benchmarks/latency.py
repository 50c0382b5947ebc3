"""Replication latency at a fixed rate: source CreateTime to readable on the target.

A window: a fresh source topic; the replicator starts on it and proves it copies (a probe
record arrives on the target); a reader starts in a process of its own, assigned to the
target topic from the beginning; then the load writes RATE records/s of SIZE bytes for
WARM s (not counted) and DURATION s (counted: only records created after the warm-up).
The reader polls ONE record at a time (`poll(timeout)`: `consume(N, timeout)` would add up
to its timeout to a record that waits for a batch to fill) and takes now - CreateTime per
record, both from this machine's realtime clock (1 ms resolution).

The floor is the same load read back from the source by the same reader: what the load
producer, the broker and the reader cost without any replicator.
Run as `python benchmarks/latency.py reader BOOTSTRAP TOPIC PARTITIONS COUNT SINCE_MS
TIMEOUT_S` it is the reader: prints READY once assigned, then one JSON line of results.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition
from harness import (
    BenchError,
    admin_client,
    create_topic,
    delete_topic,
    flush_all,
    make_producer,
    produce_retrying,
    value_pool,
    wait_for_partitions,
)
from load import HEADERS

# The load producer sends as soon as it can: its batching would be everyone's latency.
LOAD_PRODUCER = {"linger.ms": 1}


@dataclass
class Latency:
    name: str
    count: int
    p50: float
    p99: float
    max: float

    def line(self) -> str:
        return (f"{self.name:<22} {self.count:>7d} records  p50 {self.p50:7.1f} ms  "
                f"p99 {self.p99:7.1f} ms  max {self.max:7.1f} ms")


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


# --------------------------------------------------------------------------- reader process


def reader_main(argv: list[str]) -> int:
    bootstrap, topic, partitions, count, since_ms, timeout_s = argv
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "latency-reader",
                         "enable.auto.commit": False, "log_level": 3})
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(int(partitions))])
    consumer.poll(0)
    print("READY", flush=True)
    want, since = int(count), int(since_ms)
    deadline = time.monotonic() + float(timeout_s)
    lat: list[float] = []
    try:
        while len(lat) < want and time.monotonic() < deadline:
            msg = consumer.poll(0.1)
            if msg is None:
                continue
            now_ms = time.time() * 1000.0
            if msg.error() is not None:
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    continue
                print(json.dumps({"error": str(msg.error())}), flush=True)
                return 1
            ts = msg.timestamp()[1]
            if ts >= since:
                lat.append(now_ms - ts)
    finally:
        consumer.close()
    lat.sort()
    print(json.dumps({"count": len(lat), "p50": percentile(lat, 0.50),
                      "p99": percentile(lat, 0.99), "max": lat[-1] if lat else float("nan")}),
          flush=True)
    return 0


class Reader:
    """The reader in its own process; always stopped by `close()`."""

    def __init__(self, bootstrap: str, topic: str, partitions: int, count: int, since_ms: int,
                 timeout_s: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "reader", bootstrap, topic,
             str(partitions), str(count), str(since_ms), str(timeout_s)],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, start_new_session=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if line != "READY":
            self.close()
            raise BenchError(f"latency reader did not start (said {line!r})")

    def result(self, name: str, timeout_s: float) -> Latency:
        try:
            out, _ = self.proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise BenchError(f"{name}: the latency reader gave no result in {timeout_s:.0f} s") from None
        data = json.loads(out.strip().splitlines()[-1]) if out.strip() else {"error": "no output"}
        if "error" in data:
            raise BenchError(f"{name}: latency reader failed: {data['error']}")
        return Latency(name, data["count"], data["p50"], data["p99"], data["max"])

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


# --------------------------------------------------------------------------- load + windows


def fixed_rate(src: str, topic: str, rate: int, seconds: float, size: int, partitions: int) -> int:
    """Write `rate` records/s for `seconds`, paced per millisecond; returns the count."""
    producer, errors, failed = make_producer(src, "latency-load", **LOAD_PRODUCER)
    values = value_pool(size)
    mask = len(values) - 1
    total = int(rate * seconds)
    t0 = time.perf_counter()
    i = 0
    while i < total:
        due = min(total, int((time.perf_counter() - t0) * rate) + 1)
        while i < due:
            produce_retrying(producer, topic, values[i & mask], b"k%08d" % i,
                             partition=i % partitions, headers=HEADERS)
            i += 1
        producer.poll(0)
        # Sleep to the next record's due time (at 10k/s, a tenth of a millisecond).
        pause = t0 + i / rate - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
    flush_all(producer, "latency-load", time.monotonic() + 60)
    errors.check()
    if failed:
        raise BenchError(f"latency load: {len(failed)} records failed, first: {failed[0]}")
    return total


def wait_copying(src: str, dst: str, topic: str, target_topic: str, partitions: int,
                 check: Callable[[], None], deadline_s: float) -> None:
    """Block until the replicator copies: a probe record on every source partition shows
    up on the target. The reader skips probes (they predate the measured window)."""
    deadline = time.monotonic() + deadline_s
    wait_for_partitions(admin_client(dst), target_topic, partitions, deadline, check)
    producer, _errors, _failed = make_producer(src, "latency-probe")
    for p in range(partitions):
        producer.produce(topic, b"probe", b"probe", partition=p)
    flush_all(producer, "latency-probe", deadline)
    from harness import closing_consumer, make_consumer
    consumer, _ = make_consumer(dst, "latency-probe")
    with closing_consumer(consumer):
        while True:
            ends = [consumer.get_watermark_offsets(TopicPartition(target_topic, p), timeout=10,
                                                   cached=False)[1] for p in range(partitions)]
            if all(e > 0 for e in ends):
                return
            check()
            if time.monotonic() > deadline:
                raise BenchError(f"{target_topic}: the replicator copied no probe by the deadline")
            time.sleep(0.1)


@dataclass
class WindowPlan:
    rate: int
    seconds: float
    warm_s: float
    size: int
    partitions: int


def window(name: str, src: str, dst: str, topic: str, plan: WindowPlan,
           replicator: Callable[[str], tuple[str, Callable[[], None], Callable[[], None]]] | None,
           ) -> Latency:
    """One latency window. `replicator(topic)` starts a replicator on `topic` and returns
    (target topic, liveness check, stop); None reads the source itself (the floor)."""
    create_topic(src, topic, plan.partitions)
    stop: Callable[[], None] = lambda: None
    reader: Reader | None = None
    try:
        if replicator is None:
            read_from, read_topic, check = src, topic, (lambda: None)
        else:
            read_topic, check, stop = replicator(topic)
            read_from = dst
            wait_copying(src, dst, topic, read_topic, plan.partitions, check, 120)
        # Probes and warm-up records are older than since_ms: read, not counted.
        since_ms = int((time.time() + plan.warm_s) * 1000) + 1
        count = int(plan.rate * plan.seconds)
        reader = Reader(read_from, read_topic, plan.partitions, count - plan.rate // 100,
                        since_ms, plan.warm_s + plan.seconds + 90)
        fixed_rate(src, topic, plan.rate, plan.warm_s + plan.seconds, plan.size, plan.partitions)
        check()
        return reader.result(name, 90)
    finally:
        if reader is not None:
            reader.close()
        stop()
        delete_topic(src, topic)
        if replicator is not None:
            with contextlib.suppress(Exception):
                delete_topic(dst, read_topic)


if __name__ == "__main__":
    if len(sys.argv) == 8 and sys.argv[1] == "reader":
        sys.exit(reader_main(sys.argv[2:]))
    sys.exit(f"usage: {sys.argv[0]} reader BOOTSTRAP TOPIC PARTITIONS COUNT SINCE_MS TIMEOUT_S")
