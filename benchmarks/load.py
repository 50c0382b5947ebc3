"""Records into the source: the data set every replicator copies, the brokers' warm-up,
and the fixed-rate load of the latency phase."""

from __future__ import annotations

import time

from confluent_kafka import OFFSET_BEGINNING, KafkaError, TopicPartition
from harness import (
    BenchError,
    Result,
    closing_consumer,
    create_topic,
    delete_topic,
    flush_all,
    make_consumer,
    make_producer,
    produce_retrying,
    value_pool,
)

HEADERS = [("bench", b"ksync")]


def load(src: str, topic: str, records: int, size: int, partitions: int,
         deadline_s: float, name: str = "load", values: list[bytes] | None = None) -> Result:
    """Produce `records` records (V-byte values, keys b"k%08d", one header) round-robin
    over the partitions of a new `topic`, with a tuned idempotent producer."""
    create_topic(src, topic, partitions)
    producer, errors, failed = make_producer(src, name)
    values = values or value_pool(size)
    mask = len(values) - 1
    deadline = time.monotonic() + deadline_s
    t0 = time.perf_counter()
    for i in range(records):
        produce_retrying(producer, topic, values[i & mask], b"k%08d" % i,
                         partition=i % partitions, headers=HEADERS)
        if i & 1023 == 0:
            producer.poll(0)
            if time.monotonic() > deadline:
                raise BenchError(f"{name}: only {i} records queued at the deadline")
    flush_all(producer, name, deadline)
    seconds = time.perf_counter() - t0
    errors.check()
    if failed:
        raise BenchError(f"{name}: {len(failed)} records failed, first: {failed[0]}")
    return Result(name, records, size, seconds)


def read_back(bootstrap: str, topic: str, partitions: int, records: int, deadline_s: float,
              who: str) -> float:
    """Read every record of `topic` (assign, no group); returns the seconds it took."""
    consumer, errors = make_consumer(bootstrap, who)
    deadline = time.monotonic() + deadline_s
    with closing_consumer(consumer):
        t0 = time.perf_counter()
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
        count = 0
        while count < records:
            for m in consumer.consume(num_messages=10_000, timeout=0.5):
                err = m.error()
                if err is None:
                    count += 1
                elif err.code() != KafkaError._PARTITION_EOF:
                    raise BenchError(f"{who}: consume error: {err}")
            errors.check()
            if time.monotonic() > deadline:
                raise BenchError(f"{who}: only {count} of {records} records read by the deadline")
        return time.perf_counter() - t0


def warm_brokers(src: str, dst: str, records: int, size: int, partitions: int,
                 deadline_s: float) -> None:
    """Write and read back `records` records on both brokers, untimed.

    Fresh brokers are slow for their first ~15 s (the JVM compiles the produce and fetch
    paths): whoever ran first would look several times worse.
    """
    for bootstrap, who in ((src, "warm-src"), (dst, "warm-dst")):
        topic = f"bench-{who}"
        load(bootstrap, topic, records, size, partitions, deadline_s, name=who)
        read_back(bootstrap, topic, partitions, records, deadline_s, who)
        delete_topic(bootstrap, topic)
