"""The librdkafka settings of a member's clients, from the task's client tuning (pure)."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer, Producer

from ksync.kafka.target_producer import MAX_BATCH_BYTES, batch_bytes, producer_settings
from ksync.replication.member_clients import consumer_settings
from ksync.spec import ClientTuning


def test_default_tuning_gives_the_settings_every_task_had() -> None:
    producer = producer_settings(100_000, MAX_BATCH_BYTES)
    assert (producer["compression.codec"], producer["linger.ms"], producer["batch.size"]) == (
        "none", 5, 1_000_000
    )
    consumer = consumer_settings("g", "c")
    assert (consumer["fetch.max.bytes"], consumer["max.partition.fetch.bytes"]) == (
        52_428_800, 10_485_760
    )
    assert producer_settings(100_000, MAX_BATCH_BYTES, ClientTuning()) == producer
    assert consumer_settings("g", "c", ClientTuning()) == consumer


def test_the_tuning_reaches_the_producer() -> None:
    tuning = ClientTuning(compression="zstd", linger_ms=80, batch_bytes=4_000_000)
    settings = producer_settings(100_000, 8_000_000, tuning)
    assert (settings["compression.codec"], settings["linger.ms"], settings["batch.size"]) == (
        "zstd", 80, 4_000_000
    )
    # What keeps records in order and unlost does not depend on the tuning.
    assert settings["enable.idempotence"] is True and settings["acks"] == "all"


def test_the_batch_is_the_smaller_of_the_cap_and_what_the_target_topics_accept() -> None:
    small_cap = ClientTuning(batch_bytes=64_000)
    # The topics would take 1 MB: the task's cap wins.
    assert producer_settings(1, batch_bytes([1_048_588], small_cap.batch_bytes), small_cap)[
        "batch.size"
    ] == 64_000
    big_cap = ClientTuning(batch_bytes=8_000_000)
    # A topic takes only 50 kB: it wins, however large the cap.
    assert batch_bytes([2_000_000, 50_000], big_cap.batch_bytes) == 50_000
    assert producer_settings(1, 50_000, big_cap)["batch.size"] == 50_000
    # Topics that take more than the default batch get the larger cap.
    assert batch_bytes([10_485_760], big_cap.batch_bytes) == 8_000_000
    # A batch found without the topic limits (the default) is still capped.
    assert producer_settings(1, MAX_BATCH_BYTES, small_cap)["batch.size"] == 64_000


def test_the_fetch_size_reaches_the_consumer_and_bounds_each_partition() -> None:
    big = consumer_settings("g", "c", ClientTuning(fetch_max_bytes=104_857_600))
    assert (big["fetch.max.bytes"], big["max.partition.fetch.bytes"]) == (104_857_600, 10_485_760)
    small = consumer_settings("g", "c", ClientTuning(fetch_max_bytes=2_000_000))
    assert (small["fetch.max.bytes"], small["max.partition.fetch.bytes"]) == (2_000_000, 2_000_000)
    assert small["enable.auto.commit"] is False


@pytest.mark.parametrize("codec", ["none", "lz4", "zstd", "snappy", "gzip"])
def test_librdkafka_accepts_every_codec_and_the_extreme_sizes(codec: str) -> None:
    """The linked librdkafka has every codec built in and takes the bounds ksync allows:
    a setting it refused would fail every member of such a task at start."""
    high = ClientTuning(
        compression=codec, linger_ms=10_000, batch_bytes=16_777_216, fetch_max_bytes=268_435_456
    )
    low = ClientTuning(compression=codec, linger_ms=0, batch_bytes=1_024, fetch_max_bytes=1_048_576)
    for tuning in (high, low):
        # No bootstrap.servers: the clients are built and checked, never connect.
        Producer({**producer_settings(1_000, tuning.batch_bytes, tuning), "log_level": 0})
        consumer = Consumer({**consumer_settings("g", "c", tuning), "log_level": 0})
        consumer.close()
