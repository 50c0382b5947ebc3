"""Exactly-once members against two real brokers: progress on the target, fencing of a
successor of the same unit and of an earlier `task_max` layout, aborted transactions
never visible to read_committed consumers, and source transactions in both modes.

Every source record's value is unique (`p:seq`); `copies` reads a target topic to its end
(read_committed unless told) and returns each partition's values in order, so "exactly
once" is an equality of lists: no duplicate, no gap, same order.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AclOperation, AdminClient, ResourceType
from helpers import create_topic, producer, wait_until
from scram_users import scram_user

from ksync.devkafka import KafkaCluster
from ksync.domain.groups import group_id
from ksync.kafka.errors import PersistentKafkaError
from ksync.replication.commit import Lost
from ksync.replication.member import Member, MemberConfig
from ksync.replication.shares import share
from ksync.replication.transactions import (
    check_one_source_per_target,
    ids_to_fence,
    layout_of,
    resume_offset,
    transactional_id,
)
from ksync.spec import StartPoint

from .support import RunningMember, as_connection, grant, member_config

RunMember = Callable[[MemberConfig | Member], RunningMember]


# ---- the pure rules ------------------------------------------------------------------------


def test_transactional_ids_name_their_layout_and_only_other_layouts_are_fenced():
    assert transactional_id("t1", 2, 3) == "ksync-t1-2-of-3"
    assert layout_of("ksync-t1-2-of-3", "t1") == 3
    assert layout_of("ksync-t1-3-of-3", "t1") is None  # no such slot
    assert layout_of("ksync-t10-0-of-1", "t1") is None  # another task
    seen = ["ksync-t1-0-of-1", "ksync-t1-1-of-3", "ksync-t1-0-of-3", "", "other"]
    # Layout 3 is the member's own (its siblings run): only every slot of layout 1 goes.
    assert ids_to_fence(seen, "t1", 3) == ["ksync-t1-0-of-1"]
    assert ids_to_fence(seen, "t1", 1) == [f"ksync-t1-{s}-of-3" for s in range(3)]
    assert ids_to_fence(seen, "t1", 2) == [
        "ksync-t1-0-of-1", *(f"ksync-t1-{s}-of-3" for s in range(3))
    ]


def test_resume_takes_the_larger_commit_and_merges_are_refused():
    assert resume_offset(10, 4) == 10  # last run exactly-once: the source group lags
    assert resume_offset(10, 25) == 25  # at-least-once ran since: the target group is stale
    assert resume_offset(-1001, -1001) == -1
    check_one_source_per_target({"a": "x", "b": "y"})
    with pytest.raises(PersistentKafkaError, match="a, b all go to x"):
        check_one_source_per_target({"a": "x", "b": "x", "c": "y"})


# ---- on real Kafka -------------------------------------------------------------------------


def _value(partition: int, seq: int) -> bytes:
    return b"%d:%06d" % (partition, seq)


def produce_seq(broker: KafkaCluster, topic: str, partitions: int, start: int, count: int) -> None:
    """Records `start`..`start+count-1` of each partition, values `p:seq`."""
    p = producer(broker)
    for seq in range(start, start + count):
        for part in range(partitions):
            p.produce(topic, _value(part, seq), partition=part)
    assert p.flush(30) == 0


def expected(partitions: int, count: int) -> dict[int, list[bytes]]:
    return {p: [_value(p, s) for s in range(count)] for p in range(partitions)}


def copies(
    broker: KafkaCluster, topic: str, partitions: int, isolation: str = "read_committed"
) -> dict[int, list[bytes]]:
    """Every value of `topic` per partition, in order, read to the end as `isolation`."""
    c = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "isolation.level": isolation,
            "log_level": 3,
        }
    )
    try:
        tps = [TopicPartition(topic, p, 0) for p in range(partitions)]
        ends = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(partitions)}
        c.assign(tps)
        out: dict[int, list[bytes]] = {p: [] for p in range(partitions)}
        done: set[int] = {p for p, end in ends.items() if end == 0}

        def read() -> bool:
            for msg in c.consume(1000, 0.5):
                if msg.error() is None:
                    out[msg.partition()].append(msg.value())
            for p in range(partitions):
                pos = c.position([TopicPartition(topic, p)])[0].offset
                if pos >= ends[p]:  # read_committed: the end is the last stable offset
                    done.add(p)
            return len(done) == partitions

        wait_until(read, timeout_s=60, interval_s=0, what=f"reading {topic} to its end")
        return out
    finally:
        c.close()


def target_progress(broker: KafkaCluster, task_id: str, topic: str, partitions: int) -> list[tuple[int, str]]:
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group_id(task_id), "log_level": 3})
    try:
        got = c.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
        return [(tp.offset, tp.metadata or "") for tp in got]
    finally:
        c.close()


def wait_copied(broker: KafkaCluster, topic: str, partitions: int, count: int) -> None:
    wait_until(
        lambda: copies(broker, topic, partitions) == expected(partitions, count),
        timeout_s=90,
        what=f"{count} records per partition on {topic}",
    )


def eos_config(brokers, task: str, src: str, dst: str, slot: int = 0, **kw) -> MemberConfig:
    source, target = brokers
    cfg = member_config(source, target, task, {src: dst}, delivery="exactly_once", **kw)
    return dataclasses.replace(cfg, slot=slot)


def test_exactly_once_keeps_progress_on_the_target_and_resumes_from_it(brokers, run_member):
    source, target = brokers
    src, dst, task = (f"eo-{uuid.uuid4().hex[:8]}" for _ in range(3))
    create_topic(source, src, 2)
    create_topic(target, dst, 2)
    produce_seq(source, src, 2, 0, 300)
    first = run_member(eos_config(brokers, task, src, dst))
    wait_copied(target, dst, 2, 300)
    wait_until(
        lambda: target_progress(target, task, dst, 2) == [(300, f"ksync-{task}-0-of-1")] * 2,
        what="the progress of both partitions in the target group, naming the unit",
    )
    snap = first.stop()
    assert snap.committed == {(src, 0): 300, (src, 1): 300}
    # The source group mirrors it (lag display); make it stale to show it is not the truth.
    c = Consumer({"bootstrap.servers": source.bootstrap, "group.id": group_id(task), "log_level": 3})
    c.commit(offsets=[TopicPartition(src, 0, 100), TopicPartition(src, 1, 100)], asynchronous=False)
    c.close()
    produce_seq(source, src, 2, 300, 200)
    second = run_member(eos_config(brokers, task, src, dst))
    wait_copied(target, dst, 2, 500)
    second.stop()


def test_a_successor_of_the_same_unit_fences_its_predecessor(brokers, run_member):
    """Two members of one unit at once (a zombie and its successor): the successor's
    start fences the first, whose open transaction is aborted and whose later commits are
    refused; read_committed readers see each record once, read_uncommitted ones may see
    the aborted copies too."""
    source, target = brokers
    src, dst, task = (f"eo-{uuid.uuid4().hex[:8]}" for _ in range(3))
    create_topic(source, src, 1)
    create_topic(target, dst, 1)
    produce_seq(source, src, 1, 0, 2_000)
    # A long commit interval: the zombie holds an open transaction when it is fenced.
    zombie = run_member(eos_config(brokers, task, src, dst, commit_interval_s=30.0))
    wait_until(
        lambda: len(copies(target, dst, 1, "read_uncommitted")[0]) >= 2_000,
        what="the zombie's uncommitted copies on the target",
    )
    assert copies(target, dst, 1)[0] == []  # not committed: invisible
    successor = run_member(eos_config(brokers, task, src, dst))
    wait_copied(target, dst, 1, 2_000)
    zombie.member.stop()
    zombie._thread.join(60)
    assert isinstance(zombie.error, Exception) and "fenced" in str(zombie.error), zombie.error
    zombie.error = None  # expected: the teardown must not count it
    produce_seq(source, src, 1, 2_000, 500)
    wait_copied(target, dst, 1, 2_500)
    successor.stop()
    # The aborted copies are on the log, where a read_uncommitted consumer sees them.
    assert len(copies(target, dst, 1, "read_uncommitted")[0]) >= 4_500


def test_a_new_task_max_fences_the_units_of_the_old_one(brokers, run_member):
    """task_max 3 -> 1 while one of the three still runs: the new member fences every id
    of layout 3 before copying, so the straggler can never commit again."""
    source, target = brokers
    src, dst, task = (f"eo-{uuid.uuid4().hex[:8]}" for _ in range(3))
    create_topic(source, src, 6)
    create_topic(target, dst, 6)
    produce_seq(source, src, 6, 0, 200)
    old = [
        run_member(eos_config(brokers, task, src, dst, slot=s, task_max=3)) for s in range(3)
    ]
    wait_copied(target, dst, 6, 200)
    for member in old[1:]:
        member.stop()
    straggler = old[0]
    mine = share({src: 6}, 0, 3)
    assert mine  # the straggler has partitions of a share that no longer exists
    new = run_member(eos_config(brokers, task, src, dst, slot=0, task_max=1))
    new.wait_assigned(6)
    produce_seq(source, src, 6, 200, 300)
    wait_copied(target, dst, 6, 500)
    wait_until(
        lambda: straggler.error is not None, what="the straggler of layout 3 to be fenced"
    )
    assert "fenced" in str(straggler.error)
    straggler.error = None
    assert {m for _, m in target_progress(target, task, dst, 6)} == {f"ksync-{task}-0-of-1"}
    new.stop()
    assert copies(target, dst, 6) == expected(6, 500)


@pytest.mark.parametrize("delivery", ["at_least_once", "exactly_once"])
def test_aborted_source_transactions_are_never_copied_and_markers_keep_lag_at_zero(
    brokers, run_member, delivery
):
    source, target = brokers
    src, dst, task = (f"eo-{uuid.uuid4().hex[:8]}" for _ in range(3))
    create_topic(source, src, 1)
    create_topic(target, dst, 1)
    txn = producer(source, **{"transactional.id": f"src-{task}"})
    txn.init_transactions(30)
    sent: list[bytes] = []
    for batch in range(6):
        txn.begin_transaction()
        values = [b"%d-%d" % (batch, i) for i in range(50)]
        for v in values:
            txn.produce(src, v, partition=0)
        if batch % 2:
            txn.abort_transaction(30)
        else:
            txn.commit_transaction(30)
            sent += values
    cfg = dataclasses.replace(
        member_config(source, target, task, {src: dst}), delivery=delivery
    )
    running = run_member(cfg)
    wait_until(lambda: copies(target, dst, 1)[0] == sent, what="the committed records only")
    end = source_end(source, src)
    # Six transactions end in six markers: the committed offset is the next position,
    # past the last marker, not the last record's offset + 1, so the lag is 0.
    wait_until(
        lambda: running.snapshot().committed.get((src, 0)) == end,
        what=f"progress at the source's end offset {end}",
    )
    snap = running.stop()
    assert snap.end_offsets[(src, 0)] - snap.committed[(src, 0)] == 0
    assert copies(target, dst, 1, "read_uncommitted")[0] == sent


def source_end(broker: KafkaCluster, topic: str) -> int:
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "probe", "log_level": 3})
    try:
        return c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1]
    finally:
        c.close()


# ---- the other paths keep working in this mode ---------------------------------------------


def _delete_before(broker: KafkaCluster, topic: str, offset: int) -> None:
    client = AdminClient({"bootstrap.servers": broker.bootstrap, "log_level": 3})
    for future in client.delete_records([TopicPartition(topic, 0, offset)]).values():
        assert future.result(timeout=30).low_watermark == offset


def test_a_latest_start_is_committed_on_the_target_before_anything_is_copied(brokers, run_member):
    source, target = brokers
    src, dst, task = (f"eo-{uuid.uuid4().hex[:8]}" for _ in range(3))
    create_topic(source, src, 1)
    create_topic(target, dst, 1)
    produce_seq(source, src, 1, 0, 20)
    member = run_member(eos_config(brokers, task, src, dst, start=StartPoint(type="latest")))
    member.wait_assigned(1)
    # The start is decided once: in the target group, naming the unit, before any record.
    assert target_progress(target, task, dst, 1) == [(20, f"ksync-{task}-0-of-1")]
    produce_seq(source, src, 1, 20, 5)
    wait_until(
        lambda: copies(target, dst, 1)[0] == [_value(0, s) for s in range(20, 25)],
        what="only the records after the start",
    )
    member.stop()


def test_records_lost_to_retention_are_counted_and_the_gap_committed_on_the_target(
    brokers, run_member
):
    source, target = brokers
    src, dst, task = (f"eo-{uuid.uuid4().hex[:8]}" for _ in range(3))
    create_topic(source, src, 1)
    create_topic(target, dst, 1)
    produce_seq(source, src, 1, 0, 100)
    first = run_member(eos_config(brokers, task, src, dst))
    wait_copied(target, dst, 1, 100)
    first.stop()
    produce_seq(source, src, 1, 100, 100)
    _delete_before(source, src, 150)  # 100..149 never copied
    second = run_member(eos_config(brokers, task, src, dst))
    wait_until(
        lambda: target_progress(target, task, dst, 1)[0][0] == 200,
        what="the progress past the gap on the target",
    )
    snap = second.stop()
    assert snap.lost == {(src, 0): Lost(records=50, first=100, earliest=150)}
    assert snap.partition_records == {(src, 0): 50}
    assert copies(target, dst, 1)[0] == [_value(0, s) for s in [*range(100), *range(150, 200)]]


def test_a_refused_record_blocks_its_topic_with_the_progress_up_to_it_on_the_target(
    brokers, run_member
):
    source, target = brokers
    src, dst, task = (f"eo-{uuid.uuid4().hex[:8]}" for _ in range(3))
    limit = 10_000
    create_topic(source, src, 1)
    create_topic(target, dst, 1, {"max.message.bytes": str(limit)})
    p = producer(source)
    for seq in range(200):
        p.produce(src, b"big-" + b"." * (2 * limit) if seq == 100 else _value(0, seq), partition=0)
    assert p.flush(30) == 0
    member = run_member(eos_config(brokers, task, src, dst))
    blocked = wait_until(lambda: member.snapshot().blocked, timeout_s=60, what=f"{src} blocked")
    assert f"offset 100 of {src}[0]" in blocked[src], blocked
    wait_until(
        lambda: target_progress(target, task, dst, 1)[0][0] == 100,
        what="progress up to the refused record on the target",
    )
    assert copies(target, dst, 1)[0] == [_value(0, s) for s in range(100)]
    assert member.stop().error is None


def test_a_target_that_refuses_the_transactional_id_fails_the_member_naming_the_right(
    brokers, run_member
):
    source, target = brokers
    src, dst, task = (f"eo-{uuid.uuid4().hex[:8]}" for _ in range(3))
    create_topic(source, src, 1)
    create_topic(target, dst, 1)
    with scram_user([target], "txn") as user:
        # What copying at least once needs on the target, without any transactional id.
        grant(target, user.name, ResourceType.TOPIC, dst, [AclOperation.DESCRIBE, AclOperation.WRITE])
        cfg = dataclasses.replace(
            eos_config(brokers, task, src, dst), target=as_connection(user, target)
        )
        member = run_member(cfg)
        member._thread.join(60)
        error = str(member.error)
        member.error = None  # expected: the teardown must not count it
    assert f"ksync-{task}-0-of-1" in error and "grant Describe and Write on transactional id" in error
    assert isinstance(member.member.failure, PersistentKafkaError)
