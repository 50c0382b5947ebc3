"""Records the target would refuse for their content, found before they are produced, and
what a task does with them (`options.errors`): block the record's topic, or send the
record to a dead-letter topic (or skip it) and go on.

Why before producing: the target producer is idempotent with the gap-less guarantee, so a
record the broker refuses (too large, say) stops the whole producer, for every partition
the member copies, and which record it was is not known. So a member looks at a record
itself, and only where the target can refuse what the source holds (`screen_for`): a
record larger than the target topic's `max.message.bytes` can exist only when that limit
is below the source topic's (or the producer's own cap), and a record without a key that
a compacted target refuses only when the source topic is not compacted. A topic whose
target is at least as lenient as its source has no screen, and its records pay nothing;
the others pay one size computation per record, in `RecordGuard.screen`, between
consume() and the hot loop.

A record's size is the one-record batch the broker checks against `max.message.bytes`
(`batch_size`): exact without compression. With a compression codec the producer's batch
may be smaller than that; the check then errs on the safe side, treating a record as too
large when its uncompressed batch is.

Invariant: no source offset is committed past a refused record that did not reach the
dead-letter topic: a blocked topic's partitions are paused, the refused partition is
sought back to the refused record, and `RecordGuard.held` caps what a checkpoint may
commit for them. A dead-lettered record is acknowledged by the dead-letter topic before
the batch goes on, so committing past it loses nothing.

Dead-letter headers (besides the record's own): `ksync.errors.topic`,
`ksync.errors.partition`, `ksync.errors.offset` (the record's source topic, partition and
offset, as text) and `ksync.errors.exception.message` (why the target refuses it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from confluent_kafka import KafkaError, KafkaException, Message, Producer, TopicPartition

from ksync.kafka.admin import InstanceAdmin, NewTopicPlan, TopicLimits
from ksync.kafka.config import new_client
from ksync.kafka.errors import KsyncKafkaError, words
from ksync.kafka.target_producer import PRODUCER_MAX_MESSAGE_BYTES
from ksync.spec import Connection, ErrorTolerance

log = logging.getLogger(__name__)

Key = tuple[str, int]
Headers = list[tuple[str, str | bytes | None]]

ERRORS_TOPIC = "ksync.errors.topic"
ERRORS_PARTITION = "ksync.errors.partition"
ERRORS_OFFSET = "ksync.errors.offset"
ERRORS_MESSAGE = "ksync.errors.exception.message"

# A blocked topic is looked at again this often: its target's configs are read anew and,
# when they now accept the refused record, copying resumes from it.
RETRY_S = 10.0

# Kafka's default max.message.bytes: how large a dead-letter topic's records may be when
# no source topic says more.
DEFAULT_MAX_MESSAGE_BYTES = 1_048_588

# RecordBatch v2 framing before the records: base offset, length, leader epoch, magic, crc,
# attributes, last offset delta, two timestamps, producer id and epoch, base sequence, count.
BATCH_OVERHEAD = 61


class Screened(Protocol):
    """A consumed record as the screen reads it (see `member.Record`)."""

    def error(self) -> KafkaError | None: ...
    def headers(self) -> Headers | None: ...
    def timestamp(self) -> tuple[int, int]: ...
    def topic(self) -> str: ...
    def partition(self) -> int: ...
    def offset(self) -> int: ...
    def value(self) -> bytes | None: ...
    def key(self) -> bytes | None: ...
    def __len__(self) -> int: ...


@dataclass(frozen=True)
class Screen:
    """What a target topic refuses that its source topic may hold: records whose batch is
    larger than `max_bytes` (None: no such record can exist), records without a key
    (`needs_key`)."""

    target: str
    max_bytes: int | None
    needs_key: bool

    def refuses(self, record: Screened, extra: int) -> Refusal | None:
        """Why the target refuses `record` (`extra`: bytes of the headers ksync adds), or
        None when it accepts it."""
        key = record.key()
        if self.needs_key and key is None:
            return Refusal(self.target, record.topic(), record.partition(), record.offset(), None, None)
        if self.max_bytes is None:
            return None
        size = batch_size(key, record.value(), record.headers(), extra)
        if size <= self.max_bytes:
            return None
        return Refusal(
            self.target, record.topic(), record.partition(), record.offset(), size, self.max_bytes
        )

    def accepts(self, refusal: Refusal) -> bool:
        """Whether a record refused as `refusal` says passes this (newer) screen."""
        if refusal.size is None:
            return not self.needs_key
        return self.max_bytes is None or refusal.size <= self.max_bytes


def screen_for(
    target_topic: str,
    source: TopicLimits | None,
    target: TopicLimits | None,
    producer_max: int,
) -> Screen | None:
    """The screen records of a topic need on their way to `target_topic`, or None when the
    target accepts whatever the source can hold (see the module's docstring). Limits not
    known (None) are taken as lenient: a check would then refuse what may pass."""
    if target is None:
        return None
    source_max = source.max_message_bytes if source is not None else None
    max_bytes: int | None
    if target.max_message_bytes is None:
        # Only the producer's own cap, which matters against a source known to hold more.
        max_bytes = producer_max if source_max is not None and producer_max < source_max else None
    else:
        limit = min(target.max_message_bytes, producer_max)
        max_bytes = limit if source_max is None or limit < source_max else None
    needs_key = target.compacted and (source is None or not source.compacted)
    if max_bytes is None and not needs_key:
        return None
    return Screen(target_topic, max_bytes, needs_key)


def varint_size(n: int) -> int:
    """Bytes of `n` as a zig-zag varint (Kafka's record fields)."""
    z = (n << 1) ^ (n >> 63)
    size = 1
    while z >= 0x80:
        z >>= 7
        size += 1
    return size


def batch_size(
    key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, Any]] | None, extra: int = 0
) -> int:
    """Bytes of the uncompressed one-record batch holding this record, as the broker
    compares it with `max.message.bytes`; `extra`: bytes of further headers (encoded
    key and value with their lengths, see `header_size`)."""
    body = 3  # attributes, timestamp delta 0, offset delta 0
    body += varint_size(-1 if key is None else len(key)) + (len(key) if key else 0)
    body += varint_size(-1 if value is None else len(value)) + (len(value) if value else 0)
    count = len(headers) if headers else 0
    if extra:
        count += 1
    body += varint_size(count) + extra
    for name, hvalue in headers or ():
        body += header_size(name, hvalue)
    return BATCH_OVERHEAD + varint_size(body) + body


