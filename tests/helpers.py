"""Kafka helpers for tests: topics, producers, reading everything back, polling."""

from __future__ import annotations

import contextlib
import gc
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Self

import httpx
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from ksync.devkafka import KafkaCluster, stop_process
from ksync.kafka.admin import InstanceAdmin, NewTopicPlan
from ksync.spec import Connection
from ksync.store.sealed import Sealer

# Members' session timeout in tests: a dead member's partitions move within seconds (the
# test brokers allow sessions from 1 s: group.min.session.timeout.ms).
TEST_SESSION_TIMEOUT_MS = 6000


# The secret key of stores a test builds from an engine (`Store(engine, SEALER)`).
SEALER = Sealer(os.urandom(32), "the tests' key")


def admin(broker: KafkaCluster) -> InstanceAdmin:
    return InstanceAdmin(Connection(instance_id=broker.cluster_id, bootstrap_servers=broker.bootstrap))


def create_topic(broker: KafkaCluster, name: str, partitions: int, configs: dict[str, str] | None = None) -> None:
    """Create a topic and wait until the broker lists it: Kafka answers CreateTopics once
    the controller committed it, a moment before the broker's metadata shows it."""
    client = admin(broker)
    client.create_topics([NewTopicPlan(name, partitions, 1, configs or {})])
    wait_until(lambda: name in client.list_topics(include_internal=True), timeout_s=30, what=f"topic {name}")


def delete_topic(broker: KafkaCluster, name: str) -> None:
    """Delete a topic and wait until the broker no longer lists it."""
    client = AdminClient({"bootstrap.servers": broker.bootstrap, "log_level": 3})
    client.delete_topics([name])[name].result(timeout=30)
    wait_until(
        lambda: name not in client.list_topics(timeout=10).topics,
        timeout_s=30,
        what=f"topic {name} to be deleted",
    )


class CheckedProducer(Producer):
    """A test's producer whose flush() fails when a record was not delivered: flush()
    alone only says the queue is empty, and a refused record would show up later as a
    puzzling "records lost" in whatever the test checks next."""

    def __init__(self, conf: dict[str, Any]) -> None:
        self.failures: list[str] = []
        super().__init__({"delivery.report.only.error": True, "on_delivery": self._failed, **conf})

    def _failed(self, err: KafkaError | None, msg: Any) -> None:
        if err is not None:
            self.failures.append(f"{msg.topic()}[{msg.partition()}]: {err}")

    def flush(self, *args: Any, **kwargs: Any) -> int:
        left: int = super().flush(*args, **kwargs)
        assert not self.failures, f"{len(self.failures)} records not delivered: {self.failures[:3]}"
        return left


def producer(broker: KafkaCluster, **conf: Any) -> Producer:
    """A test's producer. Idempotent: a plain one retries a batch refused right after its
    topic was created (no leader yet) behind later batches, so the *source* held records
    out of order and order tests blamed the copy (seen as a partition's first records
    landing after the rest, on a topic the test had just created)."""
    return CheckedProducer(
        {
            "bootstrap.servers": broker.bootstrap,
            "enable.idempotence": True,
            "linger.ms": 5,
            "queue.buffering.max.messages": 2_000_000,
            "log_level": 3,
            **conf,
        }
    )


def read_all(
    broker: KafkaCluster, topic: str, partitions: int, expected: int, timeout_s: float = 60.0
) -> dict[int, list[Any]]:
    """Every record of `topic` per partition, waiting until `expected` arrived in total.

    Returns {partition: [Message]}; fails with the count seen if the deadline passes.
    """
    consumer = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "log_level": 3,
        }
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    out: dict[int, list[Any]] = {p: [] for p in range(partitions)}
    seen = 0
    deadline = time.monotonic() + timeout_s
    try:
        while seen < expected:
            if time.monotonic() > deadline:
                raise AssertionError(f"{topic}: {seen} of {expected} records after {timeout_s}s")
            for msg in consumer.consume(10_000, 0.5):
                if msg.error() is None:
                    out[msg.partition()].append(msg)
                    seen += 1
        # Anything beyond `expected` (duplicates) that is already there.
        for msg in consumer.consume(10_000, 1.0):
            if msg.error() is None:
                out[msg.partition()].append(msg)
    finally:
        consumer.close()
    return out


