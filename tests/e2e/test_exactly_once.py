"""Exactly-once end to end: the server is SIGKILLed while a task with `options.delivery:
exactly_once` copies 200,000 records, and started again on its data dir. A read_committed
reader of the target then holds each source record exactly once: per partition the same
values in the same order, no duplicate, no gap (at-least-once would repeat the records
after the last commit, as tests/e2e/test_crash.py counts).
"""

from __future__ import annotations

from helpers import add_instance, create_topic, producer, task_body, wait_status, wait_until

from .support import Tail

PARTITIONS, TOTAL = 4, 200_000


def _value(partition: int, seq: int) -> bytes:
    return b"%d:%07d:" % (partition, seq) + b"." * 80


def test_sigkill_of_the_server_mid_sync_copies_each_record_exactly_once(brokers, server, unique):
    source, target = brokers
    topic = f"eos.data.{unique}"
    create_topic(source, topic, PARTITIONS)
    per_partition = TOTAL // PARTITIONS
    expected = {p: [_value(p, s) for s in range(per_partition)] for p in range(PARTITIONS)}
    p = producer(source)
    for seq in range(per_partition):
        for part in range(PARTITIONS):
            p.produce(topic, expected[part][seq], partition=part)
        if seq % 10_000 == 0:
            p.poll(0)
    assert p.flush(60) == 0

    client = server.client()
    src, dst = add_instance(client, source), add_instance(client, target)
    body = task_body(src, dst, topics=[topic], options={"delivery": "exactly_once"})
    response = client.post("/api/v1/tasks", json=body)
    assert response.status_code == 202, response.text
    task_id = response.json()["id"]
    assert response.json()["options"]["delivery"] == "exactly_once"

    with Tail(target, topic, PARTITIONS) as tail:  # read_committed, librdkafka's default
        wait_until(
            lambda: tail.poll(0.05) >= TOTAL // 4,
            timeout_s=120,
            interval_s=0,
            what=f"a quarter of {TOTAL} records on the target",
        )
        server.kill()
        arrived = tail.poll(0.5)
        print(f"\nkilled with {arrived} of {TOTAL} records visible on the target")
        assert arrived < TOTAL, "the kill came after the sync had finished: nothing tested"
        server.start()

        def complete() -> bool:
            tail.poll(0.5)
            return sum(map(len, tail.values.values())) >= TOTAL and len(tail.at_end) == PARTITIONS

        wait_until(complete, timeout_s=180, interval_s=0, what=f"all {TOTAL} records after the restart")
        assert wait_status(client, task_id, "Running")["error"] is None

        def all_committed() -> bool:
            progress = client.get(f"/api/v1/tasks/{task_id}").json()["progress"]
            return len(progress) == PARTITIONS and all(
                e["committed_offset"] == per_partition for e in progress
            )

        # Every transaction that could hold a repeat is committed by now, so visible.
        wait_until(all_committed, timeout_s=60, what="the progress of every partition at its end")
        wait_until(complete, timeout_s=60, interval_s=0, what="the target read to its end again")
    for part in range(PARTITIONS):
        got = tail.values[part]
        assert len(got) == per_partition, f"partition {part}: {len(got) - per_partition} duplicates"
        assert got == expected[part], f"partition {part}: differs from the source"
