"""Fidelity end to end: what lands on the target is what was on the source.

Through the REST API of a real `ksync server`, checked by reading both brokers directly:
per partition, the target holds the source's records in the source's order with the same
key, value, CreateTime timestamp and headers, plus `ksync-origin` = the source cluster id
appended last; target topics get the source's partition counts and exactly the configs
set on the source minus the exclusion list. With keep_partition=false records are spread by key with Kafka's
murmur2 partitioner.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict

from helpers import (
    add_instance,
    create_topic,
    murmur2_partition,
    producer,
    read_all,
    task_body,
    wait_status,
    wait_until,
)

from .support import ORIGIN, partition_counts, read_now, record, set_configs

# A day ago: Kafka deletes by timestamp, so records must stay inside every topic's
# retention (the copied 30 days below, the default 7 days) or a retention check that
# happens to run during the test empties the source or the target.
BASE_TS = int(time.time() * 1000) - 86_400_000

COPIED = {"retention.ms": "2592000000", "cleanup.policy": "delete", "max.message.bytes": "2000000"}
NOT_COPIED = {
    "min.insync.replicas": "1",
    "unclean.leader.election.enable": "true",
    "message.timestamp.type": "CreateTime",
}


def _headers(i: int, rng: random.Random) -> list[tuple[str, str | bytes | None]] | None:
    """No headers, repeated keys, binary (non-UTF-8) values and null values, by turns."""
    kind = i % 5
    if kind == 0:
        return None
    if kind == 1:
        return [("trace", b"t-%d" % i)]
    if kind == 2:
        return [("dup", b"first"), ("dup", b"second"), ("dup", b"\xff\xfe\x00\x80")]
    if kind == 3:
        return [("bin", rng.randbytes(16)), ("nul", None), ("bin", b"\xc3\x28")]
    return [("a", b""), ("b", bytes(range(256)))]


def _produce_mixed(broker, topic: str, partitions: int, count: int, seed: int) -> None:
    """`count` records over every partition: null and non-null keys and values, odd headers,
    explicit CreateTime timestamps that are not in produce order."""
    rng = random.Random(seed)
    p = producer(broker)
    for i in range(count):
        key = None if i % 7 == 0 else b"key-%d" % (i % 50)
        if i % 11 == 0:
            value = None
        elif i % 3 == 0:
            value = rng.randbytes(rng.randrange(1, 200))
        else:
            value = b"%s-value-%d" % (topic.encode(), i)
        p.produce(
            topic,
            value,
            key,
            partition=i % partitions,
            timestamp=BASE_TS + rng.randrange(0, 10_000_000),
            headers=_headers(i, rng),
        )
        if i % 10_000 == 0:
            p.poll(0)
    assert p.flush(30) == 0


def test_records_headers_timestamps_partitions_and_configs_are_copied(brokers, folder_server, unique):
    source, target = brokers
    one, three, four = (f"fid{unique}.{n}" for n in ("one", "three", "four"))
    layout = {one: 1, three: 3, four: 4}
    counts = {one: 1500, three: 2500, four: 3000}
    for seed, (topic, partitions) in enumerate(layout.items()):
        create_topic(source, topic, partitions, {**COPIED, **NOT_COPIED})
        _produce_mixed(source, topic, partitions, counts[topic], seed)
    expected = {t: read_now(source, t, n) for t, n in layout.items()}
    for topic, parts in expected.items():
        assert sum(map(len, parts.values())) == counts[topic], f"source {topic} holds extra records"

    client = folder_server.client()
    src, dst = add_instance(client, source), add_instance(client, target)
    response = client.post("/api/v1/tasks", json=task_body(src, dst, topic_regex=rf"fid{unique}\..*"))
    assert response.status_code == 202, response.text
    task = wait_status(client, response.json()["id"], "Running")
    assert sorted((t["source"], t["target"], t["partitions"]) for t in task["topics"]) == sorted(
        (t, t, n) for t, n in layout.items()
    )

    origin = (ORIGIN, source.cluster_id.encode())
    target_partitions = partition_counts(target)
    for topic, partitions in layout.items():
        assert target_partitions.get(topic) == partitions, (
            f"{topic}: target partitions {target_partitions}"
        )
        assert set_configs(source, topic) == {**COPIED, **NOT_COPIED}
        assert set_configs(target, topic) == COPIED, f"{topic}: excluded or missing configs"

        got = read_all(target, topic, partitions, counts[topic])  # and any repeats behind them
        for p in range(partitions):
            want = [
                r._replace(headers=r.headers + (origin,)) for r in map(record, expected[topic][p])
            ]
            have = [record(m) for m in got[p]]
            assert len(have) == len(want), (
                f"{topic}[{p}]: {len(have)} records on target, {len(want)} on source"
            )
            for offset, (h, w) in enumerate(zip(have, want, strict=True)):
                assert h == w, f"{topic}[{p}] offset {offset}: target {h} != source {w}"
            assert all(r.timestamp[0] == 1 for r in have), f"{topic}[{p}]: not CreateTime"


def test_keep_partition_false_partitions_by_key(brokers, folder_server, unique):
    """Source records sit in round-robin partitions; on the target each key has one
    partition (Kafka's murmur2 choice) and, per source partition, keeps its order."""
    source, target = brokers
    topic, partitions, count = f"bykey{unique}", 4, 4000
    create_topic(source, topic, partitions)
    p = producer(source)
    for i in range(count):
        key = None if i % 13 == 0 else b"user-%d" % (i % 97)
        # The value says where the record came from: source partition and its sequence.
        p.produce(
            topic,
            b"%d:%06d" % (i % partitions, i),
            key,
            partition=i % partitions,
            timestamp=BASE_TS + i,
        )
    assert p.flush(30) == 0
    # The order under test is the source's: make sure it is the one written.
    for part, msgs in read_all(source, topic, partitions, count).items():
        seqs = [int(m.value().split(b":")[1]) for m in msgs]
        assert seqs == sorted(seqs), f"source[{part}] is not in the order written"

    client = folder_server.client()
    src, dst = add_instance(client, source), add_instance(client, target)
    body = task_body(src, dst, topics=[topic], target={"keep_partition": False})
    response = client.post("/api/v1/tasks", json=body)
    assert response.status_code == 202, response.text
    task_id = response.json()["id"]
    wait_status(client, task_id, "Running")
    wait_until(lambda: partition_counts(target).get(topic) == partitions, what=f"{topic} on target")

    got = read_all(target, topic, partitions, count)
    values = [m.value() for msgs in got.values() for m in msgs]
    assert len(values) == count and len(set(values)) == count, "records lost or repeated"

    partitions_of_key: dict[bytes, set[int]] = defaultdict(set)
    for tp, msgs in got.items():
        for m in msgs:
            if m.key() is not None:
                partitions_of_key[m.key()].add(tp)
    spread = {k: v for k, v in partitions_of_key.items() if len(v) != 1}
    assert not spread, f"keys on several target partitions: {spread}"
    wrong = {
        k: (next(iter(v)), murmur2_partition(k, partitions))
        for k, v in partitions_of_key.items()
        if next(iter(v)) != murmur2_partition(k, partitions)
    }
    assert not wrong, f"keys not on their murmur2 partition (got, murmur2): {wrong}"
    assert len({tp for v in partitions_of_key.values() for tp in v}) > 1, (
        "every key on one partition"
    )

    # Per (key, source partition) the target keeps the source order.
    for tp, msgs in got.items():
        seen: dict[tuple[bytes | None, bytes], int] = {}
        for m in msgs:
            src_partition, seq = m.value().split(b":")
            group = (m.key(), src_partition)
            assert seen.get(group, -1) < int(seq), f"target[{tp}] reorders {group}"
            seen[group] = int(seq)
