"""The librdkafka settings of a member's producer and consumer, and why each is set.

The connection settings (addresses, security) come from `ksync.kafka.config`; these are
what makes a client fit the member's commit protocol (no auto-commit, positions committed
by the member) and keep the copy fast.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ksync.spec import ClientTuning

# The producer's batch.size where every target topic takes it and the task sets no other
# cap (`ClientTuning.batch_bytes`): large batches mean few produce requests per record.
MAX_BATCH_BYTES: int = ClientTuning.model_fields["batch_bytes"].default
# The most one partition returns per fetch; a smaller fetch.max.bytes lowers it, since no
# partition can return more than the whole fetch.
_PARTITION_FETCH_BYTES = 10_485_760
_DEFAULT_TUNING = ClientTuning()


def batch_bytes(limits: Iterable[int], cap: int = MAX_BATCH_BYTES) -> int:
    """The largest batch.size that every target topic whose `max.message.bytes` is among
    `limits` accepts, at most `cap` (the task's `batch_bytes`).

    librdkafka counts the request's framing in batch.size, so a batch of at most a topic's
    limit is never refused; a single record larger than batch.size still goes alone.
    """
    return max(1, min([cap, *limits]))


def producer_settings(
    max_unacked_records: int, batch_size: int, tuning: ClientTuning = _DEFAULT_TUNING
) -> dict[str, Any]:
    """The target producer: idempotent and `acks=all` (order and no loss), errors only;
    batches of at most `batch_size` bytes (see `batch_bytes`) and at most the task's
    `tuning.batch_bytes`, compressed and lingering as `tuning` says."""
    return {
        "enable.idempotence": True,
        # A batch the target refuses (too large, say) stops the producer: otherwise
        # librdkafka sends the batches after it, which land before the refused records are
        # copied again when the member restarts from its last commit, out of order.
        "enable.gapless.guarantee": True,
        "acks": "all",
        "linger.ms": tuning.linger_ms,
        # Batches are compressed whole: a codec changes what travels and is stored, never
        # the records a consumer reads back (key, value, headers, timestamp).
        "compression.codec": tuning.compression,
        # librdkafka never splits a batch the broker refuses as too large: it fails every
        # record in it. So a batch must fit the smallest max.message.bytes among the
        # member's target topics, although each record alone would.
        "batch.size": min(batch_size, tuning.batch_bytes),
        # Bounded so that a checkpoint, which waits for every record produced, can finish
        # within the flush timeout; a full queue sends the member down the slow path.
        "queue.buffering.max.messages": max_unacked_records,
        "queue.buffering.max.kbytes": 65_536,
        # Java's default partitioner, for keep_partition = false.
        "partitioner": "murmur2_random",
        "message.max.bytes": 100_000_000,
        # No per-record delivery callback on the hot path: a checkpoint's flush() tells
        # that everything arrived; only failures are reported.
        "delivery.report.only.error": True,
    }


def consumer_settings(
    group_id: str, client_id: str, session_timeout_ms: int, tuning: ClientTuning = _DEFAULT_TUNING
) -> dict[str, Any]:
    """The source consumer: one member of the task's group, committing only by hand,
    fetching at most `tuning.fetch_max_bytes` per request."""
    return {
        "group.id": group_id,
        "client.id": client_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        # Used only when a committed offset is out of range (data expired):
        # a replicator then copies what remains rather than skipping ahead.
        "auto.offset.reset": "earliest",
        "partition.assignment.strategy": "cooperative-sticky",
        "session.timeout.ms": session_timeout_ms,
        "heartbeat.interval.ms": max(500, session_timeout_ms // 5),
        "max.poll.interval.ms": 300_000,
        # A far source pays a round trip per fetch: larger fetches, fewer trips.
        "fetch.max.bytes": tuning.fetch_max_bytes,
        "max.partition.fetch.bytes": min(_PARTITION_FETCH_BYTES, tuning.fetch_max_bytes),
        "queued.max.messages.kbytes": 262_144,
        # librdkafka stops fetching a partition for fetch.queue.backoff.ms
        # (default 1 s) once queued.min.messages are buffered: at full speed
        # that stall, not Kafka, would bound the member.
        "fetch.queue.backoff.ms": 10,
        # Bounds replication latency on brokers that hold a fetch for the whole
        # wait even when data arrives (tansu); costs a few idle fetches on Kafka.
        "fetch.wait.max.ms": 100,
    }
