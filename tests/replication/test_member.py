"""The member hot path against two real brokers: fidelity, commits, start points, loops.

Every member runs in a thread (`run_member`), joins the source group with the short test
session timeout, and is stopped with `stop()` + join. Waits are on conditions, never sleeps.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from confluent_kafka import TIMESTAMP_CREATE_TIME, Consumer, TopicPartition
from confluent_kafka.admin import AclOperation, ResourceType
from helpers import admin, create_topic, murmur2_partition, producer, read_all, wait_until
from pydantic import SecretStr
from scram_users import scram_user

from ksync.devkafka import KafkaCluster
from ksync.kafka.admin import InstanceAdmin, NewTopicPlan
from ksync.kafka.errors import KsyncKafkaError
from ksync.kafka.target_producer import MAX_BATCH_BYTES, batch_bytes
from ksync.replication.member import Member, MemberConfig, MemberSnapshot
from ksync.replication.provenance import ORIGIN_HEADER, VIA_HEADER
from ksync.spec import Connection, SecuritySpec, StartPoint

from .support import RunningMember, as_connection, grant, member_config

RunMember = Callable[[MemberConfig | Member], RunningMember]
Headers = list[tuple[str, str | bytes | None]] | None

# Explicit CreateTimes a day from "now" (so never the broker's), yet inside the topics'
# 7-day retention: older records may be deleted by a retention check during the test.
BASE_TS = int(time.time() * 1000) - 86_400_000


@dataclass(frozen=True)
class Rec:
    partition: int
    key: bytes | None
    value: bytes | None
    headers: Headers = None
    timestamp: int = 0


def produce(broker: KafkaCluster, topic: str, records: list[Rec], **conf: Any) -> None:
    """Write `records` in order and wait until the broker acknowledged every one."""
    errors: list[Any] = []
    p = producer(broker, **{"message.max.bytes": 20_000_000, **conf})
    for r in records:
        p.produce(
            topic,
            r.value,
            r.key,
            r.partition,
            timestamp=r.timestamp,
            headers=r.headers,
            on_delivery=lambda err, _msg: errors.append(err) if err is not None else None,
        )
    assert p.flush(30) == 0
    assert errors == []


def fields(msg: Any) -> tuple[Any, ...]:
    return (msg.key(), msg.value(), msg.timestamp()[1], msg.headers())


def expected_copy(r: Rec, origin: str) -> tuple[Any, ...]:
    """What the target must hold for source record `r`: same fields, origin header appended."""
    return (r.key, r.value, r.timestamp, [*(r.headers or []), (ORIGIN_HEADER, origin.encode())])


def by_partition(records: list[Rec], partitions: int) -> dict[int, list[Rec]]:
    out: dict[int, list[Rec]] = {p: [] for p in range(partitions)}
    for r in records:
        out[r.partition].append(r)
    return out


def values(msgs: list[Any]) -> list[bytes]:
    return [m.value() for m in msgs]


def committed(broker: KafkaCluster, group: str, topic: str, partitions: int) -> dict[int, int]:
    """The group's committed offsets on `broker`, read without joining the group."""
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "log_level": 3})
    try:
        tps = c.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
    finally:
        c.close()
    return {tp.partition: tp.offset for tp in tps}


def task_id() -> str:
    return uuid.uuid4().hex[:8]


# ---- fidelity ------------------------------------------------------------------------------

HEADER_SHAPES: list[Headers] = [
    None,
    [("trace", b"a"), ("trace", b"b"), ("trace", b"c")],  # the same key repeated
    [("bin", bytes(range(256)))],  # every byte value
    [("nothing", None)],  # a null header value
    [("k", b"\x00\xff"), ("trace", None), ("k", b"\x00\xfe")],
]


def fidelity_records(topic: str, partitions: int, count: int) -> list[Rec]:
    return [
        Rec(
            partition=i % partitions,
            key=None if i % 7 == 0 else f"key-{i % 50}".encode(),
            value=None if i % 11 == 0 else f"{topic}-{i}-".encode() * (1 + i % 4),
            headers=HEADER_SHAPES[i % len(HEADER_SHAPES)],
            timestamp=BASE_TS + i * 1000 + i % 3,
        )
        for i in range(count)
    ]


