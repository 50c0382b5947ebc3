"""Metrics against known traffic, and Prometheus exposition parsed by the client's parser."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
from helpers import (
    KsyncServer,
    add_instance,
    create_topic,
    producer,
    read_all,
    task_body,
    wait_status,
    wait_until,
)
from prometheus_client.parser import text_string_to_metric_families

from ksync.devkafka import KafkaCluster

VALUE = b"m" * 100


def produce_steadily(broker: KafkaCluster, topic: str, partitions: int, total: int, rate: int) -> None:
    """`total` records of 100 bytes at about `rate` records/s, spread over partitions."""
    p = producer(broker)
    tick = 0.05
    per_tick = max(1, int(rate * tick))
    sent = 0
    start = time.monotonic()
    while sent < total:
        for _ in range(min(per_tick, total - sent)):
            p.produce(topic, VALUE, partition=sent % partitions)
            sent += 1
        p.poll(0)
        time.sleep(max(0.0, start + sent / rate - time.monotonic()))
    p.flush()


def task_metrics(client: httpx.Client, task_id: str) -> dict[str, Any]:
    return client.get(f"/api/v1/tasks/{task_id}").json()["metrics"] or {}


def test_metrics_count_known_traffic_exactly_and_rates_within_tolerance(
    folder_server: KsyncServer, brokers: tuple[KafkaCluster, KafkaCluster], unique: str
) -> None:
    src, dst = brokers
    topic = f"known-{unique}"
    create_topic(src, topic, 3)
    total, rate = 4000, 200  # 20 s: the 10 s rate window is full for the last 10 s
    with folder_server.client() as client:
        a, b = add_instance(client, src), add_instance(client, dst)
        task = client.post("/api/v1/tasks", json=task_body(a, b, topics=[topic])).json()
        wait_status(client, task["id"], "Running")

        rates: list[float] = []
        sampler_stop = threading.Event()

        def sample() -> None:
            # Only once the 10 s window lies wholly inside the production period.
            if sampler_stop.wait(13):
                return
            while not sampler_stop.wait(1):
                rates.append(task_metrics(client, task["id"]).get("records_per_s", 0.0))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            produce_steadily(src, topic, 3, total, rate)
        finally:
            sampler_stop.set()
            sampler.join()

        done = wait_until(
            lambda: (m := task_metrics(client, task["id"])).get("records_total") == total and m,
            timeout_s=60,
            what="records_total to reach the records produced",
        )
        assert done["bytes_total"] == total * len(VALUE)
        assert done["lag"] == 0
        assert done["latency_ms"]["p50"] is not None and done["latency_ms"]["p50"] > 0
        assert done["latency_ms"]["p50"] <= done["latency_ms"]["p99"] <= done["latency_ms"]["max"]
        # The last sample may straddle the end of production.
        assert len(rates) >= 4 and all(0.8 * rate <= r <= 1.2 * rate for r in rates[:-1]), rates

        # The 10 s history: one series per partition, rates near a third of the total each.
        history = client.get(
            f"/api/v1/tasks/{task['id']}/metrics", params={"since": 600, "step": 10, "by": "partition"}
        ).json()
        assert {(s["topic"], s["partition"]) for s in history["series"]} == {(topic, p) for p in range(3)}
        peak = max(pt["records_per_s"] for pt in history["total"])
        assert 0.75 * rate <= peak <= 1.35 * rate, history["total"]
        for s in history["series"]:
            assert max(pt["records_per_s"] for pt in s["points"]) <= 1.35 * rate / 3 + 5

        traffic = client.get(f"/api/v1/instances/{a}/traffic").json()
        assert [t["task_id"] for t in traffic["read"]["by_task"]] == [task["id"]]
        assert traffic["written"]["by_task"] == []


def test_lag_follows_a_throttled_backlog(
    folder_server: KsyncServer, brokers: tuple[KafkaCluster, KafkaCluster], unique: str
) -> None:
    src, dst = brokers
    topic = f"backlog-{unique}"
    create_topic(src, topic, 1)
    p = producer(src)
    for _ in range(3000):
        p.produce(topic, VALUE, partition=0)
    assert p.flush(30) == 0
    total = 3000
    with folder_server.client() as client:
        a, b = add_instance(client, src), add_instance(client, dst)
        body = task_body(a, b, topics=[topic], target={"topic_prefix": "bl"}, options={"qps_limit": 100})
        task = client.post("/api/v1/tasks", json=body).json()
        wait_status(client, task["id"], "Running")
        # A full 10 s rate window of throttled copying: 1,200 records at the 100/s limit
        # (reached much sooner if the limit does not hold, which the rate check catches).
        wait_until(
            lambda: task_metrics(client, task["id"]).get("records_total", 0) >= 1200,
            timeout_s=60,
            what="12 s of copying at 100 records/s",
        )
        m = task_metrics(client, task["id"])
        t = client.get(f"/api/v1/tasks/{task['id']}").json()
        copied = sum(x["committed_offset"] for x in t["progress"])
        # Lag = what the source holds minus what is committed, within one report interval.
        assert abs(m["lag"] - (total - m["records_total"])) <= 150, (m, copied)
        assert 60 <= m["records_per_s"] <= 140, m
        assert t["limits"]["qps_limit"] == 100 and t["limits"]["throttled"] is True
        client.delete(f"/api/v1/tasks/{task['id']}")


def test_prometheus_exposition_parses_and_counts(
    folder_server: KsyncServer, brokers: tuple[KafkaCluster, KafkaCluster], unique: str
) -> None:
    src, dst = brokers
    topic = f"prom-{unique}"
    create_topic(src, topic, 2)
    p = producer(src)
    for i in range(500):
        p.produce(topic, VALUE, partition=i % 2)
    assert p.flush(30) == 0
    with folder_server.client() as client:
        a, b = add_instance(client, src), add_instance(client, dst)
        task = client.post(
            "/api/v1/tasks", json=task_body(a, b, topics=[topic], target={"topic_prefix": "pm"})
        ).json()
        wait_status(client, task["id"], "Running")
        read_all(dst, f"pm.{topic}", 2, 500)

        def scrape() -> dict[str, Any]:
            text = client.get("/metrics").text
            return {f.name: f for f in text_string_to_metric_families(text)}

        def counted() -> Any:
            fams = scrape()
            samples = [
                s for s in fams["ksync_records"].samples
                if s.name == "ksync_records_total" and s.labels["task"] == task["id"]
            ]
            return sum(s.value for s in samples) == 500 and (fams, samples)

        fams, samples = wait_until(counted, timeout_s=30, what="ksync_records_total to reach 500")
        assert {(s.labels["source_topic"], s.labels["target_topic"], s.labels["partition"]) for s in samples} == {
            (topic, f"pm.{topic}", "0"),
            (topic, f"pm.{topic}", "1"),
        }
        byte_samples = [s for s in fams["ksync_bytes"].samples if s.labels.get("task") == task["id"]]
        assert [s.value for s in byte_samples if s.name == "ksync_bytes_total"] == [500 * len(VALUE)]
        status = {
            s.labels["status"]: s.value
            for s in fams["ksync_task_status"].samples
            if s.labels["task"] == task["id"]
        }
        assert status["Running"] == 1 and sum(status.values()) == 1
        hist = fams["ksync_replication_latency_seconds"]
        count = [s.value for s in hist.samples if s.name.endswith("_count") and s.labels["task"] == task["id"]]
        assert count and count[0] > 0
        assert any(s.value == 1 for s in fams["ksync_worker_up"].samples)
        lag = [s for s in fams["ksync_lag_records"].samples if s.labels["task"] == task["id"]]
        assert lag and all(s.value == 0 for s in lag)
