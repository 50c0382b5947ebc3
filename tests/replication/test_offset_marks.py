"""Offset pairs a member records for offset sync, on real brokers: each names one record
on both sides exactly, and a refused record produced without a callback still fails the
checkpoint (the producer has no global delivery callback in that mode)."""

from __future__ import annotations

import itertools
import threading

import pytest
from confluent_kafka import Consumer, TopicPartition
from helpers import create_topic, producer, read_all, wait_until

from ksync.devkafka import KafkaCluster
from ksync.kafka.errors import KsyncKafkaError
from ksync.kafka.target_producer import TargetProducer
from ksync.replication.offset_translation import MARK_SPACING, chain, reread_bound, translate

from .support import member_config

PARTITIONS = 2


def _values_at(broker: KafkaCluster, topic: str, partition: int) -> dict[int, bytes]:
    """Offset -> value of every record of a partition."""
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "peek", "log_level": 3})
    try:
        high = c.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[1]
        c.assign([TopicPartition(topic, partition, 0)])
        out: dict[int, bytes] = {}
        wait_until(
            lambda: [out.update({m.offset(): m.value()}) for m in c.consume(1000, 0.5) if not m.error()]
            != None
            and (not out or max(out) + 1 >= high),
            what=f"{topic}[{partition}] read",
        )
        return out
    finally:
        c.close()


def test_pairs_name_one_record_on_both_sides(brokers, run_member, unique) -> None:
    src, dst = brokers
    topic = f"marks-{unique}"
    create_topic(src, topic, PARTITIONS)
    create_topic(dst, topic, PARTITIONS)
    p = producer(dst)
    for i in range(333):  # the target already holds records: offsets differ
        p.produce(topic, b"foreign", partition=i % PARTITIONS)
    assert p.flush(30) == 0
    p = producer(src)
    for i in range(5000):
        p.produce(topic, f"r-{i}".encode(), partition=i % PARTITIONS)
    assert p.flush(30) == 0
    cfg = member_config(src, dst, f"task-m{unique}", {topic: topic}, offset_pairs=True)
    member = run_member(cfg)
    read_all(dst, topic, PARTITIONS, 5000 + 333)
    snap = member.stop()
    assert snap.records_total == 5000
    for part in range(PARTITIONS):
        pairs = chain((s, t) for _, tp, pp, s, t in snap.offset_pairs if tp == topic and pp == part)
        assert pairs and pairs[0].source == 0, "the first record is marked"
        source, target = _values_at(src, topic, part), _values_at(dst, topic, part)
        for s, t in pairs:
            assert source[s] == target[t], (s, t)
        steps = [b.source - a.source for a, b in itertools.pairwise(pairs)]
        assert min(steps) >= MARK_SPACING, steps
        assert max(steps) <= reread_bound(cfg.batch_size) + 1, steps
        # The translation of any committed offset never points past its record.
        for g in range(0, len(source), 97):
            x = translate(pairs, g)
            assert x is not None
            copied_from_g = [t for t, v in target.items() if v == source[g]]
            assert copied_from_g and x <= copied_from_g[0]


def test_a_refused_record_without_a_callback_fails_the_checkpoint(brokers, unique) -> None:
    """No global delivery callback with marks: the gap-less guarantee makes the refusal
    fatal, and draining the producer raises it, so nothing is committed after it."""
    src, dst = brokers
    topic = f"marks-refused-{unique}"
    create_topic(dst, topic, 1, {"max.message.bytes": "2000"})
    cfg = member_config(src, dst, f"task-r{unique}", {topic: topic})
    target = TargetProducer(
        cfg.target,
        name="test",
        max_unacked_records=100,
        timeout_s=10.0,
        stop=threading.Event(),
        warn=lambda text: None,
        waiting=lambda: None,
        marks=True,
    )
    target.open([topic])
    try:
        produce = target.client.produce
        for value in (b"a" * 10, b"b" * 10_000, b"c" * 10):  # the second is refused
            produce(topic, value, None, 0, None, None, 0, [])
        with pytest.raises(KsyncKafkaError) as raised:
            target.drain(10.0, stoppable=False)
        assert "too large" in str(raised.value).lower(), str(raised.value)
    finally:
        target.abandon()
