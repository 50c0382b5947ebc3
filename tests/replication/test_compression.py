"""A member whose task compresses (lz4, zstd) copies every record unchanged — key, value,
headers, timestamp and partition — and the target really stores compressed batches.

Real brokers: the source topic is written uncompressed, so the bytes of the target
partition's log segments, next to the source's, tell whether the batches were compressed
(Kafka keeps a producer's compressed batch as it is on disk)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from confluent_kafka import TIMESTAMP_CREATE_TIME
from helpers import create_topic, log_bytes, read_all

from ksync.devkafka import KafkaCluster
from ksync.spec import ClientTuning, StartPoint

from .support import RunningMember, member_config
from .test_member import (
    Rec,
    by_partition,
    expected_copy,
    fidelity_records,
    fields,
    produce,
    task_id,
)

RunMember = Callable[..., RunningMember]
PARTITIONS = 3
COUNT = 1_500


def compressible(topic: str) -> list[Rec]:
    """The fidelity shapes (null keys and values, repeated and binary headers), with values
    long enough that a codec has something to save."""
    return [
        Rec(r.partition, r.key, None if r.value is None else r.value * 20, r.headers, r.timestamp)
        for r in fidelity_records(topic, PARTITIONS, COUNT)
    ]


@pytest.mark.parametrize("codec", ["lz4", "zstd", "none"])
def test_a_compressing_task_copies_every_record_unchanged(
    brokers: tuple[KafkaCluster, KafkaCluster], run_member: RunMember, unique: str, codec: str
) -> None:
    src, dst = brokers
    topic = f"zip-{codec}-{unique}"
    records = compressible(topic)
    create_topic(src, topic, PARTITIONS)
    create_topic(dst, f"copy.{topic}", PARTITIONS)
    produce(src, topic, records, **{"compression.type": "none"})

    tuning = ClientTuning(compression=codec, linger_ms=20, batch_bytes=262_144)  # type: ignore[arg-type]
    member = run_member(
        member_config(
            src, dst, task_id(), {topic: f"copy.{topic}"}, start=StartPoint(type="earliest"), tuning=tuning
        )
    )
    got = read_all(dst, f"copy.{topic}", PARTITIONS, COUNT)
    for p, recs in by_partition(records, PARTITIONS).items():
        assert [fields(m) for m in got[p]] == [expected_copy(r, src.cluster_id) for r in recs], f"[{p}]"
        assert {m.timestamp()[0] for m in got[p]} == {TIMESTAMP_CREATE_TIME}
    assert member.stop().records_total == COUNT

    source_bytes, target_bytes = log_bytes(src, topic, PARTITIONS), log_bytes(dst, f"copy.{topic}", PARTITIONS)
    if codec == "none":
        # The control: uncompressed, the copy (with its origin header) is no smaller.
        assert target_bytes >= source_bytes, (source_bytes, target_bytes)
    else:
        assert target_bytes * 3 < source_bytes, (codec, source_bytes, target_bytes)
