"""Topic selection and naming end to end.

An explicit list, a regex and an exclude regex combined, internal (`__*`) topics never
synced, `prefix + separator + name` on the target, and a topic created after the task
started picked up by the periodic re-evaluation (every 1 s in tests) with its records.
"""

from __future__ import annotations

from helpers import (
    add_instance,
    create_topic,
    producer,
    read_all,
    task_body,
    wait_status,
    wait_until,
)

from .support import partition_counts

PREFIX, SEP = "gz", "-"


def _fill(broker, topic: str, partitions: int, count: int = 20) -> None:
    p = producer(broker)
    for i in range(count):
        p.produce(topic, b"%s-%d" % (topic.encode(), i), b"k%d" % i, partition=i % partitions)
    assert p.flush(30) == 0


def _named(topic: str) -> str:
    return f"{PREFIX}{SEP}{topic}"


def test_list_regex_exclude_prefix_and_new_topics(brokers, server):
    source, target = brokers
    layout = {
        "sel.orders": 2,  # regex
        "sel.payments": 1,  # regex
        "sel.orders.tmp": 1,  # regex, but excluded
        "listed": 3,  # explicit list
        "listed.tmp": 1,  # explicit list, but excluded
        "__sel.internal": 1,  # regex matches the name, but internal topics never sync
        "other": 1,  # not selected at all
    }
    for topic, partitions in layout.items():
        create_topic(source, topic, partitions)
        _fill(source, topic, partitions)
    synced = {"sel.orders", "sel.payments", "listed"}

    client = server.client()
    src, dst = add_instance(client, source), add_instance(client, target)
    body = task_body(
        src,
        dst,
        topics=["listed", "listed.tmp"],
        topic_regex=r"(__)?sel\..*",
        exclude_regex=r".*\.tmp",
        target={"topic_prefix": PREFIX, "separator": SEP},
    )
    response = client.post("/api/v1/tasks", json=body)
    assert response.status_code == 202, response.text
    task_id = response.json()["id"]
    task = wait_status(client, task_id, "Running")
    assert sorted((t["source"], t["target"], t["partitions"]) for t in task["topics"]) == sorted(
        (t, _named(t), layout[t]) for t in synced
    )
    for topic in synced:
        got = read_all(target, _named(topic), layout[topic], 20)
        values = sorted(m.value() for msgs in got.values() for m in msgs)
        assert values == sorted(b"%s-%d" % (topic.encode(), i) for i in range(20)), topic
    on_target = partition_counts(target)
    assert {t for t in on_target if t.startswith(PREFIX)} == {_named(t) for t in synced}, on_target
    assert not {t for t in on_target if t in layout}, f"unprefixed topics on target: {on_target}"

    # Topics created while the task runs: the matching one is picked up by itself, with its
    # records; the excluded one, created at the same moment, is not.
    create_topic(source, "sel.late.tmp", 1)
    create_topic(source, "sel.late", 2)
    _fill(source, "sel.late", 2, 30)
    _fill(source, "sel.late.tmp", 1)
    wait_until(
        lambda: any(
            t["source"] == "sel.late"
            for t in client.get(f"/api/v1/tasks/{task_id}").json()["topics"]
        ),
        timeout_s=30,
        what="sel.late in the task's topics",
    )
    got = read_all(target, _named("sel.late"), 2, 30)
    assert sorted(m.value() for msgs in got.values() for m in msgs) == sorted(
        b"sel.late-%d" % i for i in range(30)
    )
    assert partition_counts(target)[_named("sel.late")] == 2
    task = client.get(f"/api/v1/tasks/{task_id}").json()
    assert sorted(t["source"] for t in task["topics"]) == sorted(synced | {"sel.late"})
    assert _named("sel.late.tmp") not in partition_counts(target)
    wait_status(client, task_id, "Running")
