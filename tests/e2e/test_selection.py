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

SEP = "-"


def _fill(broker, topic: str, partitions: int, count: int = 20) -> None:
    p = producer(broker)
    for i in range(count):
        p.produce(topic, b"%s-%d" % (topic.encode(), i), b"k%d" % i, partition=i % partitions)
    assert p.flush(30) == 0


def test_list_regex_exclude_prefix_and_new_topics(brokers, folder_server, unique):
    source, target = brokers
    prefix = f"gz{unique}"  # every target name of this test starts with it

    def _named(topic: str) -> str:
        return f"{prefix}{SEP}{topic}"

    sel, listed = f"sel{unique}", f"listed{unique}"
    layout = {
        f"{sel}.orders": 2,  # regex
        f"{sel}.payments": 1,  # regex
        f"{sel}.orders.tmp": 1,  # regex, but excluded
        listed: 3,  # explicit list
        f"{listed}.tmp": 1,  # explicit list, but excluded
        f"__{sel}.internal": 1,  # regex matches the name, but internal topics never sync
        f"other{unique}": 1,  # not selected at all
    }
    for topic, partitions in layout.items():
        create_topic(source, topic, partitions)
        _fill(source, topic, partitions)
    synced = {f"{sel}.orders", f"{sel}.payments", listed}

    client = folder_server.client()
    src, dst = add_instance(client, source), add_instance(client, target)
    body = task_body(
        src,
        dst,
        topics=[listed, f"{listed}.tmp"],
        topic_regex=rf"(__)?{sel}\..*",
        exclude_regex=r".*\.tmp",
        target={"topic_prefix": prefix, "separator": SEP},
    )
    response = client.post("/api/v1/tasks", json=body)
    assert response.status_code == 202, response.text
    task_id = response.json()["id"]
    task = wait_status(client, task_id, "Running")
    syncing = [t for t in task["topics"] if t["state"] == "syncing"]
    assert sorted((t["source"], t["target"], t["partitions"]) for t in syncing) == sorted(
        (t, _named(t), layout[t]) for t in synced
    )
    # Named in the list but left out by the exclude rule: shown as such, not silently dropped.
    assert [t["source"] for t in task["topics"] if t["state"] == "excluded"] == [f"{listed}.tmp"]
    for topic in synced:
        got = read_all(target, _named(topic), layout[topic], 20)
        values = sorted(m.value() for msgs in got.values() for m in msgs)
        assert values == sorted(b"%s-%d" % (topic.encode(), i) for i in range(20)), topic
    on_target = partition_counts(target)
    assert {t for t in on_target if t.startswith(prefix)} == {_named(t) for t in synced}, on_target
    assert not {t for t in on_target if t in layout}, f"unprefixed topics on target: {on_target}"

    # Topics created while the task runs: the matching one is picked up by itself, with its
    # records; the excluded one, created at the same moment, is not.
    late = f"{sel}.late"
    create_topic(source, f"{late}.tmp", 1)
    create_topic(source, late, 2)
    _fill(source, late, 2, 30)
    _fill(source, f"{late}.tmp", 1)
    wait_until(
        lambda: any(
            t["source"] == late for t in client.get(f"/api/v1/tasks/{task_id}").json()["topics"]
        ),
        timeout_s=30,
        what=f"{late} in the task's topics",
    )
    got = read_all(target, _named(late), 2, 30)
    assert sorted(m.value() for msgs in got.values() for m in msgs) == sorted(
        b"%s-%d" % (late.encode(), i) for i in range(30)
    )
    assert partition_counts(target)[_named(late)] == 2
    task = client.get(f"/api/v1/tasks/{task_id}").json()
    assert sorted(t["source"] for t in task["topics"] if t["state"] == "syncing") == sorted(
        synced | {late}
    )
    assert _named(f"{late}.tmp") not in partition_counts(target)
    wait_status(client, task_id, "Running")
