"""Target topics by name end to end (`target.topic_map`): a rename and a 3->1 merge in one
task, a rename of a topic already copied, changed with PATCH, and a PATCH whose new name
the target refuses (the topic keeps flowing into its old target until it accepts it).

The merge runs without keep_partition, so the target partition of each record is its
key's (Kafka's default partitioner): every record of a key, whichever source topic it
came from, lands in one target partition, in the order it had on its source partition.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
from helpers import (
    KsyncServer,
    add_instance,
    create_topic,
    murmur2_partition,
    producer,
    read_all,
    task_body,
    wait_status,
    wait_until,
)

from ksync.devkafka import KafkaCluster

from .support import partition_counts, read_now
from .topics_support import (
    MAX_LAG,
    ONE_DAY,
    TWO_DAYS,
    broker_setting,
    get_task,
    produce,
    wait_values,
    warning_about,
)

KEYS = [f"key-{i}".encode() for i in range(12)]
PER_KEY = 15  # records per key and source topic


def fill(
    broker: KafkaCluster, topic: str, partitions: int, first: int = 0, rounds: int = PER_KEY
) -> list[bytes]:
    """`rounds` records per key (seq `first`...), keys spread over the partitions by a rule
    of the test's own (not the target's), values `topic:key:seq`; returns the values."""
    p = producer(broker)
    values = []
    for seq in range(first, first + rounds):
        for i, key in enumerate(KEYS):
            value = b"%s:%s:%d" % (topic.encode(), key, seq)
            p.produce(topic, value, key, partition=i % partitions)
            values.append(value)
    assert p.flush(30) == 0
    return values


@pytest.fixture
def tasks(folder_server: KsyncServer) -> Iterator[list[str]]:
    """Ids of the tasks a test created: deleted, and gone, at its end."""
    ids: list[str] = []
    yield ids
    client = folder_server.client()
    for task_id in ids:
        client.delete(f"/api/v1/tasks/{task_id}")
    for task_id in ids:

        def gone(t: str = task_id) -> bool:
            return client.get(f"/api/v1/tasks/{t}").status_code == 404

        wait_until(gone, timeout_s=120, what=f"task {task_id} deleted")


def values_of(msgs: dict[int, list[Any]]) -> list[bytes]:
    return [m.value() for batch in msgs.values() for m in batch]


def test_a_rename_and_a_three_to_one_merge(
    brokers: tuple[KafkaCluster, KafkaCluster],
    folder_server: KsyncServer,
    unique: str,
    tasks: list[str],
) -> None:
    source, target = brokers
    orders, plain = f"tm-orders-{unique}", f"tm-plain-{unique}"
    regions = {f"tm-eu-{unique}": 2, f"tm-us-{unique}": 3, f"tm-asia-{unique}": 1}
    backup, merged = f"tm-orders-bak-{unique}", f"tm-all-{unique}"
    create_topic(source, orders, 2)
    create_topic(source, plain, 1)
    for topic, partitions in regions.items():
        create_topic(source, topic, partitions)
    sent = {orders: fill(source, orders, 2), plain: fill(source, plain, 1)}
    for topic, partitions in regions.items():
        sent[topic] = fill(source, topic, partitions)

    client = folder_server.client()
    src, dst = add_instance(client, source), add_instance(client, target)
    topic_map = {orders: backup, **{topic: merged for topic in regions}}
    body = task_body(
        src,
        dst,
        topics=[orders, plain, *regions],
        target={"topic_prefix": "bk", "topic_map": topic_map, "keep_partition": False},
    )
    response = client.post("/api/v1/tasks", json=body)
    assert response.status_code == 202, response.text
    tasks.append(response.json()["id"])
    assert response.json()["target"]["topic_map"] == topic_map
    task = wait_status(client, tasks[0], "Running", timeout_s=120)
    assert sorted((t["source"], t["target"], t["state"]) for t in task["topics"]) == sorted(
        [(orders, backup, "syncing"), (plain, f"bk.{plain}", "syncing")]
        + [(topic, merged, "syncing") for topic in regions]
    )

    # The merged topic was created once, with room for its largest source (3 partitions).
    counts = partition_counts(target)
    assert counts[merged] == 3 and counts[backup] == 2 and counts[f"bk.{plain}"] == 1
    assert not {f"bk.{t}" for t in (orders, *regions)} & set(counts), counts

    assert sorted(values_of(read_all(target, backup, 2, len(sent[orders])))) == sorted(sent[orders])
    assert sorted(values_of(read_all(target, f"bk.{plain}", 1, len(sent[plain])))) == sorted(
        sent[plain]
    )
    expected = sorted(v for topic in regions for v in sent[topic])
    landed = read_all(target, merged, 3, len(expected))
    assert sorted(values_of(landed)) == expected  # every record once, nothing else
    order: dict[tuple[bytes, bytes], list[int]] = defaultdict(list)
    for partition, msgs in landed.items():
        for m in msgs:
            topic, key, seq = m.value().rsplit(b":", 2)
            assert m.key() == key
            # Spread by key: a key's records share a partition, whatever their source topic.
            assert partition == murmur2_partition(key, 3), (m.value(), partition)
            order[(topic, key)].append(int(seq))
    assert len(order) == len(regions) * len(KEYS)
    for seqs in order.values():
        assert seqs == list(range(PER_KEY)), seqs  # each key's order kept


def test_patch_renames_an_already_copied_topic(
    brokers: tuple[KafkaCluster, KafkaCluster],
    folder_server: KsyncServer,
    unique: str,
    tasks: list[str],
) -> None:
    """What was copied stays on the old target topic; the topic goes on from its committed
    progress into the new one: every record on exactly one of the two, none twice."""
    source, target = brokers
    orders = f"tmp-orders-{unique}"
    old, new = f"tmp-orders-bak-{unique}", f"tmp-orders-new-{unique}"
    create_topic(source, orders, 2)
    first = fill(source, orders, 2)
    client = folder_server.client()
    src, dst = add_instance(client, source), add_instance(client, target)
    body = task_body(src, dst, topics=[orders], target={"topic_map": {orders: old}})
    response = client.post("/api/v1/tasks", json=body)
    assert response.status_code == 202, response.text
    task_id = response.json()["id"]
    tasks.append(task_id)
    wait_status(client, task_id, "Running", timeout_s=120)
    assert sorted(values_of(read_all(target, old, 2, len(first)))) == sorted(first)

    # A bad name is refused at the edge, naming the field; nothing changes.
    bad = client.patch(f"/api/v1/tasks/{task_id}", json={"target": {"topic_map": {orders: "a b"}}})
    assert bad.status_code == 422, bad.text
    assert bad.json()["error"]["message"].startswith("target.topic_map: 'tmp-orders-"), bad.json()
    assert "use 1 to 249 of [A-Za-z0-9._-]" in bad.json()["error"]["message"]
    assert client.get(f"/api/v1/tasks/{task_id}").json()["target"]["topic_map"] == {orders: old}

    renamed = client.patch(
        f"/api/v1/tasks/{task_id}", json={"target": {"topic_map": {orders: new}}}
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["target"]["topic_map"] == {orders: new}

    def mapped() -> bool:
        topics = client.get(f"/api/v1/tasks/{task_id}").json()["topics"]
        return [(t["source"], t["target"], t["state"]) for t in topics] == [
            (orders, new, "syncing")
        ]

    wait_until(mapped, timeout_s=60, what="the task to map the topic to its new name")
    # Records sent while the member switches may still reach the old name: send a round
    # at a time until one reaches the new name; from then on the member writes there.
    second: list[bytes] = []

    def switched() -> bool:
        second.extend(fill(source, orders, 2, first=PER_KEY + len(second) // len(KEYS), rounds=1))
        return (
            sum(len(v) for v in read_now(target, new, 2).values()) > 0
            if new in partition_counts(target)
            else False
        )

    wait_until(switched, timeout_s=90, interval_s=0.5, what=f"records on {new}")
    third = fill(source, orders, 2, first=PER_KEY + len(second) // len(KEYS))
    everything = first + second + third

    def all_copied() -> bool:
        return sum(len(v) for v in read_now(target, old, 2).values()) + sum(
            len(v) for v in read_now(target, new, 2).values()
        ) >= len(everything)

    wait_until(all_copied, timeout_s=90, what="every record on the old or the new name")
    on_old = values_of(read_now(target, old, 2))
    on_new = values_of(read_now(target, new, 2))
    assert sorted(on_old + on_new) == sorted(everything)  # each record once, on one of them
    assert set(first) <= set(on_old)  # copied before the rename: stays where it was
    assert set(third) <= set(on_new)  # after the switch: only on the new name


def test_a_patched_name_the_target_refuses_keeps_the_topic_flowing_into_its_old_target(
    brokers: tuple[KafkaCluster, KafkaCluster],
    folder_server: KsyncServer,
    unique: str,
    tasks: list[str],
) -> None:
    """A PATCH that cannot be applied leaves the old configuration running: the target
    refuses to create the topic's new target (its brokers bound max.compaction.lag.ms
    below the topic's min.compaction.lag.ms), so the topic keeps flowing into its old
    target, with the refusal as a warning on the task and on the topic, the task Running.
    Once the target accepts it the rename takes effect: every record on exactly one of the
    two topics, the ones sent before in order on the old one."""
    source, target = brokers
    orders = f"ref-orders-{unique}"
    old, new = f"ref-orders-bak-{unique}", f"ref-orders-new-{unique}"
    create_topic(source, orders, 1, configs={"min.compaction.lag.ms": TWO_DAYS})
    client = folder_server.client()
    src, dst = add_instance(client, source), add_instance(client, target)
    body = task_body(src, dst, topics=[orders], target={"topic_map": {orders: old}})
    response = client.post("/api/v1/tasks", json=body)
    assert response.status_code == 202, response.text
    task_id = response.json()["id"]
    tasks.append(task_id)
    wait_status(client, task_id, "Running", timeout_s=120)
    first = [b"first-%d" % i for i in range(5)]
    produce(source, orders, {0: first})
    wait_values(target, old, {0: first})

    with broker_setting(target, MAX_LAG, ONE_DAY):
        renamed = client.patch(f"/api/v1/tasks/{task_id}", json={"target": {"topic_map": {orders: new}}})
        assert renamed.status_code == 200, renamed.text
        warning = wait_until(
            lambda: warning_about(client, task_id, f"cannot create topic {new}", f"flowing into {old}"),
            timeout_s=60,
            what="a warning that the new name is refused and the old one kept",
        )
        assert "The old configuration keeps running" in warning, warning
        task = get_task(client, task_id)
        (topic,) = task["topics"]
        assert (topic["target"], topic["state"], topic["error"]) == (old, "syncing", None), topic
        assert warning in topic["warnings"], topic
        assert task["status"] == "Running" and task["error"] is None, task
        second = [b"second-%d" % i for i in range(5)]
        produce(source, orders, {0: second})
        wait_values(target, old, {0: first + second})
        assert new not in partition_counts(target)

    # The target accepts the new name now: the topic goes on into it.
    def mapped() -> bool:
        topics = get_task(client, task_id)["topics"]
        return [(t["source"], t["target"], t["state"], t["warnings"]) for t in topics] == [
            (orders, new, "syncing", [])
        ]

    wait_until(mapped, timeout_s=90, what=f"the topic mapped to {new}")
    later: list[bytes] = []

    def switched() -> bool:
        later.append(b"later-%d" % len(later))
        produce(source, orders, {0: [later[-1]]})
        return new in partition_counts(target) and bool(read_now(target, new, 1)[0])

    wait_until(switched, timeout_s=90, interval_s=0.5, what=f"records on {new}")
    everything = first + second + later
    wait_until(
        lambda: len(read_now(target, old, 1)[0]) + len(read_now(target, new, 1)[0]) >= len(everything),
        timeout_s=60,
        what="every record on the old or the new name",
    )
    on_old = [m.value() for m in read_now(target, old, 1)[0]]
    on_new = [m.value() for m in read_now(target, new, 1)[0]]
    assert on_old[: len(first + second)] == first + second
    assert on_old + on_new == everything  # each once, in order across the switch
