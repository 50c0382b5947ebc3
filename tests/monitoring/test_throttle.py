"""Traffic limits hold against real brokers: task MB/s, records/s changed live, instance quota.

A rate is measured between two readings of the target's high watermarks: the first when
copying is under way, the second once the target gained a set number of records. The
tolerances are the limiter's (10 %; 20 % where several members or tasks share a limit).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

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
    """A backlog larger than the test moves: the limit, not the source, sets the pace."""
    create_topic(broker, topic, partitions)
    p = producer(broker, **{"batch.size": 1_000_000, "linger.ms": 20})
    for i in range(count):
        p.produce(topic, VALUE, partition=i % partitions)
        if i % 10_000 == 0:
            p.poll(0)
    assert p.flush(30) == 0


class Watermarks:
    """Counts the records on topics from their high watermarks (within a batch per
    partition), with one consumer kept open so each reading takes milliseconds."""

    def __init__(self, broker: KafkaCluster, topics: dict[str, int]) -> None:
        self.partitions = [TopicPartition(t, p) for t, n in topics.items() for p in range(n)]
        self._consumer = Consumer(
            {"bootstrap.servers": broker.bootstrap, "group.id": "watermarks", "log_level": 2}
        )

    def count(self) -> int:
        return sum(
            self._consumer.get_watermark_offsets(tp, timeout=5, cached=False)[1]
            for tp in self.partitions
        )

    def close(self) -> None:
        self._consumer.close()


@contextmanager
def watermarks(broker: KafkaCluster, topics: dict[str, int]) -> Iterator[Watermarks]:
    marks = Watermarks(broker, topics)
    try:
        yield marks
    finally:
        marks.close()


def rate_while_gaining(marks: Watermarks, records: int, timeout_s: float = 120) -> float:
    """Records per second while the target gains `records` more records."""
    start, began = marks.count(), time.monotonic()
    end = wait_until(
        lambda: (n := marks.count()) >= start + records and n,
        timeout_s=timeout_s,
        interval_s=0.05,
        what=f"{records} more records on the target",
    )
    return float(end - start) / (time.monotonic() - began)


def test_a_1_mb_s_limit_moves_10_mb_in_10_s_within_10_percent(
    brokers: tuple[KafkaCluster, KafkaCluster], folder_server: KsyncServer, unique: str
) -> None:
    src, dst = brokers
    topic = f"big-{unique}"
    fill(src, topic, 4, 15_000)  # 15 MB waiting
    with folder_server.client() as client, watermarks(dst, {topic: 4}) as marks:
        a, b = add_instance(client, src), add_instance(client, dst)
        # Two members: each takes its share of the limit by the partitions it owns.
        body = task_body(a, b, topics=[topic], options={"throttle_mb_s": 1, "task_max": 2})
        task = client.post("/api/v1/tasks", json=body).json()

        def owned() -> list[int]:
            workers = client.get("/api/v1/workers").json()["workers"]
            return sorted(m["partitions"] for w in workers for m in w["members"] if m["task_id"] == task["id"])

        # The first member to join may own every partition for a moment (and the task
        # show Running): measure once the second one has its half.
        wait_until(lambda: owned() == [2, 2], timeout_s=60, what="two members owning two partitions each")
        wait_until(marks.count, timeout_s=60, what=f"data on the target's {topic}")
        mb_s = rate_while_gaining(marks, 10_000) * len(VALUE) / 1_000_000
        assert 0.9 <= mb_s <= 1.1, f"{mb_s:.3f} MB/s at a 1 MB/s limit"
        assert owned() == [2, 2], "the members' partitions moved during the measurement"
        t = client.get(f"/api/v1/tasks/{task['id']}").json()
        assert t["limits"]["throttle_mb_s"] == 1 and t["warnings"] == []
        client.delete(f"/api/v1/tasks/{task['id']}")  # its backlog would compete with the next test


def test_a_limit_changed_on_a_running_task_applies_without_a_restart(
    brokers: tuple[KafkaCluster, KafkaCluster], folder_server: KsyncServer, unique: str
) -> None:
    src, dst = brokers
    topic = f"live-{unique}"
    fill(src, topic, 2, 15_000)
    with folder_server.client() as client, watermarks(dst, {topic: 2}) as marks:
        a, b = add_instance(client, src), add_instance(client, dst)
        body = task_body(a, b, topics=[topic], options={"qps_limit": 200})
        task = client.post("/api/v1/tasks", json=body).json()
        wait_status(client, task["id"], "Running")
        wait_until(marks.count, timeout_s=60, what=f"data on the target's {topic}")
        slow = rate_while_gaining(marks, 800)  # 4 s at the limit
        assert 160 <= slow <= 240, slow

        r = client.patch(f"/api/v1/tasks/{task['id']}", json={"options": {"qps_limit": 1000}})
        assert r.status_code == 200 and r.json()["limits"]["qps_limit"] == 1000
        # The worker hands its members the new share at its next heartbeat.
        wait_until(
            lambda: rate_while_gaining(marks, 300) > 400, what="the rate to rise above the old limit"
        )
        fast = rate_while_gaining(marks, 3_000)  # 3 s at the new limit
        assert 800 <= fast <= 1200, fast
        events = client.get(f"/api/v1/tasks/{task['id']}/events").json()["events"]
        assert not any("restart" in e["message"] for e in events), events
        assert client.get(f"/api/v1/tasks/{task['id']}").json()["status"] == "Running"
        client.delete(f"/api/v1/tasks/{task['id']}")


def test_an_instance_quota_caps_all_sync_traffic_into_it(
    brokers: tuple[KafkaCluster, KafkaCluster], folder_server: KsyncServer, unique: str
) -> None:
    src, dst = brokers
    q1, q2 = f"q1-{unique}", f"q2-{unique}"
    fill(src, q1, 2, 8_000)
    fill(src, q2, 2, 8_000)
    with folder_server.client() as client, watermarks(dst, {q1: 2, q2: 2}) as marks:
        a = add_instance(client, src)
        r = client.post(
            "/api/v1/instances",
            json={"name": f"capped-{unique}", "bootstrap_servers": dst.bootstrap, "sync_quota_mb_s": 0.5},
        )
        assert r.status_code == 201, r.text
        b = r.json()["id"]
        tasks = [
            client.post("/api/v1/tasks", json=task_body(a, b, topics=[topic])).json()["id"]
            for topic in (q1, q2)  # two tasks share the target's quota
        ]
        for task_id in tasks:
            wait_status(client, task_id, "Running")
        wait_until(marks.count, timeout_s=60, what="data on the target")
        mb_s = rate_while_gaining(marks, 3_000) * len(VALUE) / 1_000_000
        assert 0.4 <= mb_s <= 0.6, f"{mb_s:.3f} MB/s into an instance with a 0.5 MB/s quota"
        assert client.get(f"/api/v1/instances/{b}/traffic").json()["sync_quota_mb_s"] == 0.5
        for task_id in tasks:
            client.delete(f"/api/v1/tasks/{task_id}")
