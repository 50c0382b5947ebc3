"""A crash end to end: the server is SIGKILLed mid-sync and started again on its data dir.

120,000 records (each value unique: `partition:sequence`) over 4 partitions. The server is
killed once roughly a third of them are on the target, then started again on the same data
directory and port. At least once, no loss: every source record ends up on the target in
its partition, in source order once repeats are set aside; repeats (records after the last
committed offset, copied again) are counted and printed — run pytest with -s to see them.
"""

from __future__ import annotations

import time

from helpers import add_instance, create_topic, producer, task_body, wait_status, wait_until

from .support import Tail

TOPIC, PARTITIONS, TOTAL = "crash.data", 4, 120_000
PAD = b"." * 80


def _value(partition: int, seq: int) -> bytes:
    return b"%d:%07d:" % (partition, seq) + PAD


def test_sigkill_mid_sync_loses_nothing(brokers, server):
    source, target = brokers
    create_topic(source, TOPIC, PARTITIONS)
    p = producer(source)
    for i in range(TOTAL):
        part = i % PARTITIONS
        p.produce(TOPIC, _value(part, i // PARTITIONS), b"key-%d" % (i % 1000), partition=part)
        if i % 50_000 == 0:
            p.poll(0)
    assert p.flush(60) == 0
    per_partition = TOTAL // PARTITIONS
    expected = {part: [_value(part, s) for s in range(per_partition)] for part in range(PARTITIONS)}

    client = server.client()
    src, dst = add_instance(client, source), add_instance(client, target)
    response = client.post("/api/v1/tasks", json=task_body(src, dst, topics=[TOPIC]))
    assert response.status_code == 202, response.text
    task_id = response.json()["id"]

    with Tail(target, TOPIC, PARTITIONS) as tail:
        arrived = wait_until(
            lambda: (n := tail.poll(0.05)) >= TOTAL // 3 and n,
            timeout_s=90,
            interval_s=0,
            what=f"a third of {TOTAL} records on the target",
        )
        started = time.monotonic()
        server.kill()
        arrived = tail.poll(0.5)
        print(f"\nkilled with {arrived} of {TOTAL} records on the target")
        assert arrived < TOTAL, "the server was killed after the sync had finished: nothing tested"

        server.start()
        assert wait_status(client, task_id, "Running", timeout_s=60)["error"] is None

        def complete() -> bool:
            tail.poll(0.5)
            return all(set(tail.values[part]) >= set(expected[part]) for part in range(PARTITIONS)) and len(
                tail.at_end
            ) == PARTITIONS

        wait_until(complete, timeout_s=120, interval_s=0, what=f"all {TOTAL} records on the target after the restart")
        print(f"sync finished {time.monotonic() - started:.1f}s after the kill")

    total = sum(map(len, tail.values.values()))
    dups = total - TOTAL
    print(f"duplicates after crash: {dups}")
    assert dups < TOTAL
    for part in range(PARTITIONS):
        got = tail.values[part]
        assert not set(got) - set(expected[part]), f"partition {part}: records that are not the source's"
        assert list(dict.fromkeys(got)) == expected[part], f"partition {part}: order differs from the source"
