"""Exactly-once delivery (`options.delivery: exactly_once`): transactional ids, fencing,
and the task's progress kept on the target.

Invariant: a read_committed consumer of the target sees each source record once. The
records a member copied and the source positions after them become visible together or
not at all, in one transaction of the target cluster; every member start resumes from the
positions of the last committed transaction; and a member that may still be running
elsewhere (a zombie) can never commit again once its successor started. How:

1. Each unit of work has a stable `transactional.id`, `ksync-<task>-<slot>-of-<task_max>`
   (`transactional_id`). It does not carry the task's generation: a restart, a member
   moved to another worker, or a worker presumed dead all start the *same* id again, and
   the successor's `init_transactions()` fences the predecessor (its epoch is bumped, its
   open transaction aborted, and any later commit of it refused as fenced).
2. The positions are offsets of the task's group `ksync-<task id>` on the *target*
   cluster, committed inside the transaction (`send_offsets_to_transaction`). The broker
   takes offsets only for topics it has, so each source partition is keyed by its target
   topic and the same partition number (`progress_key`); that is why exactly-once needs
   one source topic per target topic (`check_one_source_per_target`). Each offset's
   metadata is the id that committed it.
3. A change of `task_max` gives every unit a new id, so the old ids are not fenced by
   rule 1. Every member, before copying, reads the metadata of the task's partitions on
   the target and fences every id of each other layout it finds there (`ids_to_fence`):
   a zombie of a share that no longer exists is fenced by whoever comes after it, as
   soon as any unit of its layout ever committed.
4. The source group `ksync-<task id>` is still written, after each transaction, for lag
   display and for a later switch back to at-least-once: it is never ahead of the target
   group. A member starts at the larger of the two (`resume_offset`), which is right after
   either mode: everything before it is on the target.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from ksync.domain.groups import group_id
from ksync.kafka.config import new_client
from ksync.kafka.errors import (
    COORDINATOR_CODES,
    PersistentKafkaError,
    kafka_error_in,
    partition_errors,
    partition_failure,
    wrap,
)
from ksync.spec import Connection

log = logging.getLogger(__name__)

Key = tuple[str, int]  # (topic, partition)


def transactional_id(task_id: str, slot: int, task_max: int) -> str:
    """The transactional id of one unit of work: slot `slot` of `task_max` of a task."""
    return f"ksync-{task_id}-{slot}-of-{task_max}"


def layout_of(tid: str, task_id: str) -> int | None:
    """The `task_max` of a transactional id of task `task_id`; None for any other string."""
    match = re.fullmatch(rf"ksync-{re.escape(task_id)}-(\d+)-of-(\d+)", tid)
    if match is None or int(match.group(1)) >= int(match.group(2)):
        return None
    return int(match.group(2))


def ids_to_fence(seen: Iterable[str], task_id: str, task_max: int) -> list[str]:
    """Every id of each layout other than `task_max` that committed offsets `seen` name
    (rule 3): all its slots, since any of them may have held a partition of this member's
    share. Ids of the member's own layout belong to its live siblings and are left alone."""
    layouts = {n for n in (layout_of(s, task_id) for s in seen) if n is not None and n != task_max}
    return [transactional_id(task_id, s, n) for n in sorted(layouts) for s in range(n)]


def progress_key(topics: Mapping[str, str], key: Key) -> Key:
    """Where the target group keeps the progress of source partition `key`."""
    return (topics[key[0]], key[1])


def check_one_source_per_target(topics: Mapping[str, str]) -> None:
    """Exactly-once keys progress by target topic (rule 2): refuse a merge of several
    source topics into one target topic with a sentence naming them."""
    by_target: dict[str, list[str]] = {}
    for source, target in topics.items():
        by_target.setdefault(target, []).append(source)
    merged = {t: sorted(s) for t, s in by_target.items() if len(s) > 1}
    if merged:
        target, sources = next(iter(sorted(merged.items())))
        raise PersistentKafkaError(
            f"options.delivery exactly_once needs one source topic per target topic, but "
            f"{', '.join(sources)} all go to {target}: give each its own target topic "
            "(target.topic_map) or use at_least_once"
        )


def resume_offset(on_target: int, on_source: int) -> int:
    """Where a partition resumes (rule 4): the larger committed offset, -1 for neither."""
    return max(on_target, on_source, -1)


