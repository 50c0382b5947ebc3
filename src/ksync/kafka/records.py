"""Reading a short stretch of one partition, record by record, outside the copy path.

The cutover (`ksync.control.cutover`) reads the few hundred records after a group's last
offset pair on both clusters to find the exact offset its consumers resume from; nothing
here is on the hot path, which reads in batches through its own consumer.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, TopicPartition

from ksync.kafka.config import new_client
from ksync.kafka.errors import wrap
from ksync.spec import Connection


@dataclass(frozen=True)
class StoredRecord:
    """A record as the cutover compares copies: where it is and what it holds (a copy
    keeps key, value and CreateTime timestamp)."""

    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int


def read_records(
    conn: Connection, topic: str, partition: int, start: int, end: int, timeout_s: float = 30.0
) -> list[StoredRecord]:
    """The committed records of `topic` `partition` at offsets `start` to `end - 1` (fewer
    where compaction or transaction markers left offsets without a record), in order.
    Raises a KsyncKafkaError naming the partition when it cannot be read by the deadline."""
    if end <= start:
        return []
    consumer = new_client(
        Consumer,
        conn,
        **{
            # Assigned, never subscribed or committed: the group is never created.
            "group.id": f"ksync-reader-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "isolation.level": "read_committed",
            "auto.offset.reset": "error",
        },
    )
    doing = f"cannot read {topic}[{partition}] from offset {start} on {conn.label}"
    out: list[StoredRecord] = []
    deadline = time.monotonic() + timeout_s
    try:
        consumer.assign([TopicPartition(topic, partition, start)])
        while time.monotonic() < deadline:
            for msg in consumer.consume(500, 0.5):
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        return out
                    raise wrap(err, doing)
                offset = msg.offset()
                if offset is None or offset >= end:
                    return out
                out.append(StoredRecord(offset, msg.key(), msg.value(), msg.timestamp()[1]))
                if offset + 1 >= end:
                    return out
        raise wrap(KafkaError(KafkaError._TIMED_OUT), f"{doing} within {timeout_s:g} s")
    finally:
        consumer.close()
