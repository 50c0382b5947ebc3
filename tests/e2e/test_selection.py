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
from .topics_support import (
    MAX_LAG,
    ONE_DAY,
    TWO_DAYS,
    broker_setting,
    get_task,
    produce,
    start_task,
    tagged,
    topic_layout,
    values_now,
    wait_values,
    warning_about,
)

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


def test_a_newly_matched_topic_the_target_refuses_blocks_alone_then_copies_everything(
    brokers, server, unique
):
    """Point 8's first case: a regex task over three topics, the third created on the
    source while the task runs, with a config the target refuses (its brokers bound
    max.compaction.lag.ms below the topic's min.compaction.lag.ms, see
    test_config_propagation). That topic alone is blocked, with its error on the topic
    and a warning on the task, which stays Running while the two others keep flowing;
    once the target accepts the topic it is created and copied from its first record,
    every record in order, with nothing lost."""
    source, target = brokers
    first, second, late = (f"nm-{unique}-{n}" for n in ("a", "b", "c"))
    for topic in (first, second):
        create_topic(source, topic, 2)
    client = server.client()
    task_id = start_task(client, source, target, topic_regex=rf"nm-{unique}-.*")
    wait_status(client, task_id, "Running", timeout_s=90)
    before = {t: tagged(t, range(2), 5) for t in (first, second)}
    for topic, records in before.items():
        produce(source, topic, records)
        wait_values(target, topic, records)

    with broker_setting(target, MAX_LAG, ONE_DAY):
        create_topic(source, late, 3, configs={"min.compaction.lag.ms": TWO_DAYS})
        late_records = tagged("late", range(3), 4)
        produce(source, late, late_records)

        def blocked() -> dict[str, dict[str, object]] | None:
            topics = {t["source"]: t for t in get_task(client, task_id)["topics"]}
            return topics if topics.get(late, {}).get("state") == "blocked" else None

        topics = wait_until(blocked, timeout_s=60, what=f"{late} blocked on the task")
        assert f"cannot create topic {late}" in str(topics[late]["error"]), topics[late]
        assert "min.compaction.lag.ms" in str(topics[late]["error"]), topics[late]
        assert {topics[t]["state"] for t in (first, second)} == {"syncing"}, topics
        # The two others keep flowing while it is blocked.
        during = {t: {p: v + [f"{t}-more-{p}".encode()] for p, v in r.items()} for t, r in before.items()}
        for topic, records in during.items():
            produce(source, topic, {p: [v[-1]] for p, v in records.items()})
            wait_values(target, topic, records)
        task = get_task(client, task_id)
        assert task["status"] == "Running" and task["error"] is None, task
        assert warning_about(client, task_id, f"cannot create topic {late}") is not None, task
        assert topic_layout(target, late) is None

    # The target accepts it now: created at a refresh and copied from its first record.
    wait_values(target, late, late_records)
    assert topic_layout(target, late) == (3, 1)
    task = wait_status(client, task_id, "Running", timeout_s=90)
    assert {t["source"]: t["state"] for t in task["topics"]} == {
        first: "syncing", second: "syncing", late: "syncing"
    }
    wait_until(
        lambda: warning_about(client, task_id, late) is None, timeout_s=60, what="the warning cleared"
    )
    for topic, records in during.items():
        assert values_now(target, topic, 2) == records
