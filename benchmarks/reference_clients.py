"""The bounds a replicator is judged against, from librdkafka (confluent-kafka) clients:

consume-only  a tuned consumer reads every record of the source topic back (assign, no
              group join): the ceiling of the reading side of a sync.
produce-only  a tuned producer with the settings a sync must use (acks=all, idempotence,
              error-only delivery reports) writes as many records into a fresh topic on
              the target, until flush() returns: the ceiling of the writing side.
naive         what a user writes by hand in one process: consume(500) batches, one
              produce() + poll(0) per record keeping key, value, headers, timestamp and
              partition, flush() then a synchronous commit every 50,000 records.

librdkafka rather than Kafka's kafka-{producer,consumer}-perf-test: the Java tools are not
in the broker's classpath (kafka-tools is not among the jars), and librdkafka's batching,
with these settings, is what ksync itself runs on.
"""

from __future__ import annotations

import time

from confluent_kafka import KafkaError
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
from load import HEADERS, read_back

PRODUCE_ONLY_TOPIC = "bench-produce-only"
NAIVE_TOPIC = "bench-naive"
NAIVE_BATCH = 500
NAIVE_COMMIT_EVERY = 50_000


def consume_only(src: str, topic: str, records: int, size: int, partitions: int,
                 deadline_s: float) -> Result:
    seconds = read_back(src, topic, partitions, records, deadline_s, "consume-only")
    return Result("consume-only", records, size, seconds)


def produce_only(dst: str, records: int, size: int, partitions: int, deadline_s: float) -> Result:
    create_topic(dst, PRODUCE_ONLY_TOPIC, partitions)
    producer, errors, failed = make_producer(dst, "produce-only")
    values = value_pool(size)
    mask = len(values) - 1
    now_ms = int(time.time() * 1000)
    deadline = time.monotonic() + deadline_s
    t0 = time.perf_counter()
    for i in range(records):
        # The same call shape a sync makes: explicit partition, timestamp and headers.
        produce_retrying(producer, PRODUCE_ONLY_TOPIC, values[i & mask], b"k%08d" % i,
                         partition=i % partitions, timestamp=now_ms, headers=HEADERS)
        if i & 1023 == 0:
            producer.poll(0)
            if time.monotonic() > deadline:
                raise BenchError(f"produce-only: only {i} records queued at the deadline")
    flush_all(producer, "produce-only", deadline)
    seconds = time.perf_counter() - t0
    errors.check()
    if failed:
        raise BenchError(f"produce-only: {len(failed)} records failed, first: {failed[0]}")
    delete_topic(dst, PRODUCE_ONLY_TOPIC)
    return Result("produce-only", records, size, seconds)


def naive(src: str, dst: str, topic: str, records: int, size: int, partitions: int,
          session_timeout_ms: int, deadline_s: float) -> Result:
    """The hand-written loop, timed from subscribe() (its group join included)."""
    create_topic(dst, NAIVE_TOPIC, partitions)
    producer, perrors, failed = make_producer(dst, "naive-producer")
    consumer, cerrors = make_consumer(src, "naive", **{"session.timeout.ms": session_timeout_ms})
    deadline = time.monotonic() + deadline_s
    with closing_consumer(consumer):
        t0 = time.perf_counter()
        consumer.subscribe([topic])
        count = since_commit = 0
        t_first: float | None = None
        while count < records:
            msgs = consumer.consume(NAIVE_BATCH, 1.0)
            for msg in msgs:
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        continue
                    raise BenchError(f"naive: consume error: {err}")
                produce_retrying(producer, NAIVE_TOPIC, msg.value(), msg.key(),
                                 partition=msg.partition(), timestamp=msg.timestamp()[1],
                                 headers=msg.headers())
                producer.poll(0)
                count += 1
                since_commit += 1
            if msgs and t_first is None:
                t_first = time.perf_counter()
            if since_commit >= NAIVE_COMMIT_EVERY or (count >= records and since_commit):
                flush_all(producer, "naive", deadline)
                consumer.commit(asynchronous=False)
                since_commit = 0
            if failed:
                raise BenchError(f"naive: {len(failed)} records failed, first: {failed[0]}")
            perrors.check()
            cerrors.check()
            if time.monotonic() > deadline:
                raise BenchError(f"naive: only {count} of {records} records copied by the deadline")
        flush_all(producer, "naive", deadline)
        t_end = time.perf_counter()
    if count != records:
        raise BenchError(f"naive: copied {count} records, expected {records}")
    delete_topic(dst, NAIVE_TOPIC)
    # Steady here is from the first record consumed (the loop has no target observer).
    return Result("naive", records, size, t_end - t0, steady_s=t_end - (t_first or t0))
