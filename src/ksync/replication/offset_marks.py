"""The offset pairs a member records as it copies, for consumer-group offset sync.

The hot loop asks `due` at the first produced record of each run of a partition in a
batch (a question per run, never per record); when it answers a callback, that record is
produced with it as its delivery callback, which records the pair (source offset, target
offset) of that record. Records without a callback cost no Python call: confluent-kafka
serves their delivery reports in C when the producer has no global callback
(`TargetProducer` with marks).

A failed marked delivery goes to the producer's delivery-error latch like any other; the
records produced without a callback are covered by the producer's gap-less guarantee (a
refused batch stops it: its fatal error fails the checkpoint) and by an unbounded
message timeout (no record fails for its age alone).
"""

from __future__ import annotations

import functools
import threading
from collections import deque
from collections.abc import Callable

from confluent_kafka import KafkaError, Message

from ksync.replication.offset_translation import MARK_SPACING

# (sequence number, source topic, partition, source offset, target offset); the sequence
# lets a reader take only pairs it has not seen.
RecordedPair = tuple[int, str, int, int, int]

DeliveryCallback = Callable[[KafkaError | None, Message], None]


class OffsetMarks:
    """A member's marks and the pairs they recorded; `recent` is safe from any thread.

    `on_error` is the producer's delivery-error latch. At most `window` recent pairs are
    kept for the worker to collect (twice a second); far more than a member records in
    that time at `MARK_SPACING`.
    """

    def __init__(
        self,
        on_error: DeliveryCallback,
        spacing: int = MARK_SPACING,
        window: int = 4096,
    ) -> None:
        self._on_error = on_error
        self._spacing = spacing
        self._last: dict[tuple[str, int], int] = {}  # last marked source offset
        self._pairs: deque[RecordedPair] = deque(maxlen=window)
        self._seq = 0
        self._lock = threading.Lock()

    def due(self, topic: str, partition: int, offset: int) -> DeliveryCallback | None:
        """The delivery callback for the record at `offset` starting a run of `topic`
        `partition`, or None when the partition was marked less than the spacing ago."""
        key = (topic, partition)
        last = self._last.get(key)
        # A lower offset is a copy again from an earlier position: mark it at once.
        if last is not None and last <= offset < last + self._spacing:
            return None
        self._last[key] = offset
        return functools.partial(self._delivered, topic, offset)

    def _delivered(self, topic: str, offset: int, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self._on_error(err, msg)
            return
        target, partition = msg.offset(), msg.partition()
        if target is None or partition is None:
            return
        with self._lock:
            self._seq += 1
            self._pairs.append((self._seq, topic, partition, offset, target))

    def recent(self) -> tuple[RecordedPair, ...]:
        """The recent pairs, oldest first."""
        with self._lock:
            return tuple(self._pairs)
