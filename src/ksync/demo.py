"""`ksync demo`: two local Kafka instances, a ksync server and a task copying two topics
while a producer keeps writing to the source. Ctrl-C stops every process it started, in a
bounded time: a part that does not stop in its time is killed, with a line saying so."""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import tempfile
import threading
import time
from typing import Any

import httpx
from confluent_kafka import Consumer, Producer, TopicPartition

from ksync.devkafka import LocalBroker, local_brokers, spawn, stop_process, wait_for_port
from ksync.kafka.admin import InstanceAdmin, NewTopicPlan
from ksync.spec import Connection

DEMO_TOPICS = {"orders": 4, "payments": 2}
# What each part of the shutdown may take before it is killed: the producer flushes for up
# to PRODUCER_FLUSH_S; the server commits its members' progress (against tansu, which
# holds group joins, that can take long); each broker has its own 5 s (`LocalBroker.stop`).
PRODUCER_FLUSH_S = 10
SERVER_STOP_S = 30

log = logging.getLogger("ksync.demo")


def _produce_forever(broker: LocalBroker, rate: int, stop: threading.Event, count: list[int]) -> None:
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 20, "log_level": 2})
    n = 0
    tick = 0.1
    per_tick = max(1, rate // 10)
    while not stop.is_set():
        started = time.monotonic()
        for _ in range(per_tick):
            topic = "orders" if n % 3 else "payments"
            producer.produce(
                topic,
                value=f'{{"id": {n}, "amount": {n % 997}.{n % 100:02d}}}'.encode(),
                key=f"customer-{n % 50}".encode(),
                headers=[("source", b"demo-producer")],
            )
            n += 1
        producer.poll(0)
        count[0] = n
        stop.wait(max(0.0, tick - (time.monotonic() - started)))
    left = producer.flush(PRODUCER_FLUSH_S)
    if left:
        log.warning("demo producer: %d records not delivered at shutdown", left)


def _count(broker: LocalBroker, topics: dict[str, int], stop: threading.Event) -> int:
    """Records on `broker` in `topics` (sum of high watermarks); stops early on `stop`."""
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "demo-counter", "log_level": 2})
    try:
        total = 0
        for topic, partitions in topics.items():
            for p in range(partitions):
                if stop.is_set():
                    return total
                # A partition not readable yet (the task just created its topic) counts 0.
                with contextlib.suppress(Exception):
                    total += consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=2)[1]
        return total
    finally:
        consumer.close()


def _status_line(client: httpx.Client, task_id: str, produced: int, target: LocalBroker,
                 stop: threading.Event) -> str:
    targets = {f"gz.{t}": n for t, n in DEMO_TOPICS.items()}
    try:
        status = client.get(f"/api/v1/tasks/{task_id}", timeout=5).json()["status"]
    except httpx.HTTPError as exc:
        status = f"unknown ({exc.__class__.__name__}: {exc})"
    return f"status {status:<11} produced {produced:>8}  on target {_count(target, targets, stop):>8}"


def _post(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, json=body)
    if response.status_code >= 400:
        raise RuntimeError(f"POST {path} answered {response.status_code}: {response.text}")
    return response.json()  # type: ignore[no-any-return]


def run_demo(port: int = 8080, rate: int = 200) -> int:
    """Run the demo until Ctrl-C (SIGINT) or SIGTERM; returns the exit code.

    Both signals only set `stop`, through a handler of our own: Python raises
    KeyboardInterrupt only if SIGINT was not ignored when it started, and a shell starts
    background jobs (a test run in the background included) with SIGINT ignored, so the
    demo never heard Ctrl-C. A flag also keeps the signal from landing in the middle of
    the shutdown, which runs in the `finally` below with a bound on every part.
    """
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    stop = threading.Event()

    def _on_signal(signum: int, _frame: object) -> None:
        if stop.is_set():
            print(f"demo: already stopping (within about {PRODUCER_FLUSH_S + SERVER_STOP_S + 10} s)",
                  flush=True)
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    with tempfile.TemporaryDirectory(prefix="ksync-demo-", ignore_cleanup_errors=True) as data_dir, \
            local_brokers("demo-guangzhou", "demo-shanghai") as (source, target):
        admin = InstanceAdmin(Connection(instance_id="demo", bootstrap_servers=source.bootstrap))
        admin.create_topics(
            [NewTopicPlan(t, n, 1, {"retention.ms": "86400000"}) for t, n in DEMO_TOPICS.items()]
        )
        # In its own session (`spawn`): Ctrl-C reaches only the demo, which stops the server
        # after its last status line, instead of the server vanishing under that line.
        server = spawn(
            [sys.executable, "-m", "ksync", "server", "--host", "127.0.0.1", "--port", str(port),
             "--data-dir", data_dir, "--topic-refresh-interval", "5"],
            stdout=None,
        )
        produced = [0]
        producer = threading.Thread(target=_produce_forever, args=(source, rate, stop, produced), daemon=True)
        try:
            wait_for_port(port, timeout_s=30, proc=server)
            base = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base, timeout=30) as client:
                src = _post(client, "/api/v1/instances", {
                    "name": "source", "bootstrap_servers": source.bootstrap,
                    "region": "ap-guangzhou", "zone": "ap-guangzhou-3"})
                dst = _post(client, "/api/v1/instances", {
                    "name": "target", "bootstrap_servers": target.bootstrap,
                    "region": "ap-shanghai", "zone": "ap-shanghai-2"})
                producer.start()
                task = _post(client, "/api/v1/tasks", {
                    "name": "demo-gz-to-sh",
                    "source": {"instance_id": src["id"], "topics": list(DEMO_TOPICS)},
                    "target": {"instance_id": dst["id"], "topic_prefix": "gz", "separator": "."},
                    "options": {"task_max": 1}})
                print(f"""
ksync demo is running.
  console / API : {base}/   (OpenAPI: {base}/openapi.json)
  source        : {src['id']}  {source.bootstrap}  ap-guangzhou
  target        : {dst['id']}  {target.bootstrap}  ap-shanghai
  task          : {task['id']}  orders, payments -> gz.orders, gz.payments

Try:
  curl -s {base}/api/v1/tasks/{task['id']} | python3 -m json.tool
  curl -s {base}/api/v1/instances/{dst['id']}/topics
  curl -s {base}/api/v1/instances

Press Ctrl-C to stop everything.
""", flush=True)
                while not stop.wait(5):
                    print(_status_line(client, task["id"], produced[0], target, stop), flush=True)
        finally:
            stop.set()
            print("demo: stopping the producer, the server and the brokers", flush=True)
            if producer.is_alive():
                producer.join(timeout=PRODUCER_FLUSH_S + 5)
                if producer.is_alive():
                    log.warning("the demo producer did not stop within %d s: left to exit with the demo",
                                PRODUCER_FLUSH_S + 5)
            if not stop_process(server, timeout_s=SERVER_STOP_S):
                log.warning("the server did not stop cleanly within %d s: killed", SERVER_STOP_S)
    print("demo stopped: server and brokers are down", flush=True)
    return 0
