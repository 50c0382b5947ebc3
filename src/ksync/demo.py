"""`ksync demo`: two local Kafka instances, a ksync server and a task copying two topics
while a producer keeps writing to the source. Ctrl-C stops every process it started."""

from __future__ import annotations

import contextlib
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
    producer.flush(10)


def _count(broker: LocalBroker, topics: dict[str, int]) -> int:
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "demo-counter", "log_level": 2})
    try:
        total = 0
        for topic, partitions in topics.items():
            for p in range(partitions):
                with contextlib.suppress(Exception):
                    total += consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=2)[1]
        return total
    finally:
        consumer.close()


def _post(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, json=body)
    if response.status_code >= 400:
        raise RuntimeError(f"POST {path} answered {response.status_code}: {response.text}")
    return response.json()  # type: ignore[no-any-return]


def run_demo(port: int = 8080, rate: int = 200) -> int:
    """Run the demo until Ctrl-C; returns the exit code."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with tempfile.TemporaryDirectory(prefix="ksync-demo-") as data_dir, local_brokers(
        "demo-guangzhou", "demo-shanghai"
    ) as (source, target):
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
            wait_for_port(port, timeout_s=30)
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
                targets = {f"gz.{t}": n for t, n in DEMO_TOPICS.items()}
                while not stop.wait(5):
                    status = client.get(f"/api/v1/tasks/{task['id']}").json()["status"]
                    print(f"status {status:<11} produced {produced[0]:>8}  on target {_count(target, targets):>8}", flush=True)
        except KeyboardInterrupt:
            pass
        finally:
            stop.set()
            producer.join(timeout=10) if producer.is_alive() else None
            stop_process(server, timeout_s=30)
            print("demo stopped: server and brokers are down", flush=True)
    return 0
