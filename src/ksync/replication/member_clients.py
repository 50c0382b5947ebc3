"""The librdkafka settings of a member's consumer, and why each is set.

The connection settings (addresses, security) come from `ksync.kafka.config`; these are
what makes the consumer fit the member's commit protocol (no auto-commit, positions
committed by the member) and keep the copy fast. The member assigns its partitions itself
(`assign()`), so no group setting (session, heartbeat, assignment strategy) applies. The producer's are in
`ksync.kafka.target_producer`, with the rest of the producer.
"""

from __future__ import annotations

from typing import Any

from ksync.spec import ClientTuning

# The most one partition returns per fetch; a smaller fetch.max.bytes lowers it, since no
# partition can return more than the whole fetch.
_PARTITION_FETCH_BYTES = 10_485_760
_DEFAULT_TUNING = ClientTuning()


def consumer_settings(
    group_id: str, client_id: str, tuning: ClientTuning = _DEFAULT_TUNING
) -> dict[str, Any]:
    """The source consumer: assigned its member's share (it joins no group; `group_id` is
    where it commits), committing only by hand, fetching at most `tuning.fetch_max_bytes`
    per request."""
    return {
        "group.id": group_id,
        "client.id": client_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        # Records of source transactions that were aborted are never copied, and those of
        # open ones only once committed (librdkafka's default, written down because
        # ksync's promise rests on it). The position after a transaction's last record
        # moves past its commit marker, so a committed offset is the next position, not
        # the last offset + 1, and lag reaches 0 (tests/replication/test_source_transactions.py).
        "isolation.level": "read_committed",
        # Every position is explicit (a commit, or a start resolved to a number), so this
        # applies only when the source no longer has it (retention deleted records not
        # copied yet): librdkafka then reports _AUTO_OFFSET_RESET instead of jumping on
        # silently, and the member counts what was lost before it goes on from the
        # earliest record left (`Checkpointer.resume_at_earliest`).
        "auto.offset.reset": "error",
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