def test_every_record_keeps_partition_order_key_value_timestamp_and_headers(
    brokers: tuple[KafkaCluster, KafkaCluster], run_member: RunMember, unique: str
) -> None:
    src, dst = brokers
    a, b = f"fid-a-{unique}", f"fid-b-{unique}"
    layout = {a: 3, b: 2}
    sources = {a: fidelity_records(a, 3, 2400), b: fidelity_records(b, 2, 1600)}
    for topic, parts in layout.items():
        create_topic(src, topic, parts)
        create_topic(dst, f"copy.{topic}", parts)
        produce(src, topic, sources[topic])

    member = run_member(
        member_config(
            src, dst, task_id(), {t: f"copy.{t}" for t in layout}, start=StartPoint(type="earliest")
        )
    )

    for topic, parts in layout.items():
        got = read_all(dst, f"copy.{topic}", parts, len(sources[topic]))
        for p, recs in by_partition(sources[topic], parts).items():
            assert [fields(m) for m in got[p]] == [
                expected_copy(r, src.cluster_id) for r in recs
            ], f"{topic}[{p}]"
            assert {m.timestamp()[0] for m in got[p]} == {TIMESTAMP_CREATE_TIME}
    state = member.stop()
    assert state.records_total == 4000
    assert state.skipped_loop_total == 0


def test_murmur2_reference_values() -> None:
    """The test's partitioner matches Kafka's own Utils.murmur2 test vectors."""
    java_int = {
        b"21": -973932308,
        b"foobar": -790332482,
        b"a-little-bit-long-string": -985981536,
        b"a-little-bit-longer-string": -1486304829,
        b"abc": 479470107,
    }
    for key, h in java_int.items():
        # toPositive(h) % 2**31 is toPositive(h) itself.
        assert murmur2_partition(key, 2**31) == h & 0x7FFFFFFF, key


def test_without_keep_partition_records_are_routed_by_key_with_murmur2(
    brokers: tuple[KafkaCluster, KafkaCluster], run_member: RunMember, unique: str
) -> None:
    src, dst = brokers
    source, target = f"kp-src-{unique}", f"kp-dst-{unique}"
    create_topic(src, source, 3)
    create_topic(dst, target, 5)
    # The same key is written to different source partitions: only routing by key puts
    # every copy of it in one target partition.
    records = [Rec(i % 3, f"user-{i % 120}".encode(), f"v{i}".encode()) for i in range(600)]
    records += [Rec(i % 3, None, f"nokey{i}".encode()) for i in range(30)]
    produce(src, source, records)

    run_member(member_config(src, dst, task_id(), {source: target}, keep_partition=False))

    got = read_all(dst, target, 5, len(records))
    keyed: dict[bytes, set[int]] = {}
    for p, msgs in got.items():
        for m in msgs:
            if m.key() is not None:
                keyed.setdefault(m.key(), set()).add(p)
    assert len(keyed) == 120
    for key, parts in keyed.items():
        assert parts == {murmur2_partition(key, 5)}, key
    assert {p for parts in keyed.values() for p in parts} == set(range(5))  # keys spread
    all_values = Counter(m.value() for msgs in got.values() for m in msgs)
    assert all_values == Counter(r.value for r in records)


def test_a_target_topic_created_just_before_the_member_starts_keeps_each_keys_order(
    brokers: tuple[KafkaCluster, KafkaCluster], run_member: RunMember, unique: str
) -> None:
    """CreateTopics answers a moment before the brokers' metadata lists the new topic: a
    record produced then waits in librdkafka's unassigned queue, and records produced
    after the metadata arrived could overtake it. The member waits for the metadata."""
    src, dst = brokers
    source, target = f"kn-src-{unique}", f"kn-dst-{unique}"
    create_topic(src, source, 2)
    records = [Rec(i % 2, f"user-{i % 40}".encode(), b"%d:%06d" % (i % 2, i)) for i in range(4000)]
    produce(src, source, records)
    # Not create_topic(): that waits until the topic is listed, which is the member's job.
    admin(dst).create_topics([NewTopicPlan(target, 4, 1)])

    run_member(member_config(src, dst, task_id(), {source: target}, keep_partition=False))

    got = read_all(dst, target, 4, len(records))
    seen: dict[tuple[bytes, bytes], list[bytes]] = {}
    for msgs in got.values():
        for m in msgs:
            seen.setdefault((m.key(), m.value().split(b":")[0]), []).append(m.value())
    # Per key and source partition, the target holds the source's order (one target
    # partition per key, so its list above is in target order).
    for (key, partition), copied in seen.items():
        assert copied == sorted(copied), f"{key!r} from source partition {partition!r} reordered"
    assert sum(map(len, seen.values())) == len(records)