def wait_until(predicate: Callable[[], Any], timeout_s: float = 30.0, interval_s: float = 0.2, what: str = "") -> Any:
    """Poll `predicate` until it returns something truthy; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what or predicate}; last={last!r}")


class KsyncServer:
    """A `ksync server` subprocess on a free port, with an HTTP client.

    Uses short intervals so tests converge fast: topic refresh 1 s, worker timeout 5 s
    (override with `args`).
    """

    def __init__(self, data_dir: str, *args: str, port: int | None = None, ca_file: str | None = None) -> None:
        """`ca_file`: the server runs with --tls-cert/--tls-key (in `args`) and this CA
        signed its certificate: it is reached over https, verified."""
        from ksync.devkafka import free_port

        self.data_dir = data_dir
        self.ca_file = ca_file
        self.port = port or free_port()
        self.args = list(args)
        self.process: Any = None
        self.log_path = f"{data_dir}/server-{self.port}.log"

    @property
    def url(self) -> str:
        return f"{'https' if self.ca_file else 'http'}://127.0.0.1:{self.port}"

    @property
    def verify(self) -> Any:
        """What httpx verifies the server with: the test CA over https."""
        import ssl

        return ssl.create_default_context(cafile=self.ca_file) if self.ca_file else True

    def start(self) -> KsyncServer:
        import subprocess
        import sys

        import httpx

        defaults = {
            "--topic-refresh-interval": "1",
            "--worker-timeout": "5",
        }
        args = list(self.args)
        for flag, value in defaults.items():
            if flag not in args:
                args += [flag, value]
        log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ksync", "server", "--host", "127.0.0.1", "--port", str(self.port),
             "--data-dir", self.data_dir, *args],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        # Generous: the wait ends as soon as the server answers, and on a loaded machine
        # its imports alone took 30 s once (the test then failed on a healthy server).
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1, verify=self.verify).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                # A server that starts after all must not outlive the test that gave up.
                self.kill()
                raise RuntimeError(f"ksync server did not start; log:\n{self.log()}")
            time.sleep(0.1)

    def log(self) -> str:
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def client(self) -> Any:
        import httpx

        return httpx.Client(base_url=self.url, timeout=30, verify=self.verify)

    def stop(self) -> None:
        """SIGTERM (clean: members commit), then SIGKILL if it hangs."""
        proc, self.process = self.process, None
        if proc is not None:
            stop_process(proc)

    def kill(self) -> None:
        """SIGKILL: the crash case."""
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()


def add_instance(client: Any, broker: KafkaCluster, name: str | None = None) -> str:
    """Register `broker` through the API; returns the instance id."""
    response = client.post(
        "/api/v1/instances", json={"name": name or broker.cluster_id, "bootstrap_servers": broker.bootstrap}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def task_body(src: str, dst: str, name: str | None = None, **source: Any) -> dict[str, Any]:
    """A TaskSpec body; `source` keys override the source section (topics, topic_regex …)."""
    target = source.pop("target", {})
    options = source.pop("options", {})
    return {
        "name": name or f"task-{uuid.uuid4().hex[:6]}",
        "source": {"instance_id": src, **source},
        "target": {"instance_id": dst, **target},
        "options": options,
    }


def wait_status(client: Any, task_id: str, status: str, timeout_s: float = 60.0) -> dict[str, Any]:
    """Poll GET /api/v1/tasks/{id} until it shows `status`; returns the task."""
    def check() -> Any:
        task = client.get(f"/api/v1/tasks/{task_id}").json()
        return task if task.get("status") == status else None

    return wait_until(check, timeout_s=timeout_s, what=f"task {task_id} to be {status}")  # type: ignore[no-any-return]


@contextlib.contextmanager
def running_server(data_dir: str, *args: str, ca_file: str | None = None) -> Iterator[KsyncServer]:
    """A started `KsyncServer`, stopped on exit (`ca_file`: served over https, see there).

    Afterwards the test process's own leftover Kafka clients are collected, so that they
    do not log connection errors when the brokers stop next.
    """
    srv = KsyncServer(data_dir, *args, ca_file=ca_file).start()
    try:
        yield srv
    finally:
        srv.stop()
        gc.collect()


def murmur2_partition(key: bytes, partitions: int) -> int:
    """Kafka's default partitioner (Utils.murmur2, toPositive, modulo), as Java computes it."""
    m, r, mask = 0x5BD1E995, 24, 0xFFFFFFFF
    length = len(key)
    h = (0x9747B28C ^ length) & mask
    for i in range(0, length - length % 4, 4):
        k = int.from_bytes(key[i : i + 4], "little")
        k = (k * m) & mask
        k ^= k >> r
        k = (k * m) & mask
        h = ((h * m) & mask) ^ k
    tail = length - length % 4
    extra = length % 4
    if extra == 3:
        h ^= key[tail + 2] << 16
    if extra >= 2:
        h ^= key[tail + 1] << 8
    if extra >= 1:
        h ^= key[tail]
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return (h & 0x7FFFFFFF) % partitions


class ApiWatch(threading.Thread):
    """A thread that GETs `path` from a running server every `interval_s` and hands each
    200 answer to `record()`, until `finish()`; use as a context manager. Subclasses keep
    what they need from each answer (under their own lock: tests read it meanwhile)."""

    path: str

    def __init__(self, base_url: str, name: str, interval_s: float) -> None:
        super().__init__(daemon=True, name=name)
        self.base_url, self.interval_s = base_url, interval_s
        self._halt = threading.Event()
        self._answered = threading.Condition()  # notified after each answer is recorded

    def record(self, body: Any) -> None:
        raise NotImplementedError

    def wait(self, holds: Callable[[], Any], timeout_s: float, failure: Callable[[], str]) -> Any:
        """Until `holds()` is truthy, checked after every answer; returns its value. On
        timeout fails with `failure()`, built then, from what the watch has seen."""
        deadline = time.monotonic() + timeout_s
        with self._answered:
            while not (result := holds()):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(failure())
                self._answered.wait(left)
        return result

    def run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=10) as client:
            while not self._halt.is_set():
                try:
                    r = client.get(self.path)
                except httpx.HTTPError:
                    r = None  # a server being restarted: keep watching
                if r is not None and r.status_code == 200:
                    self.record(r.json())
                    with self._answered:
                        self._answered.notify_all()
                self._halt.wait(self.interval_s)

    def finish(self) -> None:
        self._halt.set()
        self.join(15)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()


def member_processes(pid: int) -> list[int]:
    """The member processes (`ksync.worker.child`) that process `pid` started."""
    import subprocess

    out = subprocess.run(
        ["ps", "-o", "pid=,args=", "--ppid", str(pid)], capture_output=True, text=True, check=False
    ).stdout
    return [int(line.split()[0]) for line in out.splitlines() if "ksync.worker.child" in line]


def log_bytes(broker: KafkaCluster, topic: str, partitions: int) -> int:
    """The bytes of every log segment of `topic` on the broker's first node: how much it
    stores, so a test can tell compressed batches from plain ones."""
    from pathlib import Path

    data = Path(broker.nodes[0].folder, "data")
    return sum(f.stat().st_size for p in range(partitions) for f in (data / f"{topic}-{p}").glob("*.log"))