def header_size(name: str, value: str | bytes | None) -> int:
    """Bytes of one record header as the record batch encodes it."""
    raw = name.encode()
    data = value.encode() if isinstance(value, str) else value
    return (
        varint_size(len(raw))
        + len(raw)
        + varint_size(-1 if data is None else len(data))
        + (len(data) if data else 0)
    )


@dataclass(frozen=True)
class Refusal:
    """A record the target refuses: the record's target topic, source topic, partition and
    offset, and its size and the limit it exceeds (both None: it has no key and the
    target topic is compacted)."""

    target: str
    topic: str
    partition: int
    offset: int
    size: int | None
    limit: int | None

    @property
    def reason(self) -> str:
        """Why the target refuses the record, in words."""
        if self.size is None:
            return (
                f"the record has no key and target topic {self.target} is compacted "
                "(cleanup.policy=compact), which refuses records without a key"
            )
        return (
            f"the record is {self.size} bytes, more than the {self.limit} bytes target topic "
            f"{self.target} accepts (its max.message.bytes)"
        )

    def blocked_sentence(self) -> str:
        """The topic's error when the refusal blocks it (tolerance none)."""
        fix = (
            f"raise max.message.bytes of {self.target} on the target to at least {self.size}"
            if self.size is not None
            else f"give the record a key or make {self.target} not compacted"
        )
        return (
            f"the target refuses the record at offset {self.offset} of {self.topic}"
            f"[{self.partition}]: {self.reason}. Copying of topic {self.topic} stopped at "
            f"that record; {fix}, and it resumes from it within {RETRY_S:.0f}s, skipping "
            "nothing (or set options.errors.tolerance to all to send such records to a "
            "dead-letter topic)"
        )