def test_a_10mb_record_is_copied_intact(
    brokers: tuple[KafkaCluster, KafkaCluster], run_member: RunMember, unique: str
) -> None:
    src, dst = brokers
    topic = f"big-{unique}"
    # Kafka's default limit is 1 MB a batch: both topics allow the record, as a user's would.
    for broker in (src, dst):
        create_topic(broker, topic, 1, {"max.message.bytes": str(20 * 1024 * 1024)})
    big = bytes(range(256)) * (10 * 1024 * 1024 // 256 - 64)
    records = [Rec(0, b"small", b"before"), Rec(0, b"big", big), Rec(0, b"small", b"after")]
    produce(src, topic, records)

    run_member(member_config(src, dst, task_id(), {topic: topic}))

    got = read_all(dst, topic, 1, 3)[0]
    assert [m.value() for m in got] == [b"before", big, b"after"]


# ---- commit protocol -----------------------------------------------------------------------


def test_stop_commits_the_end_of_every_partition_and_a_restart_copies_only_new_records(
    brokers: tuple[KafkaCluster, KafkaCluster], run_member: RunMember, unique: str
) -> None:
    src, dst = brokers
    topic = f"cp-{unique}"
    create_topic(src, topic, 3)
    create_topic(dst, topic, 3)
    old = [Rec(i % 3, None, f"old-{i}".encode()) for i in range(900)]
    produce(src, topic, old)
    # No periodic checkpoint within the test: only the start commit and stop() commit.
    cfg = member_config(src, dst, task_id(), {topic: topic}, commit_interval_s=3600.0)

    first = run_member(cfg)
    read_all(dst, topic, 3, 900)
    first.stop()
    assert committed(src, cfg.group_id, topic, 3) == {0: 300, 1: 300, 2: 300}

    second = run_member(cfg)  # same task: same group, resumes from the commits
    second.wait_assigned(3)
    new = [Rec(i % 3, None, f"new-{i}".encode()) for i in range(90)]
    produce(src, topic, new)
    # Per-partition order: a replay of old records would sit before the new ones, so once
    # the new ones are there, every duplicate would be there too.
    got = read_all(dst, topic, 3, 990)
    for p in range(3):
        assert values(got[p]) == [r.value for r in old + new if r.partition == p], p
    assert second.stop().records_total == 90
    assert committed(src, cfg.group_id, topic, 3) == {0: 330, 1: 330, 2: 330}


# ---- a target that stops acknowledging -----------------------------------------------------

STALL_BOUND = 300  # max_unacked_records for these tests: far below the records produced


@contextmanager
def stalled_target(
    brokers: tuple[KafkaCluster, KafkaCluster], run_member: RunMember, topic: str, records: list[Rec]
) -> Iterator[tuple[RunningMember, MemberConfig, MemberSnapshot]]:
    """A member copying `topic` (2 partitions) whose target froze before `records` came.

    Yields once the member reports the source's end offsets: its producer queue is full,
    so it is inside the slow path, and the report shows that a stall stays visible as
    lag. The target (SIGSTOP: data kept, nothing answered) resumes on leaving.
    """
    src, dst = brokers
    create_topic(src, topic, 2)
    create_topic(dst, topic, 2)
    cfg = member_config(src, dst, task_id(), {topic: topic}, max_unacked_records=STALL_BOUND)
    member = run_member(cfg)
    member.wait_assigned(2)
    dst.pause()
    try:
        produce(src, topic, records)
        ends = {(topic, p): len(recs) for p, recs in by_partition(records, 2).items()}
        stalled = wait_until(
            lambda: (s := member.snapshot()) and s.end_offsets == ends and s,
            timeout_s=30,
            what=f"the stalled member to report end offsets {ends}",
        )
        yield member, cfg, stalled
    finally:
        dst.resume()


def test_a_stalled_target_holds_the_member_at_its_bound_and_everything_arrives_once_it_is_back(
    brokers: tuple[KafkaCluster, KafkaCluster], run_member: RunMember, unique: str
) -> None:
    src, dst = brokers
    topic = f"stall-{unique}"
    records = [Rec(i % 2, f"k{i}".encode(), f"stall-{i}".encode()) for i in range(4000)]
    with stalled_target(brokers, run_member, topic, records) as (member, cfg, stalled):
        # Only whole batches count, and none can finish beyond what the queue holds: the
        # member waits for room instead of buffering the source in memory.
        assert 0 <= stalled.records_total <= STALL_BOUND
        assert stalled.committed == {(topic, 0): 0, (topic, 1): 0}

    got = read_all(dst, topic, 2, len(records))
    for p, recs in by_partition(records, 2).items():
        assert values(got[p]) == [r.value for r in recs], p
    assert member.stop().records_total == len(records)
    assert committed(src, cfg.group_id, topic, 2) == {0: 2000, 1: 2000}


def test_a_member_stopped_during_a_stall_commits_nothing_and_its_successor_copies_everything(
    brokers: tuple[KafkaCluster, KafkaCluster], run_member: RunMember, unique: str
) -> None:
    src, dst = brokers
    topic = f"stall-stop-{unique}"
    records = [Rec(i % 2, None, f"ss-{i}".encode()) for i in range(3000)]
    with stalled_target(brokers, run_member, topic, records) as (first, cfg, _):
        # Half a batch is queued: committing positions now would skip the other half.
        assert first.stop().state == "stopped"
        assert committed(src, cfg.group_id, topic, 2) == {0: 0, 1: 0}

    second = run_member(cfg)  # the same task: resumes from the last commit
    got = read_all(dst, topic, 2, len(records))
    for p, recs in by_partition(records, 2).items():
        # What the first member had already sent may land too (at-least-once): a replay
        # from the last commit, so the partition ends with the whole source in order.
        want = [r.value for r in recs]
        have = values(got[p])
        replayed = len(have) - len(want)
        assert replayed >= 0 and have[replayed:] == want and have[:replayed] == want[:replayed], p
    assert second.stop().records_total == len(records)
    assert committed(src, cfg.group_id, topic, 2) == {0: 1500, 1: 1500}


def test_settings_the_client_refuses_fail_the_member_naming_the_instance(
    brokers: tuple[KafkaCluster, KafkaCluster],
) -> None:
    src, dst = brokers
    cfg = member_config(src, dst, task_id(), {"never-created": "never-created"})
    not_pem = SecuritySpec(protocol="SSL", ca_pem=SecretStr("not a certificate"))
    target = Connection(instance_id="ins-notpem", bootstrap_servers=dst.bootstrap, security=not_pem)
    member = Member(dataclasses.replace(cfg, target=target))
    with pytest.raises(KsyncKafkaError, match="the Kafka client refuses the settings of instance ins-notpem"):
        member.run()
    state = member.snapshot()
    assert state.state == "failed"
    assert state.error is not None and state.error.startswith("the Kafka client refuses the settings of instance ins-notpem")


# ---- start points --------------------------------------------------------------------------


def test_latest_start_copies_only_records_produced_after_the_start(
    brokers: tuple[KafkaCluster, KafkaCluster], run_member: RunMember, unique: str
) -> None:
    src, dst = brokers
    topic = f"lt-{unique}"
    create_topic(src, topic, 2)
    create_topic(dst, topic, 2)
    produce(src, topic, [Rec(i % 2, None, f"old-{i}".encode()) for i in range(206)])
    cfg = member_config(src, dst, task_id(), {topic: topic}, start=StartPoint(type="latest"))

    member = run_member(cfg)
    member.wait_assigned(2)
    # The resolved start is committed at once, so a restart cannot re-resolve it later.
    assert committed(src, cfg.group_id, topic, 2) == {0: 103, 1: 103}
    new = [Rec(i % 2, None, f"new-{i}".encode()) for i in range(40)]
    produce(src, topic, new)

    got = read_all(dst, topic, 2, 40)
    for p in range(2):
        assert values(got[p]) == [r.value for r in new if r.partition == p], p


def test_timestamp_start_begins_each_partition_at_its_first_record_at_or_after_the_timestamp(
    brokers: tuple[KafkaCluster, KafkaCluster], run_member: RunMember, unique: str
) -> None:
    """Kafka's own lookup (ListOffsets by time) decides: partition 0 has records on both
    sides of T (one exactly at T, which is copied), partition 1 only after it, partition
    2 only before it (no record at or after T: it starts at its end)."""
    src, dst = brokers
    topic = f"ts-{unique}"
    create_topic(src, topic, 3)
    create_topic(dst, topic, 3)
    ts = BASE_TS + 100
    old = (
        [Rec(0, None, f"p0-{k}".encode(), timestamp=BASE_TS + k * 10) for k in range(30)]
        + [Rec(1, None, f"p1-{k}".encode(), timestamp=ts + 1000 + k) for k in range(30)]
        + [Rec(2, None, f"p2-{k}".encode(), timestamp=BASE_TS + k) for k in range(30)]
    )
    produce(src, topic, old)
    start = StartPoint(type="timestamp", timestamp_ms=ts)
    cfg = member_config(src, dst, task_id(), {topic: topic}, start=start)

    running = run_member(cfg)
    running.wait_assigned(3)
    # What reached the target says where each partition started (its committed offset may
    # already be past its start): p0 at its record stamped T, p1 at its first, p2 nowhere.
    old_p = by_partition(old, 3)
    got = read_all(dst, topic, 3, 20 + 30)
    assert {p: values(got[p]) for p in range(3)} == {
        0: [r.value for r in old_p[0][10:]],
        1: [r.value for r in old_p[1]],
        2: [],
    }
    # p2's start, its end, was committed at once: nothing was copied from it to move it.
    assert committed(src, cfg.group_id, topic, 3)[2] == 30

    new = [Rec(i % 3, None, f"new-{i}".encode()) for i in range(15)]
    produce(src, topic, new)
    new_p = by_partition(new, 3)
    expected = {0: old_p[0][10:] + new_p[0], 1: old_p[1] + new_p[1], 2: new_p[2]}
    got = read_all(dst, topic, 3, sum(len(v) for v in expected.values()))
    for p in range(3):
        assert values(got[p]) == [r.value for r in expected[p]], p


# ---- loops ---------------------------------------------------------------------------------


def test_records_first_written_on_the_target_are_skipped_and_foreign_origins_kept(
    brokers: tuple[KafkaCluster, KafkaCluster], run_member: RunMember, unique: str
) -> None:
    src, dst = brokers
    topic = f"loop1-{unique}"
    create_topic(src, topic, 1)
    create_topic(dst, topic, 1)
    records = [
        Rec(0, None, b"from-target", [("a", b"1"), (ORIGIN_HEADER, dst.cluster_id.encode())]),
        Rec(0, None, b"from-third", [(ORIGIN_HEADER, b"third-cluster"), ("a", b"2")]),
        Rec(0, None, b"plain"),
        Rec(0, None, b"marker", [("x", b"y")]),
    ]
    produce(src, topic, records)

    member = run_member(member_config(src, dst, task_id(), {topic: topic}))

    got = read_all(dst, topic, 1, 3)[0]
    assert [(m.value(), m.headers()) for m in got] == [
        (b"from-third", [(ORIGIN_HEADER, b"third-cluster"), ("a", b"2"), (VIA_HEADER, src.cluster_id.encode())]),
        (b"plain", [(ORIGIN_HEADER, src.cluster_id.encode())]),
        (b"marker", [("x", b"y"), (ORIGIN_HEADER, src.cluster_id.encode())]),
    ]
    state = wait_until(lambda: (s := member.snapshot()).records_total == 3 and s, what="3 copied")
    assert state.skipped_loop_total == 1


def test_two_way_sync_on_the_same_topic_names_copies_each_record_once(
    brokers: tuple[KafkaCluster, KafkaCluster], run_member: RunMember, unique: str
) -> None:
    a, b = brokers
    ring = f"ring-{unique}"  # the same name on both clusters, new to both
    for broker in (a, b):
        create_topic(broker, ring, 2)
    from_a = [Rec(i % 2, f"k{i}".encode(), f"a-{i}".encode()) for i in range(300)]
    from_b = [Rec(i % 2, f"k{i}".encode(), f"b-{i}".encode()) for i in range(200)]
    produce(a, ring, from_a)
    produce(b, ring, from_b)

    ab = run_member(member_config(a, b, task_id(), {ring: ring}))
    ba = run_member(member_config(b, a, task_id(), {ring: ring}))

    # Settled: each member has read its side's originals and every copy the other wrote.
    def settled() -> bool:
        s_ab, s_ba = ab.snapshot(), ba.snapshot()
        return (
            s_ab.records_total + s_ab.skipped_loop_total >= 500
            and s_ba.records_total + s_ba.skipped_loop_total >= 500
        )

    wait_until(settled, timeout_s=60, what="both directions to settle")
    s_ab, s_ba = ab.snapshot(), ba.snapshot()
    assert (s_ab.records_total, s_ab.skipped_loop_total) == (300, 200)
    assert (s_ba.records_total, s_ba.skipped_loop_total) == (200, 300)
    everything = Counter(r.value for r in from_a + from_b)
    for broker, copied, origin in ((a, "b-", b), (b, "a-", a)):
        msgs = [m for ms in read_all(broker, ring, 2, 500).values() for m in ms]
        assert Counter(m.value() for m in msgs) == everything, broker.cluster_id
        for m in msgs:
            if m.value().startswith(copied.encode()):
                assert m.headers() == [(ORIGIN_HEADER, origin.cluster_id.encode())]
            else:
                assert m.headers() is None  # an original, untouched


def test_a_record_from_a_third_cluster_crosses_a_two_way_pair_once(
    brokers: tuple[KafkaCluster, KafkaCluster], run_member: RunMember, unique: str
) -> None:
    """C->A plus A<->B: a record whose origin is C reaches B once and never comes back to A.

    The origin header alone cannot stop it (its origin is neither A nor B); `ksync-via`
    records that it was copied from A, so B->A skips it.
    """
    a, b = brokers
    tri = f"tri-{unique}"
    for broker in (a, b):
        create_topic(broker, tri, 1)
    from_c = [Rec(0, None, f"c-{i}".encode(), [(ORIGIN_HEADER, b"cluster-c")]) for i in range(50)]
    produce(a, tri, from_c)

    ab = run_member(member_config(a, b, task_id(), {tri: tri}))
    ba = run_member(member_config(b, a, task_id(), {tri: tri}))

    wait_until(
        lambda: ab.snapshot().records_total == 50 and ba.snapshot().skipped_loop_total == 50,
        timeout_s=60,
        what="B->A to see and skip every copy",
    )
    on_a = read_all(a, tri, 1, 50)[0]
    on_b = read_all(b, tri, 1, 50)[0]
    assert [m.value() for m in on_a] == [r.value for r in from_c]  # nothing came back
    assert [m.value() for m in on_b] == [r.value for r in from_c]
    assert all(
        m.headers() == [(ORIGIN_HEADER, b"cluster-c"), (VIA_HEADER, a.cluster_id.encode())]
        for m in on_b
    )
    assert ba.snapshot().records_total == 0


# ---- topic switch --------------------------------------------------------------------------


def test_update_topics_with_an_added_topic_starts_copying_it(
    brokers: tuple[KafkaCluster, KafkaCluster], run_member: RunMember, unique: str
) -> None:
    src, dst = brokers
    sw_a, sw_b = f"sw-a-{unique}", f"sw-b-{unique}"
    for topic in (sw_a, sw_b):
        create_topic(src, topic, 2)
        create_topic(dst, topic, 2)
    a1 = [Rec(i % 2, None, f"a1-{i}".encode()) for i in range(20)]
    b1 = [Rec(i % 2, None, f"b1-{i}".encode()) for i in range(20)]
    produce(src, sw_a, a1)
    produce(src, sw_b, b1)

    member = run_member(member_config(src, dst, task_id(), {sw_a: sw_a}))
    read_all(dst, sw_a, 2, 20)
    assert member.snapshot().partitions == [(sw_a, 0), (sw_a, 1)]

    member.member.update_topics({sw_a: sw_a, sw_b: sw_b}, {sw_a: 2, sw_b: 2})
    member.wait_assigned(4)
    a2 = [Rec(i % 2, None, f"a2-{i}".encode()) for i in range(10)]
    b2 = [Rec(i % 2, None, f"b2-{i}".encode()) for i in range(10)]
    produce(src, sw_a, a2)
    produce(src, sw_b, b2)

    for topic, recs in ((sw_b, b1 + b2), (sw_a, a1 + a2)):
        got = read_all(dst, topic, 2, len(recs))
        for p in range(2):
            assert values(got[p]) == [r.value for r in recs if r.partition == p], (topic, p)


# ---- a target topic that takes only small batches --------------------------------------------
#
# librdkafka never splits a batch the broker refuses as too large: it fails every record in
# it. A target topic's max.message.bytes below the producer's batch.size would fail a
# member although each record is small; the member must size its batches to fit.

SMALL_LIMIT = 50_000


def small_records(prefix: str, count: int, partitions: int) -> list[Rec]:
    """`count` records of about 200 bytes: thousands of them fill many 50 kB batches."""
    return [
        Rec(i % partitions, f"k{i % 40}".encode(), f"{prefix}-{i:06d}-".encode().ljust(200, b"."))
        for i in range(count)
    ]


def limited_topic(src: KafkaCluster, dst: KafkaCluster, topic: str, partitions: int) -> None:
    """`topic` on both clusters with max.message.bytes = SMALL_LIMIT, as ksync copies it."""
    for broker in (src, dst):
        create_topic(broker, topic, partitions, {"max.message.bytes": str(SMALL_LIMIT)})


def fill(src: KafkaCluster, topic: str, records: list[Rec]) -> None:
    """Write `records` in batches as large as the topic takes, as a fast producer would."""
    produce(src, topic, records, **{"batch.size": SMALL_LIMIT, "linger.ms": 50})


def wait_copied(member: RunningMember, topic: str, records: list[Rec], partitions: int) -> None:
    """Wait until the member committed the end of every partition of `topic`; a member
    that failed ends the wait at once with its error."""
    ends = {(topic, p): len(recs) for p, recs in by_partition(records, partitions).items()}
    wait_until(
        lambda: ends.items() <= member.snapshot().committed.items(),
        timeout_s=90,
        what=f"the member to commit {ends}",
    )


def test_small_records_reach_a_target_topic_whose_limit_is_below_the_default_batch(
    brokers: tuple[KafkaCluster, KafkaCluster], run_member: RunMember, unique: str
) -> None:
    src, dst = brokers
    topic = f"small-limit-{unique}"
    limited_topic(src, dst, topic, 2)
    records = small_records("sl", 4000, 2)
    fill(src, topic, records)

    member = run_member(member_config(src, dst, task_id(), {topic: topic}))

    wait_copied(member, topic, records, 2)
    got = read_all(dst, topic, 2, len(records))
    for p, recs in by_partition(records, 2).items():
        assert values(got[p]) == [r.value for r in recs], p
    state = member.stop()
    assert state.records_total == len(records)
    assert state.error is None


def test_a_topic_whose_limit_is_below_the_current_batch_joins_a_running_member(
    brokers: tuple[KafkaCluster, KafkaCluster], run_member: RunMember, unique: str
) -> None:
    src, dst = brokers
    roomy, small = f"roomy-{unique}", f"joins-small-{unique}"
    for broker in (src, dst):
        create_topic(broker, roomy, 1)
    limited_topic(src, dst, small, 2)
    before = [Rec(0, None, f"roomy-{i}".encode()) for i in range(50)]
    produce(src, roomy, before)
    member = run_member(member_config(src, dst, task_id(), {roomy: roomy}))
    read_all(dst, roomy, 1, len(before))

    records = small_records("js", 4000, 2)
    fill(src, small, records)
    member.member.update_topics({roomy: roomy, small: small}, {roomy: 1, small: 2})
    after = [Rec(0, None, f"roomy-after-{i}".encode()) for i in range(50)]
    produce(src, roomy, after)

    wait_copied(member, small, records, 2)
    got = read_all(dst, small, 2, len(records))
    for p, recs in by_partition(records, 2).items():
        assert values(got[p]) == [r.value for r in recs], p
    assert values(read_all(dst, roomy, 1, 100)[0]) == [r.value for r in before + after]
    state = member.stop()
    assert state.records_total == len(before) + len(records) + len(after)
    assert state.error is None


def test_a_record_too_large_for_the_target_blocks_its_topic_before_any_record_after_it_lands(
    brokers: tuple[KafkaCluster, KafkaCluster], run_member: RunMember, unique: str
) -> None:
    """The member finds the record before producing it (the target topic accepts less than
    the source's): it stops that topic there, commits up to it and keeps running; nothing
    after the record lands, for it would land before the record once the limit is raised."""
    src, dst = brokers
    topic = f"too-large-{unique}"
    create_topic(src, topic, 1)
    create_topic(dst, topic, 1, {"max.message.bytes": str(SMALL_LIMIT)})
    records = [Rec(0, None, f"tl-{i}".encode()) for i in range(200)]
    records[100] = Rec(0, None, b"big-" + b"." * (2 * SMALL_LIMIT))
    produce(src, topic, records)

    member = run_member(member_config(src, dst, task_id(), {topic: topic}))
    blocked = wait_until(
        lambda: member.snapshot().blocked, timeout_s=60, what=f"{topic} blocked by the member"
    )
    assert f"offset 100 of {topic}[0]" in blocked[topic], blocked
    assert f"{SMALL_LIMIT} bytes" in blocked[topic], blocked
    wait_until(
        lambda: member.snapshot().committed.get((topic, 0)) == 100,
        timeout_s=60,
        what="progress committed up to the refused record",
    )
    assert values(read_all(dst, topic, 1, 100)[0]) == [r.value for r in records[:100]]
    state = member.stop()
    assert state.error is None
    assert state.committed[(topic, 0)] == 100


def test_the_batch_fits_the_smallest_target_limit_and_never_exceeds_the_default() -> None:
    assert batch_bytes([]) == MAX_BATCH_BYTES
    assert batch_bytes([2_000_000, 50_000, 60_000]) == 50_000
    # Kafka's default max.message.bytes (1 MiB + 12) is above the default batch.
    assert batch_bytes([1_048_588]) == MAX_BATCH_BYTES


def test_a_member_that_may_not_read_the_target_limits_copies_and_names_the_right_to_grant(
    brokers: tuple[KafkaCluster, KafkaCluster], run_member: RunMember, unique: str
) -> None:
    src, dst = brokers
    topic = f"no-describe-configs-{unique}"
    for broker in (src, dst):
        create_topic(broker, topic, 1)
    records = [Rec(0, None, f"ndc-{i}".encode()) for i in range(100)]
    produce(src, topic, records)
    with scram_user([dst], "writer") as user:
        # What copying needs on the target, without DescribeConfigs.
        grant(dst, user.name, ResourceType.TOPIC, topic, [AclOperation.DESCRIBE, AclOperation.WRITE])
        target = as_connection(user, dst)
        wait_until(
            lambda: topic in InstanceAdmin(target).list_topics(),
            timeout_s=30,
            what=f"{topic} visible to {user.name}",
        )
        cfg = dataclasses.replace(member_config(src, dst, task_id(), {topic: topic}), target=target)
        member = run_member(cfg)

        assert values(read_all(dst, topic, 1, len(records))[0]) == [r.value for r in records]
        warnings = member.snapshot().warnings
        assert any(
            f"allow User:{user.name} DescribeConfigs on topic {topic}" in w for w in warnings
        ), warnings
        assert member.stop().error is None
