"""Lost history against two real brokers: the source's retention overtaking a member's
position, and a source topic deleted and created again under its name.

Retention is made to overtake a position deterministically with DeleteRecords (what a
retention check does to a log's start, at an offset the test chooses), while the member
is stopped: the "long pause" or "target outage" of a real task.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable

from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient
from helpers import admin, create_topic, delete_topic, producer, read_all, wait_until

from ksync.devkafka import KafkaCluster
from ksync.domain.topics import TopicMapping, deleted_topic, lost_to_retention
from ksync.replication.commit import Lost
from ksync.replication.member import Member, MemberConfig
from ksync.replication.partition_start import restart_layout
from ksync.replication.policy import ReplicationPolicy
from ksync.replication.topic_filter import TopicFilter
from ksync.replication.topic_mirror import TopicMirror
from ksync.spec import SourceSpec, StartPoint

from .support import RunningMember, member_config
from .test_member import committed as committed_offsets

RunMember = Callable[[MemberConfig | Member], RunningMember]


def produce_values(broker: KafkaCluster, topic: str, values: list[bytes]) -> None:
    p = producer(broker)
    for v in values:
        p.produce(topic, v, partition=0)
    assert p.flush(30) == 0


def delete_before(broker: KafkaCluster, topic: str, offset: int) -> None:
    """Make offset `offset` the partition's earliest, as retention would."""
    client = AdminClient({"bootstrap.servers": broker.bootstrap, "log_level": 3})
    for future in client.delete_records([TopicPartition(topic, 0, offset)]).values():
        assert future.result(timeout=30).low_watermark == offset


def committed(broker: KafkaCluster, group: str, topic: str) -> int:
    """The group's committed offset of the topic's only partition."""
    return committed_offsets(broker, group, topic, 1)[0]


def copied_then_stopped(
    brokers: tuple[KafkaCluster, KafkaCluster], run_member: RunMember, topic: str, values: list[bytes]
) -> MemberConfig:
    """A one-partition `topic` whose `values` a member copied, committed, and stopped."""
    src, dst = brokers
    create_topic(src, topic, 1)
    create_topic(dst, topic, 1)
    produce_values(src, topic, values)
    cfg = member_config(src, dst, uuid.uuid4().hex[:8], {topic: topic})
    first = run_member(cfg)
    read_all(dst, topic, 1, len(values))
    first.stop()
    assert committed(src, cfg.group_id, topic) == len(values)
    return cfg


def test_records_deleted_past_a_stopped_members_position_are_counted_once_and_the_rest_copied(
    brokers: tuple[KafkaCluster, KafkaCluster], run_member: RunMember, unique: str
) -> None:
    src, dst = brokers
    topic = f"lost-{unique}"
    values = [f"r-{i}".encode() for i in range(200)]
    cfg = copied_then_stopped(brokers, run_member, topic, values[:100])

    # While the member is away, 100 more arrive and retention deletes up to offset 150:
    # 100..149 were never copied.
    produce_values(src, topic, values[100:])
    delete_before(src, topic, 150)

    second = run_member(cfg)
    snap = wait_until(
        lambda: (s := second.snapshot()) and s.lost and s,
        timeout_s=60,
        what="the member to notice the records lost to retention",
    )
    assert snap.lost == {(topic, 0): Lost(records=50, first=100, earliest=150)}
    assert snap.lost_total == 50
    assert lost_to_retention(topic, 0, 50, 100, 150) in snap.warnings
    got = read_all(dst, topic, 1, 150)[0]
    # Every record after the new earliest, once, after the 100 copied before the pause.
    assert [m.value() for m in got] == values[:100] + values[150:]
    wait_until(
        lambda: committed(src, cfg.group_id, topic) == 200,
        timeout_s=30,
        what="the progress to pass the gap",
    )
    after = second.stop()
    # Only what reached the target counts as copied; the gap counts as lost, once.
    assert after.partition_records == {(topic, 0): 50}
    assert after.lost_total == 50

    # The gap is behind the commit: a restart neither meets nor counts it again.
    third = run_member(cfg)
    third.wait_assigned(1)
    produce_values(src, topic, [b"after"])
    got = read_all(dst, topic, 1, 151)[0]
    assert [m.value() for m in got][-2:] == [values[-1], b"after"]
    assert third.stop().lost == {}


