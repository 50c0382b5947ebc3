"""The refused-record check without a broker: which topics need a screen at all, the size
of a record as the broker measures it, and what a screen refuses. The check on real Kafka
(blocking, resuming, dead-lettering) is tests/e2e/test_refused_records.py."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from ksync.kafka.admin import TopicLimits
from ksync.replication.dead_letter import (
    BATCH_OVERHEAD,
    ERRORS_MESSAGE,
    ERRORS_OFFSET,
    ERRORS_PARTITION,
    ERRORS_TOPIC,
    Refusal,
    Screen,
    batch_size,
    dead_letter_headers,
    header_size,
    screen_for,
    varint_size,
)

PRODUCER_MAX = 100_000_000
MB = 1_048_588  # Kafka's default max.message.bytes


def limits(size: int | None = MB, compacted: bool = False) -> TopicLimits:
    return TopicLimits(max_message_bytes=size, compacted=compacted)


@dataclass
class Rec:
    """A consumed record as the screen reads it (a plain value, not a client)."""

    value_: bytes | None
    key_: bytes | None = b"k"
    headers_: list[tuple[str, str | bytes | None]] | None = None
    topic_: str = "orders"
    partition_: int = 2
    offset_: int = 41

    def error(self) -> None:
        return None

    def headers(self) -> list[tuple[str, str | bytes | None]] | None:
        return self.headers_

    def timestamp(self) -> tuple[int, int]:
        return (1, 1_700_000_000_000)

    def topic(self) -> str:
        return self.topic_

    def partition(self) -> int:
        return self.partition_

    def offset(self) -> int:
        return self.offset_

    def value(self) -> bytes | None:
        return self.value_

    def key(self) -> bytes | None:
        return self.key_

    def __len__(self) -> int:
        return len(self.value_ or b"")


def test_a_target_as_lenient_as_its_source_needs_no_screen() -> None:
    # The usual case, which must cost nothing per record: equal limits, or a larger target.
    assert screen_for("t", limits(), limits(), PRODUCER_MAX) is None
    assert screen_for("t", limits(MB), limits(4 * MB), PRODUCER_MAX) is None
    assert screen_for("t", limits(compacted=True), limits(compacted=True), PRODUCER_MAX) is None
    # A compacted source under a plain target: every record has a key already.
    assert screen_for("t", limits(compacted=True), limits(), PRODUCER_MAX) is None
    # Limits the broker does not report (tansu lists only keys that were set) are lenient.
    assert screen_for("t", limits(None), limits(None), PRODUCER_MAX) is None
    assert screen_for("t", limits(), None, PRODUCER_MAX) is None


def test_a_stricter_target_gets_a_screen_for_what_it_refuses() -> None:
    assert screen_for("t", limits(MB), limits(500_000), PRODUCER_MAX) == Screen("t", 500_000, False)
    assert screen_for("t", limits(), limits(compacted=True), PRODUCER_MAX) == Screen("t", None, True)
    both = screen_for("t", limits(MB), limits(1000, compacted=True), PRODUCER_MAX)
    assert both == Screen("t", 1000, True)
    # The producer's own cap counts like a target limit: a source holding larger records.
    assert screen_for("t", limits(200_000_000), limits(200_000_000), PRODUCER_MAX) == Screen(
        "t", PRODUCER_MAX, False
    )
    # A source whose limit is not known: the target's limit is checked.
    assert screen_for("t", limits(None), limits(500_000), PRODUCER_MAX) == Screen("t", 500_000, False)


@pytest.mark.parametrize(
    ("n", "size"), [(0, 1), (-1, 1), (63, 1), (64, 2), (-64, 1), (-65, 2), (8191, 2), (8192, 3)]
)
def test_varint_sizes_are_kafkas_zigzag_encoding(n: int, size: int) -> None:
    assert varint_size(n) == size


def test_batch_size_counts_the_record_as_the_broker_does() -> None:
    # Null key and value, no header: attributes, timestamp and offset deltas, key and
    # value lengths (-1), header count: 6 bytes, with their own length varint 7.
    assert batch_size(None, None, None) == BATCH_OVERHEAD + 7 == 68
    # Key and value add their bytes; a value of 100 bytes needs a 2-byte length, and so
    # does the record's body (108 bytes) then.
    assert batch_size(b"k", b"v" * 100, None) == 68 + 1 + 100 + 1 + 1 == 171
    assert batch_size(None, b"v" * 57, None) == BATCH_OVERHEAD + 1 + 6 + 57
    # One byte more, and the body (64 bytes) needs a 2-byte length.
    assert batch_size(None, b"v" * 58, None) == BATCH_OVERHEAD + 2 + 6 + 58
    header = header_size("h", b"xy")
    assert header == 1 + 1 + 1 + 2
    assert batch_size(None, None, [("h", b"xy")]) == 68 + header
    # ksync's own header counts too (`extra`), as a header of its own.
    assert batch_size(None, None, None, extra=header) == 68 + header
    assert header_size("h", None) == 1 + 1 + 1


def test_a_screen_refuses_records_above_its_limit_only() -> None:
    screen = Screen("bak.orders", 1000, False)
    # The largest value whose batch is exactly the limit (two length varints of 2 bytes).
    fits = Rec(b"v" * (1000 - BATCH_OVERHEAD - 2 - 3 - 2 - 2 - 1))
    assert batch_size(fits.key_, fits.value_, None) == 1000
    assert screen.refuses(fits, 0) is None
    big = Rec(fits.value_ + b"v")  # type: ignore[operator]
    refusal = screen.refuses(big, 0)
    assert refusal == Refusal("bak.orders", "orders", 2, 41, 1001, 1000)
    # The header ksync adds is what tips it over.
    assert screen.refuses(fits, 3) == Refusal("bak.orders", "orders", 2, 41, 1003, 1000)


def test_a_compacted_target_refuses_records_without_a_key() -> None:
    screen = Screen("bak.orders", None, True)
    assert screen.refuses(Rec(b"v" * 10_000_000), 0) is None
    refusal = screen.refuses(Rec(b"v", key_=None), 0)
    assert refusal == Refusal("bak.orders", "orders", 2, 41, None, None)
    assert "no key" in refusal.reason and "compact" in refusal.reason


def test_a_newer_screen_accepts_a_refused_record_only_if_it_passes_now() -> None:
    too_big = Refusal("t", "orders", 0, 5, 2000, 1000)
    assert not Screen("t", 1999, False).accepts(too_big)
    assert Screen("t", 2000, False).accepts(too_big)
    no_key = Refusal("t", "orders", 0, 5, None, None)
    assert not Screen("t", 5000, True).accepts(no_key)
    assert Screen("t", 5000, False).accepts(no_key)


def test_the_blocked_sentence_names_partition_offset_size_limit_and_the_fix() -> None:
    sentence = Refusal("bak.orders", "orders", 3, 17, 2_000_123, 1_000_000).blocked_sentence()
    for words in (
        "offset 17 of orders[3]",
        "2000123 bytes",
        "1000000 bytes",
        "bak.orders",
        "max.message.bytes",
        "skipping nothing",
        "options.errors.tolerance",
    ):
        assert words in sentence, (words, sentence)


def test_dead_letter_headers_keep_the_records_own_and_name_where_it_came_from() -> None:
    record = Rec(b"v", headers_=[("trace", b"abc")])
    refusal = Refusal("bak.orders", "orders", 2, 41, 2000, 1000)
    headers = dead_letter_headers(record, refusal)
    assert headers[0] == ("trace", b"abc")
    named = dict(headers[1:])
    assert named == {
        ERRORS_TOPIC: "orders",
        ERRORS_PARTITION: "2",
        ERRORS_OFFSET: "41",
        ERRORS_MESSAGE: refusal.reason,
    }
    assert record.headers_ == [("trace", b"abc")]  # the record's own list is not changed
