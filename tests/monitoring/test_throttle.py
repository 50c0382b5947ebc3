"""Traffic limits hold against real brokers: task MB/s, records/s changed live, instance quota."""

from __future__ import annotations

import time

from confluent_kafka import Consumer, TopicPartition
from helpers import (
    KsyncServer,
    add_instance,
    create_topic,
    producer,
    task_body,
    wait_status,
    wait_until,
)

from ksync.devkafka import KafkaCluster

VALUE = b"t" * 1000  # 1,000-byte records: bytes = records x 1,000


def fill(broker: KafkaCluster, topic: str, partitions: int, count: int) -> None:
    create_topic(broker, topic, partitions)
    p = producer(broker, **{"batch.size": 1_000_000, "linger.ms": 20})
    for i in range(count):
        p.produce(topic, VALUE, partition=i % partitions)
        if i % 10_000 == 0:
            p.poll(0)
    p.flush()


def records_on(broker: KafkaCluster, topic: str, partitions: int) -> int:
    """Records on a topic now, from the high watermarks (within a batch per partition)."""
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "count", "log_level": 2})
    try:
        return sum(
            c.get_watermark_offsets(TopicPartition(topic, p), timeout=5, cached=False)[1]
            for p in range(partitions)
        )
    finally:
        c.close()


def started(broker: KafkaCluster, topic: str, partitions: int) -> int:
    return wait_until(
        lambda: records_on(broker, topic, partitions), timeout_s=60, what=f"data on {topic}"
    )


def test_a_1_mb_s_limit_moves_20_mb_in_20_s_within_10_percent(
    fresh_brokers: tuple[KafkaCluster, KafkaCluster], server: KsyncServer
) -> None:
    src, dst = fresh_brokers
    fill(src, "big", 4, 60_000)  # 60 MB waiting: the limit, not the source, sets the pace
    with server.client() as client:
        a, b = add_instance(client, src), add_instance(client, dst)
        # One member: simultaneous joins can wedge the test broker's group; how a limit is
        # shared between members is tested in tests/replication/test_throttle.py.
        body = task_body(a, b, topics=["big"], options={"throttle_mb_s": 1})
        task = client.post("/api/v1/tasks", json=body).json()
        wait_status(client, task["id"], "Running")
        first = started(dst, "big", 4)
        time.sleep(20)
        moved_mb = (records_on(dst, "big", 4) - first) * len(VALUE) / 1_000_000
        assert 18.0 <= moved_mb <= 22.0, f"{moved_mb:.2f} MB in 20 s at a 1 MB/s limit"
        t = client.get(f"/api/v1/tasks/{task['id']}").json()
        assert t["limits"]["throttle_mb_s"] == 1 and t["warnings"] == []


def rate_over(broker: KafkaCluster, topic: str, partitions: int, seconds: float) -> float:
    before = records_on(broker, topic, partitions)
    time.sleep(seconds)
    return (records_on(broker, topic, partitions) - before) / seconds


def test_a_limit_changed_on_a_running_task_applies_without_a_restart(
    fresh_brokers: tuple[KafkaCluster, KafkaCluster], server: KsyncServer
) -> None:
    src, dst = fresh_brokers
    fill(src, "live", 2, 30_000)
    with server.client() as client:
        a, b = add_instance(client, src), add_instance(client, dst)
        body = task_body(a, b, topics=["live"], options={"qps_limit": 200})
        task = client.post("/api/v1/tasks", json=body).json()
        wait_status(client, task["id"], "Running")
        started(dst, "live", 2)
        slow = rate_over(dst, "live", 2, 8)
        assert 160 <= slow <= 240, slow

        r = client.patch(f"/api/v1/tasks/{task['id']}", json={"options": {"qps_limit": 1000}})
        assert r.status_code == 200 and r.json()["limits"]["qps_limit"] == 1000
        time.sleep(2)  # one heartbeat for the worker to hand members the new share
        fast = rate_over(dst, "live", 2, 8)
        assert 800 <= fast <= 1200, fast
        events = client.get(f"/api/v1/tasks/{task['id']}/events").json()["events"]
        assert not any("restart" in e["message"] for e in events), events
        assert client.get(f"/api/v1/tasks/{task['id']}").json()["status"] == "Running"


def test_an_instance_quota_caps_all_sync_traffic_into_it(
    fresh_brokers: tuple[KafkaCluster, KafkaCluster], server: KsyncServer
) -> None:
    src, dst = fresh_brokers
    fill(src, "q1", 2, 20_000)
    fill(src, "q2", 2, 20_000)
    with server.client() as client:
        a = add_instance(client, src)
        r = client.post(
            "/api/v1/instances",
            json={"name": "capped", "bootstrap_servers": dst.bootstrap, "sync_quota_mb_s": 0.5},
        )
        assert r.status_code == 201, r.text
        b = r.json()["id"]
        for topic in ("q1", "q2"):  # two tasks share the target's quota
            task = client.post("/api/v1/tasks", json=task_body(a, b, topics=[topic])).json()
            wait_status(client, task["id"], "Running")
        started(dst, "q1", 2)
        before = records_on(dst, "q1", 2) + records_on(dst, "q2", 2)
        time.sleep(10)
        after = records_on(dst, "q1", 2) + records_on(dst, "q2", 2)
        mb_s = (after - before) * len(VALUE) / 1_000_000 / 10
        assert 0.4 <= mb_s <= 0.6, f"{mb_s:.3f} MB/s into an instance with a 0.5 MB/s quota"
        assert client.get(f"/api/v1/instances/{b}/traffic").json()["sync_quota_mb_s"] == 0.5
