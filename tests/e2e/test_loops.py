"""A sync loop end to end: A->B and B->A on the same topic names (empty prefix).

Each record crosses once: once both tasks committed the end of their sources, both sides
hold exactly the N records first written to A and the M first written to B, none twice; every copy carries `ksync-origin` =
the cluster it was first written to, and originals carry none. The task closing the cycle
is accepted with a warning.
"""

from __future__ import annotations

from collections import Counter

from helpers import add_instance, create_topic, producer, task_body, wait_status, wait_until

from .support import ORIGIN, count_now, origin_of, read_now

PARTITIONS = 3


def _produce(broker, topic: str, tag: str, start: int, count: int) -> None:
    p = producer(broker)
    for i in range(start, start + count):
        p.produce(
            topic,
            f"{tag}-{i}".encode(),
            f"key-{i % 17}".encode(),
            partition=i % PARTITIONS,
            headers=[("app", tag.encode())],
        )
    assert p.flush(30) == 0


def test_two_way_sync_copies_each_record_once(brokers, folder_server, unique):
    a, b = brokers
    topic = f"loop.events.{unique}"  # the same name on both clusters, new to both
    for broker in (a, b):
        create_topic(broker, topic, PARTITIONS)
    _produce(a, topic, "A", 0, 300)
    _produce(b, topic, "B", 0, 200)

    client = folder_server.client()
    ia, ib = add_instance(client, a), add_instance(client, b)
    body = task_body(ia, ib, name=f"a-to-b-{unique}", topics=[topic])
    response = client.post("/api/v1/tasks", json=body)
    assert response.status_code == 202, response.text
    a_to_b = response.json()["id"]
    body = task_body(ib, ia, name=f"b-to-a-{unique}", topics=[topic])
    response = client.post("/api/v1/tasks", json=body)
    assert response.status_code == 202, response.text
    b_to_a = response.json()["id"]
    assert any("loop" in w and a_to_b in w for w in response.json()["warnings"]), response.json()[
        "warnings"
    ]

    wait_status(client, a_to_b, "Running")
    wait_status(client, b_to_a, "Running")
    _produce(a, topic, "A", 300, 200)  # and more while both run
    _produce(b, topic, "B", 200, 100)
    n, m = 500, 300

    total = n + m

    def settled() -> bool:
        """Both sides hold every record, and each task committed the end of its source:
        every record there, originals and copies alike, was copied or skipped, so a loop
        would already show as a record too many."""
        committed = [
            sum(p["committed_offset"] or 0 for p in client.get(f"/api/v1/tasks/{t}").json()["progress"])
            for t in (a_to_b, b_to_a)
        ]
        counts = (count_now(a, topic, PARTITIONS), count_now(b, topic, PARTITIONS))
        assert max(counts) <= total, f"records on (A, B): {counts}, more than the {total} written"
        return committed == [total, total] and counts == (total, total)

    wait_until(settled, timeout_s=60, what=f"{total} records on each side, all committed")
    assert (count_now(a, topic, PARTITIONS), count_now(b, topic, PARTITIONS)) == (total, total)

    for here, there, tag in ((a, b, "A"), (b, a, "B")):
        msgs = [msg for msgs in read_now(here, topic, PARTITIONS).values() for msg in msgs]
        values = Counter(msg.value() for msg in msgs)
        twice = {v: c for v, c in values.items() if c > 1}
        assert not twice, f"{here.cluster_id}: records present more than once: {twice}"
        expected = {f"A-{i}".encode() for i in range(n)} | {f"B-{i}".encode() for i in range(m)}
        assert set(values) == expected
        for msg in msgs:
            written_here = msg.value().startswith(tag.encode())
            want_origin = None if written_here else there.cluster_id.encode()
            assert origin_of(msg) == want_origin, (
                f"{here.cluster_id}: {msg.value()} has {msg.headers()}"
            )
            assert [k for k, _ in msg.headers()].count(ORIGIN) == (0 if written_here else 1)

    task = client.get(f"/api/v1/tasks/{b_to_a}").json()
    assert any("loop" in w and a_to_b in w for w in task["warnings"]), task["warnings"]
    wait_until(
        lambda: any(
            "loop" in w and b_to_a in w
            for w in client.get(f"/api/v1/tasks/{a_to_b}").json()["warnings"]
        ),
        what="the loop warning on the first task too",
    )
    for task_id in (a_to_b, b_to_a):  # the server is shared: leave no loop behind
        assert client.delete(f"/api/v1/tasks/{task_id}").status_code == 202