class TargetProgress:
    """The task's progress in its group on the target, read and committed by one member.

    `topics()` is the member's current source -> target topic mapping.
    """

    def __init__(
        self,
        target: Connection,
        *,
        task_id: str,
        slot: int,
        task_max: int,
        topics: Callable[[], Mapping[str, str]],
        timeout_s: float,
        name: str,
    ) -> None:
        self.tid = transactional_id(task_id, slot, task_max)
        self.group = group_id(task_id)
        self._target = target
        self._task_id = task_id
        self._task_max = task_max
        self._topics = topics
        # Every mapping seen: a partition whose topic just left the selection is still
        # committed once, at its last checkpoint, under the target topic it was copied to.
        self._names: dict[str, str] = {}
        self._timeout_s = timeout_s
        self._name = name
        # Only reads committed offsets; read_committed makes librdkafka ask for stable
        # offsets, so a read waits out a transaction still being committed or aborted.
        self._reader: Consumer = new_client(
            Consumer,
            target,
            **{
                "group.id": self.group,
                "client.id": f"{self.group}-progress",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
            },
        )

    def group_metadata(self) -> object:
        """What `send_offsets_to_transaction` names the target group by."""
        return self._reader.consumer_group_metadata()

    def offsets(self, offsets: Mapping[Key, int]) -> list[TopicPartition]:
        """Source offsets as the target group keeps them, each naming this unit."""
        self._names.update(self._topics())
        return [
            TopicPartition(*progress_key(self._names, key), offset, metadata=self.tid)
            for key, offset in offsets.items()
        ]

    def read(self, keys: Iterable[Key]) -> dict[Key, tuple[int, str]]:
        """The committed offset (-1 for none) and the id that committed it, per source
        partition among `keys`."""
        topics = self._topics()
        keys = list(keys)
        if not keys:
            return {}
        asked = [TopicPartition(*progress_key(topics, key)) for key in keys]
        deadline = time.monotonic() + self._timeout_s
        while True:
            try:
                got = self._reader.committed(asked, timeout=self._timeout_s)
                codes = {tp.error.code() for tp in got if tp.error is not None}
                if not codes or not codes <= COORDINATOR_CODES or time.monotonic() > deadline:
                    break
            except KafkaException as exc:
                # A group new on the target: its coordinator may not be loaded yet.
                err = kafka_error_in(exc)
                if err is None or err.code() not in COORDINATOR_CODES or time.monotonic() > deadline:
                    doing = f"reading the task's progress in group {self.group} on the target"
                    raise wrap(exc, doing) from None
            time.sleep(0.2)
        failure = partition_failure(
            partition_errors(got),
            self._target,
            f"cannot read the progress in group {self.group} of",
            f"Read on consumer group {self.group}",
        )
        if failure is not None:
            raise failure
        return {
            key: (tp.offset if tp.offset >= 0 else -1, tp.metadata or "")
            for key, tp in zip(keys, got, strict=True)
        }

    def fence_other_layouts(self, partitions: Mapping[str, int]) -> list[str]:
        """Fence every id of another `task_max` that committed progress of the task's
        partitions (`partitions`: source topic -> count); returns the ids fenced."""
        keys = [(t, p) for t, n in partitions.items() if t in self._topics() for p in range(n)]
        seen = {tid for _, tid in self.read(keys).values() if tid}
        fenced = ids_to_fence(seen, self._task_id, self._task_max)
        for tid in fenced:
            fence(self._target, tid, self._timeout_s)
        if fenced:
            log.info("%s: fenced the transactional ids of earlier layouts: %s", self._name, fenced)
        return fenced

    def close(self) -> None:
        """Close the reader (it never joined the group: nothing to leave)."""
        try:
            self._reader.close()
        except (KafkaException, RuntimeError) as exc:
            log.warning("%s: closing the progress reader: %s", self._name, exc)


def fence(target: Connection, tid: str, timeout_s: float) -> None:
    """Fence transactional id `tid` on the target: a new epoch for it (any producer still
    holding the old one can no longer commit) and its open transaction aborted."""
    producer = new_client(Producer, target, **{"transactional.id": tid})
    try:
        producer.init_transactions(timeout_s)
    except KafkaException as exc:
        raise wrap(exc, f"{target.label}: fencing transactional id {tid}") from None
