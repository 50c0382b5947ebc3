"""Support for lifecycle and scale-out tests: a steady producer, a reader that follows the
target, a watcher that records every status a task shows, and small checks.

Everything here talks to the brokers and the REST API from outside, never to ksync's own
code, so a test checks ksync's work with tools that do not share it.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from typing import Any, Self

import httpx
from confluent_kafka import Consumer, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient
from helpers import ApiWatch, producer

from ksync.devkafka import KafkaCluster

# A member hands at most this many records to the producer per batch (MemberConfig.batch_size):
# the most a clean stop (pause, restart) may repeat per member.
IN_FLIGHT_BATCH = 5_000


def value(tag: str, partition: int, seq: int) -> bytes:
    return f"{tag}:{partition}:{seq:07d}".encode()


def produce_now(
    broker: KafkaCluster, topic: str, partitions: int, tag: str, count: int
) -> dict[int, list[bytes]]:
    """`count` records per partition, valued `tag:p:seq`, acknowledged. Returns the values
    per partition."""
    p = producer(broker)
    out: dict[int, list[bytes]] = {part: [] for part in range(partitions)}
    for seq in range(count):
        for part in range(partitions):
            v = value(tag, part, seq)
            out[part].append(v)
            p.produce(topic, v, b"key-%d" % seq, partition=part)
    assert p.flush(30) == 0
    return out


class SteadyProducer(threading.Thread):
    """Writes `rate` records per second round-robin over the partitions until `stop()`.

    Values are unique (`tag:p:seq`); `sent` holds, per partition, those the broker
    acknowledged (each chunk is flushed before it counts). Pacing is a load generator's,
    not a wait.
    """

    def __init__(self, broker: KafkaCluster, topic: str, partitions: int, tag: str = "flow",
                 rate: int = 1_000, chunk: int = 50) -> None:
        super().__init__(daemon=True, name=f"producer-{topic}")
        self.broker, self.topic, self.partitions, self.tag = broker, topic, partitions, tag
        self.rate, self.chunk = rate, chunk
        self.sent: dict[int, list[bytes]] = {p: [] for p in range(partitions)}
        self.error: BaseException | None = None
        self._halt = threading.Event()
        self._lock = threading.Lock()

    @property
    def count(self) -> int:
        with self._lock:
            return sum(map(len, self.sent.values()))

    def run(self) -> None:
        try:
            p = producer(self.broker)
            began, seq = time.monotonic(), 0
            while not self._halt.is_set():
                chunk: list[tuple[int, bytes]] = []
                for _ in range(self.chunk):
                    part = seq % self.partitions
                    v = value(self.tag, part, seq // self.partitions)
                    p.produce(self.topic, v, b"key-%d" % (seq % 100), partition=part)
                    chunk.append((part, v))
                    seq += 1
                assert p.flush(30) == 0, "the source broker did not acknowledge a chunk"
                with self._lock:
                    for part, v in chunk:
                        self.sent[part].append(v)
                ahead = seq / self.rate - (time.monotonic() - began)
                if ahead > 0:
                    self._halt.wait(ahead)
        except BaseException as exc:  # noqa: BLE001 - reported in the test thread
            self.error = exc

    def finish(self) -> dict[int, list[bytes]]:
        """Stop, wait for the thread, fail on its error; returns what was sent."""
        self._halt.set()
        self.join(60)
        assert self.error is None, f"the producer failed: {self.error!r}"
        return self.sent


class Follow:
    """Reads `topic` from offset 0 and keeps every record's value per partition; `poll()`
    reads what is there now. Use as a context manager."""

    def __init__(self, broker: KafkaCluster, topic: str, partitions: int) -> None:
        self.partitions = partitions
        self.values: dict[int, list[bytes]] = {p: [] for p in range(partitions)}
        self._consumer = Consumer(
            {
                "bootstrap.servers": broker.bootstrap,
                "group.id": f"reader-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "log_level": 3,
            }
        )
        self._consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])

    def poll(self, timeout_s: float = 0.2) -> int:
        """Read what arrived; returns the number of records read so far."""
        for msg in self._consumer.consume(50_000, timeout_s):
            err = msg.error()
            if err is None:
                self.values[msg.partition()].append(msg.value())
            elif err.code() != KafkaError._PARTITION_EOF:
                raise AssertionError(f"reading the target failed: {err.str()}")
        return self.count

    @property
    def count(self) -> int:
        return sum(map(len, self.values.values()))

    def has_all(self, expected: dict[int, list[bytes]]) -> bool:
        """True once every expected value is there (reads first)."""
        self.poll(0.2)
        return all(set(self.values[p]) >= set(vs) for p, vs in expected.items())

    def wait_for(self, expected: dict[int, list[bytes]], timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not self.has_all(expected):
            if time.monotonic() > deadline:
                missing = {p: len(set(vs) - set(self.values[p])) for p, vs in expected.items()}
                raise AssertionError(f"records missing on the target after {timeout_s}s: {missing}")

    def duplicates(self) -> Counter[bytes]:
        """Values that arrived more than once, with their count."""
        c = Counter(v for vs in self.values.values() for v in vs)
        return Counter({v: n for v, n in c.items() if n > 1})

    def close(self) -> None:
        self._consumer.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def merge(*parts: dict[int, list[bytes]]) -> dict[int, list[bytes]]:
    out: dict[int, list[bytes]] = {}
    for d in parts:
        for p, vs in d.items():
            out.setdefault(p, []).extend(vs)
    return out


def check_order_and_dups(got: dict[int, list[bytes]], sent: dict[int, list[bytes]], bound: int) -> int:
    """Every sent record is there, in its partition and in source order once repeats are set
    aside, nothing else is; repeats are printed and at most `bound`. Returns the repeats."""
    dups = 0
    for part, expected in sent.items():
        values = got.get(part, [])
        assert not set(values) - set(expected), f"partition {part}: records that are not the source's"
        assert list(dict.fromkeys(values)) == expected, f"partition {part}: records missing or out of order"
        dups += len(values) - len(expected)
    print(f"\nrepeated records: {dups}")
    assert dups <= bound, f"{dups} records repeated, more than {bound}"
    return dups


class StatusWatch(ApiWatch):
    """Polls GET /api/v1/tasks/{id} every `interval_s` and keeps each change of status (with
    the error and warnings seen), so a test can check the path a task took."""

    def __init__(self, base_url: str, task_id: str, interval_s: float = 0.1) -> None:
        super().__init__(base_url, f"watch-{task_id}", interval_s)
        self.task_id, self.path = task_id, f"/api/v1/tasks/{task_id}"
        self.changes: list[tuple[float, str]] = []
        self.warnings: list[str] = []
        self.errors: list[str] = []

    def record(self, task: Any) -> None:
        if not self.changes or self.changes[-1][1] != task["status"]:
            self.changes.append((time.monotonic(), task["status"]))
        for w in task["warnings"]:
            if w not in self.warnings:
                self.warnings.append(w)
        if task["error"] and task["error"] not in self.errors:
            self.errors.append(task["error"])

    @property
    def statuses(self) -> list[str]:
        return [s for _, s in self.changes]

    def seen_after(self, since: float) -> list[tuple[float, str]]:
        return [(t - since, s) for t, s in self.changes if t >= since]


def assert_conflict(response: httpx.Response, task_id: str) -> str:
    """A 409 whose message is a sentence about the task; returns the message."""
    assert response.status_code == 409, f"expected 409, got {response.status_code}: {response.text}"
    error = response.json()["error"]
    assert error["code"] == "conflict"
    message = error["message"]
    assert task_id in message and len(message.split()) >= 4, f"not a sentence about the task: {message!r}"
    return str(message)


def consumer_groups(broker: KafkaCluster) -> set[str]:
    """Group ids the broker knows (ListGroups)."""
    client = AdminClient({"bootstrap.servers": broker.bootstrap, "log_level": 3})
    result = client.list_consumer_groups(request_timeout=10).result()
    return {g.group_id for g in result.valid}


def create_task(client: httpx.Client, body: dict[str, Any]) -> str:
    r = client.post("/api/v1/tasks", json=body)
    assert r.status_code == 202, r.text
    return str(r.json()["id"])
