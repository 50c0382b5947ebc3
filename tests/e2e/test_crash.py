"""A crash end to end: the server is SIGKILLed mid-sync and started again on its data dir;
or the server's member process is SIGKILLed and its worker starts the member again.

120,000 records (each value unique: `partition:sequence`) over 4 partitions, produced at a
steady rate while the task runs, so the server is killed in the middle of a live sync
(once about a third is on the target), with progress committed along the way. It is then
started again on the same data directory and port while the producer keeps going. At least
once, no loss: every source record ends up on the target in its partition, in source
order once repeats are set aside; repeats (records after the last committed offset,
copied again) are counted and printed — run pytest with -s to see them.
"""

from __future__ import annotations

import os
import signal
import threading
import time

from helpers import (
    add_instance,
    create_topic,
    member_processes,
    producer,
    task_body,
    wait_status,
    wait_until,
)

from .support import Tail

PARTITIONS, TOTAL = 4, 120_000
RATE = 20_000  # records per second: a sync of about 6 s, killed after about 2
PAD = b"." * 80


def _value(partition: int, seq: int) -> bytes:
    return b"%d:%07d:" % (partition, seq) + PAD


class PacedProducer(threading.Thread):
    """Produces the TOTAL records at RATE per second (a load generator's pacing, not a
    wait), flushing every chunk so they reach the broker as they go."""

    def __init__(self, broker, topic: str) -> None:
        super().__init__(daemon=True)
        self.broker, self.topic = broker, topic
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            p = producer(self.broker)
            began = time.monotonic()
            for chunk in range(0, TOTAL, 2_000):
                for i in range(chunk, chunk + 2_000):
                    part = i % PARTITIONS
                    p.produce(
                        self.topic, _value(part, i // PARTITIONS), b"key-%d" % (i % 1000), partition=part
                    )
                assert p.flush(30) == 0
                ahead = (chunk + 2_000) / RATE - (time.monotonic() - began)
                if ahead > 0:
                    time.sleep(ahead)
        except BaseException as exc:  # noqa: BLE001 - reported in the test thread
            self.error = exc


def test_sigkill_mid_sync_loses_nothing(brokers, server, unique):
    def crash(client, task_id):
        server.kill()
        return server.start

    _sync_through(crash, brokers, server, unique)


def test_a_member_process_killed_mid_sync_is_restarted_shows_why_and_loses_nothing(
    brokers, server, unique
):
    def crash(client, task_id):
        pids = member_processes(server.process.pid)
        assert pids, "the server runs no member process"
        for pid in pids:  # the member's, and any idle one beside it
            os.kill(pid, signal.SIGKILL)
        warning = wait_until(
            lambda: next(
                (w for w in client.get(f"/api/v1/tasks/{task_id}").json()["warnings"] if "SIGKILL" in w),
                None,
            ),
            timeout_s=30,
            interval_s=0.1,
            what="the task to say that its member process was killed",
        )
        assert any(str(pid) in warning for pid in pids), (pids, warning)
        # No recovery step: the server's worker restarts the member by itself.

    _sync_through(crash, brokers, server, unique)


def _sync_through(crash, brokers, server, unique):
    """Sync TOTAL records while `crash(client, task_id)` strikes a third of the way in;
    it returns what to call to recover, or None when ksync recovers alone."""
    source, target = brokers
    topic = f"crash.data.{unique}"
    create_topic(source, topic, PARTITIONS)
    per_partition = TOTAL // PARTITIONS
    expected = {part: [_value(part, s) for s in range(per_partition)] for part in range(PARTITIONS)}

    client = server.client()
    src, dst = add_instance(client, source), add_instance(client, target)
    response = client.post("/api/v1/tasks", json=task_body(src, dst, topics=[topic]))
    assert response.status_code == 202, response.text
    task_id = response.json()["id"]
    wait_status(client, task_id, "Running")

    load = PacedProducer(source, topic)
    load.start()
    with Tail(target, topic, PARTITIONS) as tail:
        wait_until(
            lambda: tail.poll(0.05) >= TOTAL // 3,
            timeout_s=60,
            interval_s=0,
            what=f"a third of {TOTAL} records on the target",
        )
        recover = crash(client, task_id)
        killed_at = time.monotonic()
        arrived = tail.poll(0.5)
        print(f"\nkilled with {arrived} of {TOTAL} records on the target")
        assert arrived < TOTAL, "the crash came after the sync had finished: nothing tested"
        if recover is not None:
            recover()

        def complete() -> bool:
            tail.poll(0.5)
            return len(tail.at_end) == PARTITIONS and all(
                set(tail.values[part]) >= set(expected[part]) for part in range(PARTITIONS)
            )

        wait_until(
            complete,
            timeout_s=120,
            interval_s=0,
            what=f"all {TOTAL} records on the target after the restart",
        )
        print(f"sync complete {time.monotonic() - killed_at:.1f}s after the kill")
    load.join(60)
    assert load.error is None, f"the producer failed: {load.error!r}"
    assert wait_status(client, task_id, "Running")["error"] is None

    total = sum(map(len, tail.values.values()))
    dups = total - TOTAL
    print(f"duplicates after crash: {dups}")
    assert dups < TOTAL
    for part in range(PARTITIONS):
        got = tail.values[part]
        assert not set(got) - set(expected[part]), (
            f"partition {part}: records that are not the source's"
        )
        assert list(dict.fromkeys(got)) == expected[part], (
            f"partition {part}: order differs from the source"
        )
