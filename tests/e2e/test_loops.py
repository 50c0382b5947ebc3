"""A sync loop end to end: A->B and B->A on the same topic names (empty prefix).

Each record crosses once: after settling, both sides hold exactly the N records first
written to A and the M first written to B, none twice; every copy carries `ksync-origin` =
the cluster it was first written to, and originals carry none. The task closing the cycle
is accepted with a warning.
"""

from __future__ import annotations

from collections import Counter

from helpers import add_instance, create_topic, producer, task_body, wait_status, wait_until

from .support import ORIGIN, count_now, origin_of, read_now, settled

TOPIC, PARTITIONS = "loop.events", 3


def _produce(broker, tag: str, start: int, count: int) -> None:
    p = producer(broker)
    for i in range(start, start + count):
        p.produce(
            TOPIC,
            f"{tag}-{i}".encode(),
            f"key-{i % 17}".encode(),
            partition=i % PARTITIONS,
            headers=[("app", tag.encode())],
        )
    assert p.flush(30) == 0


def test_two_way_sync_copies_each_record_once(brokers, server):
    a, b = brokers
    for broker in (a, b):
        create_topic(broker, TOPIC, PARTITIONS)
    _produce(a, "A", 0, 300)
    _produce(b, "B", 0, 200)

    client = server.client()
    ia, ib = add_instance(client, a), add_instance(client, b)
    response = client.post("/api/v1/tasks", json=task_body(ia, ib, name="a-to-b", topics=[TOPIC]))
    assert response.status_code == 202, response.text
    a_to_b = response.json()["id"]
    response = client.post("/api/v1/tasks", json=task_body(ib, ia, name="b-to-a", topics=[TOPIC]))
    assert response.status_code == 202, response.text
    b_to_a = response.json()["id"]
    assert any("loop" in w and a_to_b in w for w in response.json()["warnings"]), response.json()[
        "warnings"
    ]

    wait_status(client, a_to_b, "Running")
    wait_status(client, b_to_a, "Running")
    _produce(a, "A", 300, 200)  # and more while both run
    _produce(b, "B", 200, 100)
    n, m = 500, 300

    counts = settled(
        lambda: (count_now(a, TOPIC, PARTITIONS), count_now(b, TOPIC, PARTITIONS)),
        (n + m, n + m),
        quiet_s=4.0,
        timeout_s=60.0,
        what=f"{n + m} records on each side",
    )
    assert counts == (n + m, n + m), f"records on (A, B) after settling: {counts}"

    for here, there, tag in ((a, b, "A"), (b, a, "B")):
        msgs = [msg for msgs in read_now(here, TOPIC, PARTITIONS).values() for msg in msgs]
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