def test_a_partition_deleted_up_to_its_end_commits_its_new_start_without_reading_a_record(
    brokers: tuple[KafkaCluster, KafkaCluster], run_member: RunMember, unique: str
) -> None:
    src, dst = brokers
    topic = f"lost-all-{unique}"
    cfg = copied_then_stopped(brokers, run_member, topic, [b"a"] * 10)
    produce_values(src, topic, [b"b"] * 30)
    delete_before(src, topic, 40)  # nothing left after the member's position

    second = run_member(cfg)
    wait_until(
        lambda: committed(src, cfg.group_id, topic) == 40,
        timeout_s=60,
        what="the new start (40) to be committed",
    )
    assert second.stop().lost == {(topic, 0): Lost(records=30, first=10, earliest=40)}
    third = run_member(cfg)  # reads on from 40: the gap is not met again
    third.wait_assigned(1)
    produce_values(src, topic, [b"c"])
    assert [m.value() for m in read_all(dst, topic, 1, 11)[0]] == [b"a"] * 10 + [b"c"]
    assert third.stop().lost == {}


def test_a_latest_start_on_a_topic_whose_start_was_deleted_copies_only_new_records(
    brokers: tuple[KafkaCluster, KafkaCluster], run_member: RunMember, unique: str
) -> None:
    # A deliberate start point is not a loss: it is resolved to a number in range.
    src, dst = brokers
    topic = f"lost-latest-{unique}"
    create_topic(src, topic, 1)
    create_topic(dst, topic, 1)
    produce_values(src, topic, [b"old"] * 20)
    delete_before(src, topic, 15)
    cfg = member_config(
        src, dst, uuid.uuid4().hex[:8], {topic: topic}, start=StartPoint(type="latest")
    )
    member = run_member(cfg)
    member.wait_assigned(1)
    produce_values(src, topic, [b"new"])
    assert [m.value() for m in read_all(dst, topic, 1, 1)[0]] == [b"new"]
    assert member.stop().lost == {}


# ---- a source topic deleted and created again -----------------------------------------------


def test_a_recreated_source_topic_is_blocked_with_a_sentence_until_the_progress_is_reset(
    brokers: tuple[KafkaCluster, KafkaCluster], unique: str
) -> None:
    src, dst = brokers
    again, steady = f"again-{unique}", f"steady-{unique}"
    create_topic(src, again, 1)
    create_topic(src, steady, 1)
    spec = SourceSpec(instance_id="ins-src", topics=[again, steady])

    def reconcile(known: Iterable[TopicMapping]) -> tuple[dict[str, TopicMapping], list[str]]:
        mirror = TopicMirror(
            source=admin(src),
            target=admin(dst),
            policy=ReplicationPolicy(prefix="rc"),
            topic_filter=TopicFilter.from_spec(spec),
            keep_partition=True,
            sync_configs=False,
            target_broker_count=1,
            known=list(known),
        )
        result = mirror.reconcile()
        return {m.source: m for m in result.mappings}, result.warnings

    first, _ = reconcile(())
    ids = {name: str(m.topic_id) for name, m in first.items()}
    assert all(m.topic_id for m in first.values()) and ids[again] != ids[steady]
    assert reconcile(first.values())[0] == first  # the same topics: nothing changes

    delete_topic(src, again)
    # Gone from the source: shown blocked, its id kept for as long as it is gone.
    gone, _ = reconcile(first.values())
    assert gone[again].state == "blocked" and gone[again].topic_id == ids[again]
    assert gone[again].error == deleted_topic(again, f"rc.{again}")
    assert reconcile(gone.values())[0] == gone

    create_topic(src, again, 1)
    mappings, warnings = reconcile(gone.values())
    blocked = mappings[again]
    assert blocked.state == "blocked"
    assert blocked.topic_id == ids[again]  # the id it knew: it stays blocked
    assert blocked.error is not None
    assert f"source topic {again} was deleted and created again" in blocked.error
    assert f"target topic rc.{again}" in blocked.error
    assert "reset its progress" in blocked.error
    assert blocked.error in warnings
    assert mappings[steady].syncing and mappings[steady].topic_id == ids[steady]
    assert reconcile(mappings.values())[0] == mappings  # stays blocked

    # A progress reset forgets the ids: the new topic is then copied as the topic it is.
    reset = restart_layout(mappings.values())
    assert {m.topic_id for m in reset} == {None}
    fresh, _ = reconcile(reset)
    assert fresh[again].syncing and fresh[again].topic_id not in (None, ids[again])
