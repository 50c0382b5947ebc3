"""The member hot path against two real brokers: fidelity, commits, start points, loops.

Every member runs in a thread (`run_member`), joins the source group with the short test
session timeout, and is stopped with `stop()` + join. Waits are on conditions, never sleeps.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from confluent_kafka import TIMESTAMP_CREATE_TIME, Consumer, TopicPartition
from helpers import create_topic, murmur2_partition, producer, read_all, wait_until
from pydantic import SecretStr

from ksync.devkafka import KafkaCluster
from ksync.kafka.errors import KsyncKafkaError
from ksync.replication.member import Member, MemberConfig, MemberState
from ksync.replication.provenance import ORIGIN_HEADER, VIA_HEADER
from ksync.spec import Connection, SecuritySpec, StartPoint

from .support import RunningMember, member_config

RunMember = Callable[[MemberConfig | Member], RunningMember]
Headers = list[tuple[str, str | bytes | None]] | None

BASE_TS = 1_700_000_000_000  # explicit CreateTimes, far from "now"


@dataclass(frozen=True)
class Rec:
    partition: int
    key: bytes | None
    value: bytes | None
    headers: Headers = None
    timestamp: int = 0


def produce(broker: KafkaCluster, topic: str, records: list[Rec], single_batches: int = 0) -> None:
    """Write `records` in order; the last `single_batches` each go in a batch of their own.

    Single-record batches at the end matter for the test broker's `latest` answer, which
    is the base offset of the last batch + 1 (DESIGN.md "Test brokers").
    """
    errors: list[Any] = []
    p = producer(broker, **{"message.max.bytes": 20_000_000})
    cut = len(records) - single_batches
    for i, r in enumerate(records):
        p.produce(
            topic,
            r.value,
            r.key,
            r.partition,
            timestamp=r.timestamp,
            headers=r.headers,
            on_delivery=lambda err, _msg: errors.append(err) if err is not None else None,
        )
        if i >= cut - 1:
            p.flush(30)
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
    brokers: tuple[KafkaCluster, KafkaCluster], run_member: RunMember
) -> None:
    src, dst = brokers
    layout = {"fid-a": 3, "fid-b": 2}
    sources = {
        "fid-a": fidelity_records("fid-a", 3, 2400),
        "fid-b": fidelity_records("fid-b", 2, 1600),
    }
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
    brokers: tuple[KafkaCluster, KafkaCluster], run_member: RunMember
) -> None:
    src, dst = brokers
    create_topic(src, "kp-src", 3)
    create_topic(dst, "kp-dst", 5)
    # The same key is written to different source partitions: only routing by key puts
    # every copy of it in one target partition.
    records = [Rec(i % 3, f"user-{i % 120}".encode(), f"v{i}".encode()) for i in range(600)]
    records += [Rec(i % 3, None, f"nokey{i}".encode()) for i in range(30)]
    produce(src, "kp-src", records)

    run_member(member_config(src, dst, task_id(), {"kp-src": "kp-dst"}, keep_partition=False))

    got = read_all(dst, "kp-dst", 5, len(records))
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


def test_a_10mb_record_is_copied_intact(
    brokers: tuple[KafkaCluster, KafkaCluster], run_member: RunMember
) -> None:
    src, dst = brokers
    create_topic(src, "big", 1)
    create_topic(dst, "big", 1)
    big = bytes(range(256)) * (10 * 1024 * 1024 // 256 - 64)
    records = [Rec(0, b"small", b"before"), Rec(0, b"big", big), Rec(0, b"small", b"after")]
    produce(src, "big", records)

    run_member(member_config(src, dst, task_id(), {"big": "big"}))

    got = read_all(dst, "big", 1, 3)[0]
    assert [m.value() for m in got] == [b"before", big, b"after"]


# ---- commit protocol -----------------------------------------------------------------------


def test_stop_commits_the_end_of_every_partition_and_a_restart_copies_only_new_records(
    brokers: tuple[KafkaCluster, KafkaCluster], run_member: RunMember
) -> None:
    src, dst = brokers
    create_topic(src, "cp", 3)
    create_topic(dst, "cp", 3)
    old = [Rec(i % 3, None, f"old-{i}".encode()) for i in range(900)]
    produce(src, "cp", old)
    # No periodic checkpoint within the test: only the start commit and stop() commit.
    cfg = member_config(src, dst, task_id(), {"cp": "cp"}, commit_interval_s=3600.0)

    first = run_member(cfg)
    read_all(dst, "cp", 3, 900)
    first.stop()
    assert committed(src, cfg.group_id, "cp", 3) == {0: 300, 1: 300, 2: 300}

    second = run_member(cfg)  # same task: same group, resumes from the commits
    second.wait_assigned(3)
    new = [Rec(i % 3, None, f"new-{i}".encode()) for i in range(90)]
    produce(src, "cp", new)
    # Per-partition order: a replay of old records would sit before the new ones, so once
    # the new ones are there, every duplicate would be there too.
    got = read_all(dst, "cp", 3, 990)
    for p in range(3):
        assert values(got[p]) == [r.value for r in old + new if r.partition == p], p
    assert second.stop().records_total == 90
    assert committed(src, cfg.group_id, "cp", 3) == {0: 330, 1: 330, 2: 330}


# ---- a target that stops acknowledging -----------------------------------------------------

STALL_BOUND = 300  # max_unacked_records for these tests: far below the records produced


@contextmanager
def stalled_target(
    brokers: tuple[KafkaCluster, KafkaCluster], run_member: RunMember, topic: str, records: list[Rec]
) -> Iterator[tuple[RunningMember, MemberConfig, MemberState]]:
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
    brokers: tuple[KafkaCluster, KafkaCluster], run_member: RunMember
) -> None:
    src, dst = brokers
    records = [Rec(i % 2, f"k{i}".encode(), f"stall-{i}".encode()) for i in range(4000)]
    with stalled_target(brokers, run_member, "stall", records) as (member, cfg, stalled):
        # Only whole batches count, and none can finish beyond what the queue holds: the
        # member waits for room instead of buffering the source in memory.
        assert 0 <= stalled.records_total <= STALL_BOUND
        assert stalled.committed == {("stall", 0): 0, ("stall", 1): 0}

    got = read_all(dst, "stall", 2, len(records))
    for p, recs in by_partition(records, 2).items():
        assert values(got[p]) == [r.value for r in recs], p
    assert member.stop().records_total == len(records)
    assert committed(src, cfg.group_id, "stall", 2) == {0: 2000, 1: 2000}


def test_a_member_stopped_during_a_stall_commits_nothing_and_its_successor_copies_everything(
    brokers: tuple[KafkaCluster, KafkaCluster], run_member: RunMember
) -> None:
    src, dst = brokers
    records = [Rec(i % 2, None, f"ss-{i}".encode()) for i in range(3000)]
    with stalled_target(brokers, run_member, "stall-stop", records) as (first, cfg, _):
        # Half a batch is queued: committing positions now would skip the other half.
        assert first.stop().state == "stopped"
        assert committed(src, cfg.group_id, "stall-stop", 2) == {0: 0, 1: 0}

    second = run_member(cfg)  # the same task: resumes from the last commit
    got = read_all(dst, "stall-stop", 2, len(records))
    for p, recs in by_partition(records, 2).items():
        # What the first member had already sent may land too (at-least-once): a replay
        # from the last commit, so the partition ends with the whole source in order.
        want = [r.value for r in recs]
        have = values(got[p])
        replayed = len(have) - len(want)
        assert replayed >= 0 and have[replayed:] == want and have[:replayed] == want[:replayed], p
    assert second.stop().records_total == len(records)
    assert committed(src, cfg.group_id, "stall-stop", 2) == {0: 1500, 1: 1500}


def test_settings_the_client_refuses_fail_the_member_naming_the_instance(
    brokers: tuple[KafkaCluster, KafkaCluster],
) -> None:
    src, dst = brokers
    cfg = member_config(src, dst, task_id(), {"never": "never"})
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
    brokers: tuple[KafkaCluster, KafkaCluster], run_member: RunMember
) -> None:
    src, dst = brokers
    create_topic(src, "lt", 2)
    create_topic(dst, "lt", 2)
    # The last 6 records go in single-record batches so the broker's `latest` (base offset
    # of the last batch + 1) is the true end (DESIGN.md "Test brokers").
    produce(
        src, "lt", [Rec(i % 2, None, f"old-{i}".encode()) for i in range(206)], single_batches=6
    )
    cfg = member_config(src, dst, task_id(), {"lt": "lt"}, start=StartPoint(type="latest"))

    member = run_member(cfg)
    member.wait_assigned(2)
    # The resolved start is committed at once, so a restart cannot re-resolve it later.
    assert committed(src, cfg.group_id, "lt", 2) == {0: 103, 1: 103}
    new = [Rec(i % 2, None, f"new-{i}".encode()) for i in range(40)]
    produce(src, "lt", new)

    got = read_all(dst, "lt", 2, 40)
    for p in range(2):
        assert values(got[p]) == [r.value for r in new if r.partition == p], p


class _OffsetsForTimesSpy:
    """Stands in for the consumer inside `_resolve_start`: records the timestamp query and
    answers it with chosen offsets; everything else goes to the real consumer."""

    def __init__(self, consumer: Consumer, answers: dict[int, int]) -> None:
        self._consumer = consumer
        self._answers = answers
        self.queries: list[list[tuple[str, int, int]]] = []

    def offsets_for_times(
        self, partitions: list[TopicPartition], timeout: float = -1
    ) -> list[TopicPartition]:
        self.queries.append(sorted((tp.topic, tp.partition, tp.offset) for tp in partitions))
        return [
            TopicPartition(tp.topic, tp.partition, self._answers[tp.partition]) for tp in partitions
        ]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._consumer, name)


class _SpiedMember(Member):
    def __init__(self, cfg: MemberConfig, answers: dict[int, int]) -> None:
        super().__init__(cfg)
        self.answers = answers
        self.seen_consumers: list[Any] = []
        self.spies: list[_OffsetsForTimesSpy] = []

    def _resolve_start(
        self, consumer: Consumer, partitions: list[TopicPartition]
    ) -> list[TopicPartition]:
        self.seen_consumers.append(consumer)
        spy = _OffsetsForTimesSpy(consumer, self.answers)
        self.spies.append(spy)
        return super()._resolve_start(spy, partitions)  # type: ignore[arg-type]


def test_timestamp_start_queries_the_timestamp_per_partition_and_starts_at_the_answers(
    brokers: tuple[KafkaCluster, KafkaCluster], run_member: RunMember
) -> None:
    """Tested at the seam: the test broker answers every timestamp lookup with offset 0, so
    a real lookup cannot tell a right query from a wrong one. `Consumer.offsets_for_times`
    is a C method that cannot be patched, so the consumer handed to `_resolve_start` is
    wrapped: the wrapper records the query ksync sends (each partition must carry the
    task's timestamp) and answers with chosen offsets, including -1 ("no record at or
    after it"), which must start that partition at its end. The member must then copy
    exactly from those offsets."""
    src, dst = brokers
    create_topic(src, "ts", 3)
    create_topic(dst, "ts", 3)
    old = [Rec(i % 3, None, f"old-{i}".encode(), timestamp=BASE_TS + i) for i in range(90)]
    # Single-record batches at the end: partition 2 starts at the (uncached) end offset.
    produce(src, "ts", old, single_batches=6)
    ts = BASE_TS + 30
    answers = {0: 10, 1: 0, 2: -1}
    member = _SpiedMember(
        member_config(
            src, dst, task_id(), {"ts": "ts"}, start=StartPoint(type="timestamp", timestamp_ms=ts)
        ),
        answers,
    )

    running = run_member(member)
    running.wait_assigned(3)
    assert all(isinstance(c, Consumer) for c in member.seen_consumers)
    assert [q for spy in member.spies for q in spy.queries] == [
        [("ts", 0, ts), ("ts", 1, ts), ("ts", 2, ts)]
    ]

    new = [Rec(i % 3, None, f"new-{i}".encode()) for i in range(15)]
    produce(src, "ts", new)
    old_p = by_partition(old, 3)
    new_p = by_partition(new, 3)
    expected = {0: old_p[0][10:] + new_p[0], 1: old_p[1] + new_p[1], 2: new_p[2]}
    got = read_all(dst, "ts", 3, sum(len(v) for v in expected.values()))
    for p in range(3):
        assert values(got[p]) == [r.value for r in expected[p]], p


# ---- loops ---------------------------------------------------------------------------------


def test_records_first_written_on_the_target_are_skipped_and_foreign_origins_kept(
    brokers: tuple[KafkaCluster, KafkaCluster], run_member: RunMember
) -> None:
    src, dst = brokers
    create_topic(src, "loop1", 1)
    create_topic(dst, "loop1", 1)
    records = [
        Rec(0, None, b"from-target", [("a", b"1"), (ORIGIN_HEADER, dst.cluster_id.encode())]),
        Rec(0, None, b"from-third", [(ORIGIN_HEADER, b"third-cluster"), ("a", b"2")]),
        Rec(0, None, b"plain"),
        Rec(0, None, b"marker", [("x", b"y")]),
    ]
    produce(src, "loop1", records)

    member = run_member(member_config(src, dst, task_id(), {"loop1": "loop1"}))

    got = read_all(dst, "loop1", 1, 3)[0]
    assert [(m.value(), m.headers()) for m in got] == [
        (b"from-third", [(ORIGIN_HEADER, b"third-cluster"), ("a", b"2"), (VIA_HEADER, src.cluster_id.encode())]),
        (b"plain", [(ORIGIN_HEADER, src.cluster_id.encode())]),
        (b"marker", [("x", b"y"), (ORIGIN_HEADER, src.cluster_id.encode())]),
    ]
    state = wait_until(lambda: (s := member.snapshot()).records_total == 3 and s, what="3 copied")
    assert state.skipped_loop_total == 1


def test_two_way_sync_on_the_same_topic_names_copies_each_record_once(
    fresh_brokers: tuple[KafkaCluster, KafkaCluster], run_member: RunMember
) -> None:
    a, b = fresh_brokers
    for broker in (a, b):
        create_topic(broker, "ring", 2)
    from_a = [Rec(i % 2, f"k{i}".encode(), f"a-{i}".encode()) for i in range(300)]
    from_b = [Rec(i % 2, f"k{i}".encode(), f"b-{i}".encode()) for i in range(200)]
    produce(a, "ring", from_a)
    produce(b, "ring", from_b)

    ab = run_member(member_config(a, b, task_id(), {"ring": "ring"}))
    ba = run_member(member_config(b, a, task_id(), {"ring": "ring"}))

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
        msgs = [m for ms in read_all(broker, "ring", 2, 500).values() for m in ms]
        assert Counter(m.value() for m in msgs) == everything, broker.cluster_id
        for m in msgs:
            if m.value().startswith(copied.encode()):
                assert m.headers() == [(ORIGIN_HEADER, origin.cluster_id.encode())]
            else:
                assert m.headers() is None  # an original, untouched


def test_a_record_from_a_third_cluster_crosses_a_two_way_pair_once(
    fresh_brokers: tuple[KafkaCluster, KafkaCluster], run_member: RunMember
) -> None:
    """C->A plus A<->B: a record whose origin is C reaches B once and never comes back to A.

    The origin header alone cannot stop it (its origin is neither A nor B); `ksync-via`
    records that it was copied from A, so B->A skips it.
    """
    a, b = fresh_brokers
    for broker in (a, b):
        create_topic(broker, "tri", 1)
    from_c = [Rec(0, None, f"c-{i}".encode(), [(ORIGIN_HEADER, b"cluster-c")]) for i in range(50)]
    produce(a, "tri", from_c)

    ab = run_member(member_config(a, b, task_id(), {"tri": "tri"}))
    ba = run_member(member_config(b, a, task_id(), {"tri": "tri"}))

    wait_until(
        lambda: ab.snapshot().records_total == 50 and ba.snapshot().skipped_loop_total == 50,
        timeout_s=60,
        what="B->A to see and skip every copy",
    )
    on_a = read_all(a, "tri", 1, 50)[0]
    on_b = read_all(b, "tri", 1, 50)[0]
    assert [m.value() for m in on_a] == [r.value for r in from_c]  # nothing came back
    assert [m.value() for m in on_b] == [r.value for r in from_c]
    assert all(
        m.headers() == [(ORIGIN_HEADER, b"cluster-c"), (VIA_HEADER, a.cluster_id.encode())]
        for m in on_b
    )
    assert ba.snapshot().records_total == 0


# ---- topic switch --------------------------------------------------------------------------


def test_update_topics_with_an_added_topic_starts_copying_it(
    brokers: tuple[KafkaCluster, KafkaCluster], run_member: RunMember
) -> None:
    src, dst = brokers
    for topic in ("sw-a", "sw-b"):
        create_topic(src, topic, 2)
        create_topic(dst, topic, 2)
    a1 = [Rec(i % 2, None, f"a1-{i}".encode()) for i in range(20)]
    b1 = [Rec(i % 2, None, f"b1-{i}".encode()) for i in range(20)]
    produce(src, "sw-a", a1)
    produce(src, "sw-b", b1)

    member = run_member(member_config(src, dst, task_id(), {"sw-a": "sw-a"}))
    read_all(dst, "sw-a", 2, 20)
    assert member.snapshot().partitions == [("sw-a", 0), ("sw-a", 1)]

    member.member.update_topics({"sw-a": "sw-a", "sw-b": "sw-b"})
    member.wait_assigned(4)
    a2 = [Rec(i % 2, None, f"a2-{i}".encode()) for i in range(10)]
    b2 = [Rec(i % 2, None, f"b2-{i}".encode()) for i in range(10)]
    produce(src, "sw-a", a2)
    produce(src, "sw-b", b2)

    for topic, recs in (("sw-b", b1 + b2), ("sw-a", a1 + a2)):
        got = read_all(dst, topic, 2, len(recs))
        for p in range(2):
            assert values(got[p]) == [r.value for r in recs if r.partition == p], (topic, p)