def dead_letter_headers(record: Screened, refusal: Refusal) -> Headers:
    """The record's own headers and the `ksync.errors.*` ones naming where it came from
    and why it was refused."""
    own = list(record.headers() or [])
    return [
        *own,
        (ERRORS_TOPIC, refusal.topic),
        (ERRORS_PARTITION, str(refusal.partition)),
        (ERRORS_OFFSET, str(refusal.offset)),
        (ERRORS_MESSAGE, refusal.reason),
    ]


class DeadLetters:
    """A producer to the dead-letter topic, made at the first refused record; each write
    waits for the topic's acknowledgement (refused records are rare, and a commit past
    one must find it stored)."""

    def __init__(self, conn: Connection, topic: str, *, name: str, timeout_s: float) -> None:
        self.conn = conn
        self.topic = topic
        self._name = name
        self._timeout_s = timeout_s
        self._client: Producer | None = None
        self._error: KafkaError | None = None

    def write(self, record: Screened, refusal: Refusal, size_hint: int) -> str | None:
        """Write `record` with its dead-letter headers; None once acknowledged, else a
        sentence saying why it is not stored. The topic is created (1 partition, taking
        records up to `size_hint` bytes) when it does not exist."""
        try:
            producer = self._producer(size_hint)
            self._error = None
            ts = max(record.timestamp()[1], 0)
            producer.produce(
                self.topic,
                record.value(),
                record.key(),
                timestamp=ts,
                headers=dead_letter_headers(record, refusal),
                on_delivery=self._delivered,
            )
            left = producer.flush(self._timeout_s)
        except (KafkaException, KsyncKafkaError, BufferError) as exc:
            return self._sentence(str(exc))
        if self._error is not None:
            return self._sentence(words(self._error))
        if left:
            return self._sentence(f"not acknowledged after {self._timeout_s:.0f}s")
        return None

    def _sentence(self, why: str) -> str:
        return f"cannot write it to dead-letter topic {self.topic} on {self.conn.label}: {why}"

    def _delivered(self, err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            self._error = err

    def _producer(self, size_hint: int) -> Producer:
        if self._client is None:
            admin = InstanceAdmin(self.conn, timeout_s=min(10.0, self._timeout_s))
            created = admin.create_topics(
                [NewTopicPlan(self.topic, 1, -1, {"max.message.bytes": str(size_hint)})]
            )
            if created:
                log.info("%s: created dead-letter topic %s", self._name, self.topic)
            self._client = new_client(
                Producer,
                self.conn,
                **{
                    "acks": "all",
                    "enable.idempotence": True,
                    "message.max.bytes": PRODUCER_MAX_MESSAGE_BYTES,
                    "linger.ms": 0,
                },
            )
        return self._client

    def close(self) -> None:
        """Wait (up to the timeout) for anything still on its way."""
        client, self._client = self._client, None
        if client is not None:
            try:
                client.flush(self._timeout_s)
            except KafkaException as exc:
                # Every write waited for its acknowledgement: nothing is left to lose.
                log.warning("%s: closing the dead-letter producer: %s", self._name, exc)


@dataclass
class _Block:
    """A topic a member stopped copying because the target refuses one of its records:
    `holds` maps a partition to the offset it resumes from (nothing from it is produced);
    `dead_letter` when it was the dead-letter topic that refused the record."""

    refusal: Refusal
    sentence: str
    dead_letter: bool
    holds: dict[int, int] = field(default_factory=dict)
    seek: set[int] = field(default_factory=set)  # partitions to seek back to their hold


class RecordGuard:
    """A member's screens, blocks and dead letters (see the module's docstring).

    `consumer()` is the member's consumer (paused and sought here), `warn` shows a
    warning, `limits(source_topics, target_topics)` reads both sides' `TopicLimits`.
    """

    def __init__(
        self,
        tolerance: ErrorTolerance,
        *,
        name: str,
        dead_letter_conn: Connection,
        producer_max: int,
        timeout_s: float,
        warn: Callable[[str], None],
        limits: Callable[
            [list[str], list[str]], tuple[dict[str, TopicLimits], dict[str, TopicLimits]]
        ],
    ) -> None:
        self.tolerance = tolerance
        self._name = name
        self._producer_max = producer_max
        self._warn = warn
        self._limits = limits
        self._lock = threading.Lock()
        self.screens: dict[str, Screen] = {}  # source topic -> its screen
        self._blocks: dict[str, _Block] = {}  # source topic -> why it is not copied
        self._size_hint = DEFAULT_MAX_MESSAGE_BYTES
        self._next_retry = 0.0
        self._dead_letters = (
            DeadLetters(
                dead_letter_conn,
                tolerance.dead_letter_topic,
                name=name,
                timeout_s=timeout_s,
            )
            if tolerance.dead_letter_topic
            else None
        )
        self.dead_lettered = 0
        self.skipped = 0

    # ---- learning the topics ---------------------------------------------------------

    def learn(self, topics: Mapping[str, str]) -> None:
        """Read the configs of the member's topics on both sides and keep a screen for
        each topic whose target is stricter than its source; a topic no longer copied
        forgets its block."""
        with self._lock:
            for gone in set(self._blocks) - set(topics):
                del self._blocks[gone]
        self.screens = self._read(topics)

    def _read(self, topics: Mapping[str, str]) -> dict[str, Screen]:
        try:
            source, target = self._limits(sorted(topics), sorted(set(topics.values())))
        except KsyncKafkaError as exc:
            self._warn(
                f"{exc}. Without it, a record the target refuses (larger than a target "
                "topic accepts) stops the member instead of only its topic"
            )
            return dict(self.screens)
        known = [lim.max_message_bytes for lim in source.values() if lim.max_message_bytes]
        if known:
            self._size_hint = max(known)
        screens = {}
        for src, dst in topics.items():
            screen = screen_for(dst, source.get(src), target.get(dst), self._producer_max)
            if screen is not None:
                screens[src] = screen
        if screens:
            log.info("%s: screening records of %s", self._name, screens)
        return screens

    # ---- the batch -------------------------------------------------------------------

    def screen(
        self, msgs: list[Any], only_topic: str | None, extra: int, consumer: Any
    ) -> list[Any]:
        """The records of `msgs` to produce: those the target accepts, and every record of
        a topic with no screen. A refused record blocks its topic or goes to the
        dead-letter topic (`tolerance`); the records of a blocked topic are held back
        (their partitions paused and sought back). `only_topic`: the one topic every
        record is of, when the member copies one; `extra`: bytes of ksync's own header."""
        screens = self.screens
        only = screens.get(only_topic) if only_topic is not None else None
        if only_topic is not None and only is None:
            return msgs
        blocks = self._blocks
        keep = []
        for msg in msgs:
            if msg.error() is not None:
                keep.append(msg)
                continue
            topic = only_topic or msg.topic()
            screen = only or screens.get(topic)
            if screen is None:
                keep.append(msg)
                continue
            block = blocks.get(topic)
            if block is None:
                refusal = screen.refuses(msg, extra)
                if refusal is None:
                    keep.append(msg)
                    continue
                block = self._refused(msg, refusal, consumer)
                if block is None:
                    continue  # dead-lettered or skipped
            partition, offset = msg.partition(), msg.offset()
            if offset < block.holds.get(partition, offset + 1):
                block.holds[partition] = offset
                block.seek.add(partition)
        for topic, block in blocks.items():
            if block.seek:
                for p in sorted(block.seek):
                    consumer.seek(TopicPartition(topic, p, block.holds[p]))
                block.seek.clear()
        return keep

    def _refused(self, msg: Screened, refusal: Refusal, consumer: Any) -> _Block | None:
        """A record the target refuses: dead-letter it, skip it, or block its topic (the
        block returned)."""
        if self.tolerance.tolerance == "all":
            if self._dead_letters is None:
                self.skipped += 1
                log.warning(
                    "%s: skipped the record at offset %d of %s[%d]: %s",
                    self._name, refusal.offset, refusal.topic, refusal.partition, refusal.reason,
                )
                # One sentence per topic, however many records: the count is in the metrics.
                self._warn(
                    f"records of topic {refusal.topic} that target topic {refusal.target} "
                    "refuses are skipped (options.errors.tolerance is all and no "
                    "dead_letter_topic is set); the task's skipped_refused_total counts them"
                )
                return None
            failed = self._dead_letters.write(msg, refusal, max(self._size_hint, refusal.size or 0))
            if failed is None:
                self.dead_lettered += 1
                return None
            sentence = (
                f"the target refuses the record at offset {refusal.offset} of {refusal.topic}"
                f"[{refusal.partition}] ({refusal.reason}) and ksync {failed}. Copying of "
                f"topic {refusal.topic} stopped at that record; ksync tries again within "
                f"{RETRY_S:.0f}s, skipping nothing"
            )
            return self._block(refusal, sentence, True, consumer)
        return self._block(refusal, refusal.blocked_sentence(), False, consumer)

    def _block(
        self, refusal: Refusal, sentence: str, dead_letter: bool, consumer: Any
    ) -> _Block:
        log.warning("%s: %s", self._name, sentence)
        block = _Block(refusal, sentence, dead_letter)
        paused = [tp for tp in consumer.assignment() if tp.topic == refusal.topic]
        consumer.pause(paused)
        with self._lock:
            self._blocks[refusal.topic] = block
        self._next_retry = time.monotonic() + RETRY_S
        return block

    # ---- between batches -------------------------------------------------------------

    def held(self) -> dict[Key, int]:
        """Per blocked partition, the offset no commit may pass (see the invariant)."""
        with self._lock:
            return {
                (topic, p): offset
                for topic, block in self._blocks.items()
                for p, offset in block.holds.items()
            }

    def blocked(self) -> dict[str, str]:
        """Source topic -> the sentence saying why the member does not copy it now."""
        with self._lock:
            return {topic: block.sentence for topic, block in self._blocks.items()}

    def blocked_at(self) -> dict[str, tuple[int, int]]:
        """Source topic -> (partition, offset) of the record the target refuses: the
        controller keeps the topic blocked across a member restart until a member has
        copied past it (`Controller._overlay_record_blocks`)."""
        with self._lock:
            return {
                topic: (block.refusal.partition, block.refusal.offset)
                for topic, block in self._blocks.items()
            }

    def retry_due(self) -> bool:
        """A blocked topic waits to be looked at again."""
        return bool(self._blocks) and time.monotonic() >= self._next_retry

    def retry(self, topics: Mapping[str, str], consumer: Any) -> None:
        """Read the blocked topics' configs again and resume those whose refused record
        now passes (or whose dead-letter write may succeed now): each partition from
        where it stopped."""
        self._next_retry = time.monotonic() + RETRY_S
        blocked = {t: topics[t] for t in self._blocks if t in topics}
        fresh = self._read(blocked)
        for topic, block in list(self._blocks.items()):
            screen = fresh.get(topic)
            if screen is None:
                self.screens.pop(topic, None)
            else:
                self.screens[topic] = screen
            if block.dead_letter or screen is None or screen.accepts(block.refusal):
                self._resume(topic, block, consumer)

    def _resume(self, topic: str, block: _Block, consumer: Any) -> None:
        parts = [tp for tp in consumer.assignment() if tp.topic == topic]
        for p, offset in sorted(block.holds.items()):
            consumer.seek(TopicPartition(topic, p, offset))
        consumer.resume(parts)
        with self._lock:
            del self._blocks[topic]
        log.info("%s: topic %s resumes from %s", self._name, topic, block.holds)

    def close(self) -> None:
        """Close the dead-letter producer, if one was made."""
        if self._dead_letters is not None:
            self._dead_letters.close()


def extra_header_bytes(names: Iterable[str], value: bytes) -> int:
    """Bytes of the largest header among `names` with `value` that ksync adds to a record."""
    return max(header_size(n, value) for n in names)
