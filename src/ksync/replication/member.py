"""A member: one consumer/producer pair copying a share of a task's partitions.

Commit protocol (at least once, no loss). Invariant: a source offset is committed only
after the target acknowledged every record before it.

1. `consume()` returns a batch; every record is handed to `produce()` before the next
   `consume()` call. No per-record delivery callback: the producer reports errors only
   (`delivery.report.only.error`).
2. A checkpoint (every `commit_interval_s`, on revocation, on stop) calls `flush()`; when
   it returns with nothing outstanding and no delivery error was reported, every record
   consumed so far is on the target, so the consumer's *positions* (next offset to read
   per partition) are safe to commit. Positions cost nothing per record to track.
3. On revocation (cooperative rebalance) the revoked partitions are checkpointed inside
   the callback, before they go to another member; a partition that was *lost* (session
   expired) is never committed, since another member may already own it.
4. A delivery error or a failed flush never commits: the member raises, its worker starts
   it again, and it resumes from the last commit (repeats possible, loss impossible).
   A batch the target refuses stops the producer (librdkafka's gap-less guarantee), so
   no later record of its partition lands before the refused ones are copied again.

Start point. Invariant: the task's start point applies only to partitions that existed
when the task started (the first `partitions_at_start` of each topic, decided once by the
controller and stored with the task); every other partition with no committed offset, of a
grown topic or of a topic that joined the selection later, starts at its first record, for
it has no history to skip (`partition_start`). The start is resolved to a numeric offset
and committed at once, so a restart before the first checkpoint neither re-resolves
`latest` to a later offset nor decides a partition's start a second time.

New partitions: the controller's view of each topic (its partition count) reaches the
member through `update_topics`. A count that grew makes the member refresh its metadata at
once, so the group rebalances onto the new partitions within a topic refresh rather than
at librdkafka's own refresh (`topic.metadata.refresh.interval.ms`, 5 minutes); the
producer, whose view of the target topic may be as old, refreshes when it meets a
partition it does not know yet.

Batch size. librdkafka never splits a batch the target refuses as too large: it fails
every record in it. So the producer's batches fit the smallest `max.message.bytes` among
the member's target topics, read when the member opens and when a topic switch adds target
topics; a smaller limit then replaces the producer after a checkpoint (a new producer does
not take over the old one's queue). A limit lowered on a running topic is met at the next
start.

Reading order: the hot path (`_loop`, `_forward`), then the commit protocol
(`_checkpoint`, `_commit` and the rebalance callbacks), then the slow paths and the
plumbing. The clients' settings are in `member_clients`, the error sentences in
`ksync.kafka.errors`, latency sampling in `ksync.monitoring.latency`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)

from ksync.domain.groups import group_id
from ksync.domain.status import MemberState
from ksync.kafka.admin import InstanceAdmin
from ksync.kafka.config import new_client
from ksync.kafka.errors import (
    KsyncKafkaError,
    TransientKafkaError,
    client_failure,
    commit_failure,
    kafka_error_in,
    read_failure,
    read_rights,
    wrap,
    write_failure,
    write_rights,
)
from ksync.monitoring.latency import LatencyHistogram, LatencySampler
from ksync.replication.member_clients import (
    MAX_BATCH_BYTES,
    batch_bytes,
    consumer_settings,
    producer_settings,
)
from ksync.replication.partition_start import first_offsets
from ksync.replication.provenance import ORIGIN_HEADER, VIA_HEADER
from ksync.replication.throttle import Limits, Throttle
from ksync.spec import ClientTuning, Connection, StartPoint

log = logging.getLogger(__name__)

# Commit refusals that only mean "the group is rebalancing": the commit waits for the next
# checkpoint (see Member._commit).
_REBALANCE_CODES = frozenset(
    {
        KafkaError.REBALANCE_IN_PROGRESS,
        KafkaError.ILLEGAL_GENERATION,
        KafkaError.UNKNOWN_MEMBER_ID,
        KafkaError._ASSIGNMENT_LOST,
    }
)

Headers = list[tuple[str, str | bytes | None]]


class Record(Protocol):
    """A consumed record as the hot path sees it.

    The client's stubs type every accessor Optional because consume() can also return
    error events; `_forward` handles those first, so a record always has a topic,
    partition and list headers. Typing the batch once costs nothing per record.
    """

    def error(self) -> KafkaError | None: ...
    def headers(self) -> Headers | None: ...
    def timestamp(self) -> tuple[int, int]: ...
    def topic(self) -> str: ...
    def partition(self) -> int: ...
    def value(self) -> bytes | None: ...
    def key(self) -> bytes | None: ...
    def __len__(self) -> int: ...


@dataclass(frozen=True)
class MemberConfig:
    """Everything one member needs; built by the worker from the store."""

    task_id: str
    slot: int
    source: Connection
    target: Connection
    source_cluster_id: str
    target_cluster_id: str
    topics: dict[str, str]  # source topic -> target topic
    keep_partition: bool = True
    start: StartPoint = field(default_factory=StartPoint)
    # Source topic -> how many of its partitions existed when the task started: those begin
    # at `start`, later ones at their first record. A topic not listed: all at `start`.
    partitions_at_start: dict[str, int] = field(default_factory=dict)
    # Source topic -> its partition count as the controller last saw it.
    partitions: dict[str, int] = field(default_factory=dict)
    session_timeout_ms: int = 10_000
    # Small batches copy faster: a few hundred records (with their headers) stay in the CPU
    # cache from consume() to produce(), and fewer objects are alive when the garbage
    # collector runs (measured 500 vs 5,000: +20-30 % records/s in the server process).
    batch_size: int = 500
    commit_interval_s: float = 1.0
    flush_timeout_s: float = 30.0
    # Records produced but not yet acknowledged by the target, at most. Bounded so that a
    # checkpoint, which waits for all of them, can finish within flush_timeout_s even from
    # a slow, far target; a full queue sends the member down the slow path.
    max_unacked_records: int = 100_000
    # Per-batch measurement (bytes, latency samples); off only to measure its own cost.
    measure: bool = True
    # The task's producer and consumer settings (compression, linger, batch cap, fetch size).
    tuning: ClientTuning = field(default_factory=ClientTuning)

    @property
    def group_id(self) -> str:
        return group_id(self.task_id)


@dataclass
class MemberSnapshot:
    """What a member reports to its worker (and the worker to the controller)."""

    state: MemberState = MemberState.STARTING
    partitions: list[tuple[str, int]] = field(default_factory=list)
    committed: dict[tuple[str, int], int] = field(default_factory=dict)
    end_offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    records_total: int = 0
    skipped_loop_total: int = 0
    bytes_total: int = 0  # record value bytes written
    # Records delivered per partition: committed-offset advances, so exact and free.
    partition_records: dict[tuple[str, int], int] = field(default_factory=dict)
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    latency_max_ms: float | None = None  # over the last LATENCY_WINDOW_S
    throttled_s: float = 0.0


class Member:
    """Runs `run()` in a thread until `stop()`; `snapshot()` is safe from any thread."""

    def __init__(self, cfg: MemberConfig) -> None:
        self.cfg = cfg
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._state = MemberSnapshot()
        self._topics = dict(cfg.topics)
        self._layout = _Layout(dict(cfg.partitions), dict(cfg.partitions_at_start))
        self._new_topics: tuple[dict[str, str], _Layout] | None = None
        self._delivery_error: tuple[KafkaError, str | None, int | None] | None = None
        self._background_error: KsyncKafkaError | None = None
        self._warnings: dict[str, float] = {}
        self._consumer: Consumer | None = None
        self._producer: Producer | None = None
        self._batch_bytes = MAX_BATCH_BYTES  # the producer's batch.size
        self.failure: BaseException | None = None  # why run() ended, if it failed
        self._throttle = Throttle()
        self._latency = LatencySampler()
        # Shared by every record that arrives without headers: librdkafka copies headers
        # at produce time, so one list serves them all.
        source_id = cfg.source_cluster_id.encode()
        self._origin_pair = (ORIGIN_HEADER, source_id)
        self._origin_only: Headers = [self._origin_pair]
        self._via_pair = (VIA_HEADER, source_id)
        self._target_origin = cfg.target_cluster_id.encode()

    # ---- control, from other threads -------------------------------------------------

    def stop(self) -> None:
        """Ask the member to checkpoint and exit; returns at once."""
        self._stop.set()

    def set_limits(self, limits: Limits) -> None:
        """This member's share of the traffic limits (applies from the next batch)."""
        self._throttle.limits = limits

    def update_topics(
        self,
        topics: dict[str, str],
        partitions: dict[str, int] | None = None,
        partitions_at_start: dict[str, int] | None = None,
    ) -> None:
        """Switch to a new source->target mapping, partition counts and start layout
        (see `MemberConfig`); picked up between batches. Counts or layout not given stay."""
        with self._lock:
            current = self._new_topics or (self._topics, self._layout)
            layout = _Layout(
                dict(current[1].partitions if partitions is None else partitions),
                dict(current[1].at_start if partitions_at_start is None else partitions_at_start),
            )
            if (topics, layout) != current:
                self._new_topics = (dict(topics), layout)

    def snapshot(self) -> MemberSnapshot:
        """A copy of what the member reports now."""
        with self._lock:
            s = self._state
            return MemberSnapshot(
                state=s.state,
                partitions=list(s.partitions),
                committed=dict(s.committed),
                end_offsets=dict(s.end_offsets),
                error=s.error,
                warnings=[w for w, t in self._warnings.items() if time.monotonic() - t < 60],
                records_total=s.records_total,
                skipped_loop_total=s.skipped_loop_total,
                bytes_total=s.bytes_total,
                partition_records=dict(s.partition_records),
                latency=LatencyHistogram(s.latency.counts, s.latency.sum_ms),
                latency_max_ms=self._latency.recent_max(),
                throttled_s=self._throttle.throttled_s,
            )

    # ---- the run -----------------------------------------------------------------------

    def run(self) -> None:
        """Copy records until stopped. Raises on any failure after recording it."""
        try:
            self._open()
            self._loop()
            self._close()
            self._set(state=MemberState.STOPPED)
        except _StoppedMidBatch:
            log.info(
                "task %s member %d: stopped while the target was not accepting records; "
                "progress stays at the last commit",
                self.cfg.task_id,
                self.cfg.slot,
            )
            self._abandon()
            self._set(state=MemberState.STOPPED)
        except KsyncKafkaError as exc:
            self.failure = exc
            self._set(state=MemberState.FAILED, error=str(exc))
            self._abandon()
            raise
        except Exception as exc:
            self.failure = exc
            self._set(state=MemberState.FAILED, error=f"unexpected error: {exc!r}")
            self._abandon()
            raise

    def _open(self) -> None:
        cfg = self.cfg
        self._producer = self._new_producer(self._fitting_batch(self._topics.values()))
        self._consumer = new_client(
            Consumer,
            cfg.source,
            **consumer_settings(
                cfg.group_id, f"{cfg.group_id}-{cfg.slot}", cfg.session_timeout_ms, cfg.tuning
            ),
            error_cb=lambda err: self._on_client_error(err, "source", cfg.source),
        )
        self._learn_target_topics()
        self._subscribe()

    def _new_producer(self, batch_size: int) -> Producer:
        """A target producer whose batches are at most `batch_size` bytes."""
        cfg = self.cfg
        producer = new_client(
            Producer,
            cfg.target,
            **producer_settings(cfg.max_unacked_records, batch_size, cfg.tuning),
            on_delivery=self._on_delivery_error,
            error_cb=lambda err: self._on_client_error(err, "target", cfg.target),
        )
        self._batch_bytes = batch_size
        return producer

    def _fitting_batch(self, targets: Iterable[str]) -> int:
        """The largest batch every target topic of `targets` accepts (`batch_bytes`), from
        their max.message.bytes on the target; the default when they cannot be read."""
        names = sorted(set(targets))
        if not names:
            return MAX_BATCH_BYTES
        try:
            admin = InstanceAdmin(self.cfg.target, timeout_s=min(10.0, self.cfg.flush_timeout_s))
            return batch_bytes(admin.max_message_bytes(names).values(), self.cfg.tuning.batch_bytes)
        except KsyncKafkaError as exc:
            # Copying goes on: only a topic whose limit is below the default batch fails.
            self._warn(
                f"{exc}. Without it, batches to the target are up to {MAX_BATCH_BYTES} "
                "bytes, which a target topic with a smaller max.message.bytes refuses"
            )
            return MAX_BATCH_BYTES

    def _subscribe(self) -> None:
        assert self._consumer is not None
        if not self._topics:  # selection matches nothing yet: hold no partitions
            self._consumer.unsubscribe()
            return
        self._consumer.subscribe(
            sorted(self._topics),
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )

    # ---- the hot path ------------------------------------------------------------------

    def _loop(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        next_checkpoint = time.monotonic() + self.cfg.commit_interval_s
        self._set(state=MemberState.RUNNING)
        producer = self._producer
        assert producer is not None
        throttle = self._throttle
        unacked = self._latency.unacked
        avg_bytes = 0.0
        while not self._stop.is_set():
            if not self._topics:
                self._stop.wait(0.1)
                msgs = []
            else:
                batch = self.cfg.batch_size
                if not throttle.limits.unlimited:
                    batch = throttle.max_batch(batch, avg_bytes)
                # Take what is already fetched; wait only when nothing is (like Kafka's
                # poll()): waiting to fill a batch would add up to the timeout in latency
                # on quiet topics and idle the loop between fetches on busy ones.
                msgs = consumer.consume(batch, 0) or consumer.consume(1, 0.1)
            # Checked before producing the next batch: right after producing, the queue
            # is never empty, and latency would only be sampled at checkpoints.
            if unacked and len(producer) == 0:
                self._acknowledged()
            if msgs:
                nbytes = self._forward(cast(list[Record], msgs))
                if not throttle.limits.unlimited:
                    avg_bytes = nbytes / len(msgs)
                    wait = throttle.delay(len(msgs), nbytes)
                    if wait:
                        throttle.throttled_s += wait
                        self._stop.wait(wait)
            if self._background_error is not None:
                raise self._background_error
            if self._new_topics is not None:
                self._switch_topics()
                producer = self._producer  # rebuilt when a new target topic needs smaller batches
                assert producer is not None
            if time.monotonic() >= next_checkpoint:
                self._checkpoint(None)
                next_checkpoint = time.monotonic() + self.cfg.commit_interval_s

    def _forward(self, msgs: list[Record]) -> int:
        """The hot path: hand every record of a batch to the producer; returns its bytes."""
        producer = self._producer
        assert producer is not None
        produce = producer.produce
        topics = self._topics
        # Most members copy one topic: skip decoding and hashing each record's topic name.
        only_target = next(iter(topics.values())) if len(topics) == 1 else None
        origin_only = self._origin_only
        origin_pair = self._origin_pair
        via_pair = self._via_pair
        target_origin = self._target_origin
        keep = self.cfg.keep_partition
        skipped = 0
        for msg in msgs:
            if msg.error() is not None:
                self._on_message_error(msg)
                continue
            headers = msg.headers()
            if headers is None:
                headers = origin_only
            else:
                been_there = has_origin = False
                for k, v in headers:
                    if k == ORIGIN_HEADER or k == VIA_HEADER:
                        if v == target_origin:
                            been_there = True
                            break
                        has_origin = True
                if been_there:
                    skipped += 1  # written on or copied through the target: it would loop
                    continue
                headers.append(via_pair if has_origin else origin_pair)
            target = only_target or topics[msg.topic()]
            partition = msg.partition() if keep else -1
            ts = msg.timestamp()[1]
            ts = max(ts, 0)  # no timestamp: the target stamps it
            try:
                # Positional: (topic, value, key, partition, callback, on_delivery,
                # timestamp, headers); keyword parsing costs more than the call itself.
                produce(target, msg.value(), msg.key(), partition, None, None, ts, headers)
            except BufferError:
                self._produce_when_room((target, msg.value(), msg.key(), partition, None, None, ts, headers))
            except KafkaException as exc:  # refused before sending (e.g. over the size limit)
                if exc.args[0].code() != KafkaError._UNKNOWN_PARTITION:
                    raise self._write_failure(exc.args[0], target, msg.partition()) from None
                args = (target, msg.value(), msg.key(), partition, None, None, ts, headers)
                self._produce_to_new_partition(args)
        with self._producer_errors():
            producer.poll(0)
        nbytes = 0
        if self.cfg.measure:
            nbytes = sum(map(len, msgs))  # value bytes, summed in C
            self._latency.produced(msgs[0].timestamp()[1], msgs[-1].timestamp()[1], len(msgs) - skipped)
        with self._lock:
            self._state.records_total += len(msgs) - skipped
            self._state.skipped_loop_total += skipped
            self._state.bytes_total += nbytes
        return nbytes

    def _acknowledged(self) -> None:
        """Every batch produced so far is on the target: sample its latency."""
        with self._lock:
            self._latency.acknowledged(self._state.latency)

    # ---- the commit protocol -------------------------------------------------------------

    def _checkpoint(self, only: list[TopicPartition] | None, closing: bool = False) -> None:
        """Flush the producer, then commit positions (all, or just `only`).

        A target too slow to acknowledge everything within `flush_timeout_s` only delays
        the commit (with a warning): the records stay queued and are retried by the
        producer, and failing here would replay them all. Delivery errors fail at once.
        """
        consumer, producer = self._consumer, self._producer
        assert consumer is not None and producer is not None
        deadline = time.monotonic() + self.cfg.flush_timeout_s
        with self._producer_errors():
            remaining = producer.flush(min(1.0, self.cfg.flush_timeout_s))
        while remaining and time.monotonic() < deadline:
            # Waiting on a slow target: keep the source's end offsets current (a stall
            # must show as lag), and let a stop request through unless we are closing.
            self._record_progress([], consumer.assignment())
            if self._stop.is_set() and not closing:
                raise _StoppedMidBatch()
            with self._producer_errors():
                remaining = producer.flush(1.0)
        if self._delivery_error is not None:
            err, topic, partition = self._delivery_error
            raise self._write_failure(err, topic, partition)
        if remaining:
            self._warn(
                f"the target is slow: {remaining} records not yet acknowledged after "
                f"{self.cfg.flush_timeout_s:.0f}s; progress is committed once they are"
            )
            return
        if self._latency.unacked:
            self._acknowledged()
        assigned = only if only is not None else consumer.assignment()
        if not assigned:
            return
        positions = [tp for tp in consumer.position(assigned) if tp.offset >= 0]
        with self._lock:
            committed = self._state.committed
            fresh = [tp for tp in positions if committed.get((tp.topic, tp.partition)) != tp.offset]
        if fresh and not self._commit(consumer, fresh):
            self._record_progress([], assigned)
            return
        self._record_progress(positions, assigned)

    def _commit(self, consumer: Consumer, offsets: list[TopicPartition]) -> bool:
        """Commit `offsets`; False when the group cannot take a commit right now.

        A commit refused because a rebalance moved the group to a new generation, or
        because the coordinator is briefly unreachable, is only late: positions never go
        back, so the next checkpoint (or the revocation, for a partition that moves)
        commits them, and a partition that moves uncommitted is copied again from the last
        commit, never skipped. Failing the member instead would leave the group, start
        another rebalance and refuse that member's next commit too.
        """
        try:
            consumer.commit(offsets=offsets, asynchronous=False)
            return True
        except KafkaException as exc:
            failure = commit_failure(exc, self.cfg.source, self._rights("source"))
            if failure.persistent:
                raise failure from None
            if failure.code in _REBALANCE_CODES:
                log.info("task %s member %d: commit deferred: %s", self.cfg.task_id, self.cfg.slot, failure)
            else:
                self._warn(f"{failure}; retrying at the next checkpoint")
            return False

    # Rebalance callbacks run inside consume(); each goes through `_rebalance_errors`.

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        with self._rebalance_errors("taking up", partitions):
            self._take_up(consumer, partitions)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        with self._rebalance_errors("giving up", partitions):
            if self._consumer is not None:
                self._checkpoint(partitions, closing=True)
            consumer.incremental_unassign(partitions)
        self._forget(partitions)

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Another member may own these already: committing now would rewind its progress.
        log.warning(
            "task %s member %d: lost %d partitions without commit (session expired)",
            self.cfg.task_id,
            self.cfg.slot,
            len(partitions),
        )
        with self._rebalance_errors("releasing lost", partitions):
            consumer.incremental_unassign(partitions)
        self._forget(partitions)

    @contextlib.contextmanager
    def _rebalance_errors(self, doing: str, partitions: list[TopicPartition]) -> Iterator[None]:
        """Around a rebalance callback: a client error raised in it becomes a typed
        KsyncKafkaError naming the partitions.

        confluent-kafka (2.16) hands an exception escaping a rebalance callback out of
        consume() as a bare KafkaError, which is no exception class: no `except Exception`
        catches it, so the member would die without closing its consumer, and that
        consumer would keep its partitions from the other members.
        """
        try:
            yield
        except KafkaException as exc:
            raise wrap(exc, f"{doing} partitions {_names(partitions)}") from None

    def _take_up(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Start consuming newly assigned partitions from their commit, or from their
        resolved (and at once committed) start."""
        committed = consumer.committed(partitions, timeout=self.cfg.flush_timeout_s)
        fresh = [tp for tp in committed if tp.offset < 0]
        if fresh:
            starts = first_offsets(
                consumer,
                fresh,
                self.cfg.start,
                self._layout.at_start,
                self.cfg.flush_timeout_s,
                self._stop,
            )
            if starts is None:
                raise _StoppedMidBatch()
            consumer.commit(offsets=starts, asynchronous=False)
            by_key = {(tp.topic, tp.partition): tp.offset for tp in starts}
            for tp in committed:
                if tp.offset < 0:
                    tp.offset = by_key[(tp.topic, tp.partition)]
        consumer.incremental_assign(committed)
        with self._lock:
            owned = set(self._state.partitions)
            owned.update((tp.topic, tp.partition) for tp in committed)
            self._state.partitions = sorted(owned)
            for tp in committed:
                self._state.committed[(tp.topic, tp.partition)] = tp.offset
        log.info(
            "task %s member %d: assigned %s",
            self.cfg.task_id,
            self.cfg.slot,
            ", ".join(f"{tp.topic}[{tp.partition}]@{tp.offset}" for tp in committed),
        )

    def _forget(self, partitions: list[TopicPartition]) -> None:
        gone = {(tp.topic, tp.partition) for tp in partitions}
        with self._lock:
            self._state.partitions = [p for p in self._state.partitions if p not in gone]
            for key in gone:
                self._state.committed.pop(key, None)
                self._state.end_offsets.pop(key, None)

    # ---- the slow paths ------------------------------------------------------------------

    def _produce_when_room(self, args: tuple[Any, ...]) -> None:
        """The slow path: the target is slower than the source, so wait for acks instead
        of growing memory, then make the `produce(*args)` call the hot path could not."""
        producer = self._producer
        assert producer is not None
        refreshed = time.monotonic()
        while True:
            # Success reports are off, so poll() has nothing to return early for: it would
            # sleep its whole timeout even once room frees up. Short waits keep it moving.
            with self._producer_errors():
                producer.poll(0.001)
            if self._stop.is_set():
                # The batch is half produced: committing positions now would skip the
                # rest. Leave without a commit; the next member repeats from the last one.
                raise _StoppedMidBatch()
            if time.monotonic() - refreshed > 1.0:
                # A stall must stay visible: the source keeps growing while we wait.
                refreshed = time.monotonic()
                assigned = self._consumer.assignment() if self._consumer is not None else []
                self._record_progress([], assigned)
            try:
                producer.produce(*args)
                return
            except BufferError:
                continue
            except KafkaException as exc:
                raise self._write_failure(exc.args[0], args[0], args[3]) from None

    def _produce_to_new_partition(self, args: tuple[Any, ...]) -> None:
        """A partition the producer does not know yet: the target topic grew after the
        producer last read its metadata, or grows at the controller's next topic refresh.
        Re-read the topic's metadata until the partition is there, then make the
        `produce(*args)` call the hot path could not."""
        producer = self._producer
        assert producer is not None
        topic, partition = args[0], args[3]
        deadline = time.monotonic() + self.cfg.flush_timeout_s
        while True:
            try:
                producer.list_topics(topic, timeout=min(5.0, self.cfg.flush_timeout_s))
            except KafkaException:
                pass  # the target may be briefly unreachable: the deadline decides
            else:
                try:
                    producer.produce(*args)
                    return
                except BufferError:
                    self._produce_when_room(args)
                    return
                except KafkaException as exc:
                    if exc.args[0].code() != KafkaError._UNKNOWN_PARTITION:
                        raise self._write_failure(exc.args[0], topic, partition) from None
            if time.monotonic() > deadline:
                raise TransientKafkaError(
                    f"target topic {topic} has no partition {partition} after "
                    f"{self.cfg.flush_timeout_s:.0f}s: ksync adds the source's new partitions "
                    "to it at a topic refresh; if that fails, the task's warnings say why",
                    KafkaError._UNKNOWN_PARTITION,
                )
            if self._stop.wait(0.5):
                raise _StoppedMidBatch()

    # ---- progress and topics ---------------------------------------------------------------

    def _record_progress(
        self, positions: list[TopicPartition], assigned: list[TopicPartition]
    ) -> None:
        consumer = self._consumer
        assert consumer is not None
        ends: dict[tuple[str, int], int] = {}
        for tp in assigned:
            try:
                # Cached from fetch responses: free, and right even on brokers whose
                # ListOffsets answer is off (DESIGN.md "Test brokers").
                _, high = consumer.get_watermark_offsets(tp, cached=True)
            except KafkaException:
                continue
            if high >= 0:
                ends[(tp.topic, tp.partition)] = high
        with self._lock:
            state = self._state
            for tp in positions:
                key = (tp.topic, tp.partition)
                before = state.committed.get(key)
                if before is not None and tp.offset > before:
                    state.partition_records[key] = state.partition_records.get(key, 0) + tp.offset - before
                state.committed[key] = tp.offset
            state.end_offsets.update(ends)

    def _switch_topics(self) -> None:
        with self._lock:
            new, self._new_topics = self._new_topics, None
        if new is None:
            return
        topics, layout = new
        if topics != self._topics and not self._fit_batches(topics):
            # Records are still on their way to a slow target: switch after a later batch.
            with self._lock:
                if self._new_topics is None:
                    self._new_topics = new
            return
        before = self._layout.partitions
        grown = sorted(
            t for t, n in layout.partitions.items() if t in self._topics and n > before.get(t, n)
        )
        # The layout first: partitions of a new topic may be assigned inside subscribe().
        self._layout = layout
        if topics != self._topics:
            log.info(
                "task %s member %d: topics now %s", self.cfg.task_id, self.cfg.slot, sorted(topics)
            )
            # Records already produced used the old mapping; everything after uses the new one.
            self._topics = topics
            self._learn_target_topics()
            self._subscribe()
        if grown:
            self._refresh_metadata(grown)

    def _fit_batches(self, topics: dict[str, str]) -> bool:
        """Make the producer's batches fit the target topics that `topics` adds: a new
        producer when one of them accepts less than the current batch. False when that must
        wait for records still unacknowledged.

        librdkafka cannot change a running producer's batch.size, and a new producer does
        not take over the old one's queue: every record produced so far must be on the
        target (and its progress committed) before the old producer goes.
        """
        added = set(topics.values()) - set(self._topics.values())
        batch = self._fitting_batch(added)
        if batch >= self._batch_bytes:
            return True
        self._checkpoint(None)
        producer = self._producer
        assert producer is not None
        if len(producer):
            return False
        log.info(
            "task %s member %d: batches of at most %d bytes from now on, for target topics %s",
            self.cfg.task_id,
            self.cfg.slot,
            batch,
            sorted(added),
        )
        self._producer = self._new_producer(batch)
        return True

    def _learn_target_topics(self) -> None:
        """Have the producer know every target topic before the first record for it.

        A record for a topic the producer has no metadata for waits in librdkafka's
        unassigned queue and is numbered for its partition only when the metadata arrives;
        records produced while that happens can be numbered first and overtake it (seen as
        one key's records out of order on the target). One metadata request for all topics
        fills the client's cache, from which each topic is known at its first produce().
        """
        producer = self._producer
        assert producer is not None
        try:
            producer.list_topics(timeout=min(10.0, self.cfg.flush_timeout_s))
        except KafkaException as exc:
            # The target may be briefly unreachable: records still arrive, in order unless
            # its metadata comes back while this member is producing to it.
            self._warn(str(wrap(exc, "reading the target's topics before copying")))

    def _refresh_metadata(self, grown: list[str]) -> None:
        """Make the consumer group and the producer see the partitions added to `grown`.

        A metadata request for every topic is what makes librdkafka check the group's
        subscription against it and rejoin when a partition count changed; without it the
        group would notice only at its periodic refresh.
        """
        consumer, producer = self._consumer, self._producer
        assert consumer is not None and producer is not None
        log.info(
            "task %s member %d: partitions added to %s", self.cfg.task_id, self.cfg.slot, grown
        )
        timeout = min(10.0, self.cfg.flush_timeout_s)
        try:
            consumer.list_topics(timeout=timeout)
            for topic in grown:
                target = self._topics.get(topic)
                if target is not None:
                    producer.list_topics(target, timeout=timeout)
        except KafkaException as exc:
            # The group still notices at librdkafka's own refresh; say why it may be late.
            self._warn(str(wrap(exc, f"reading the metadata of grown topics {', '.join(grown)}")))

    # ---- closing ---------------------------------------------------------------------------

    def _close(self) -> None:
        consumer, producer = self._consumer, self._producer
        assert consumer is not None and producer is not None
        self._checkpoint(None, closing=True)
        consumer.close()  # revokes: on_revoke checkpoints again (a no-op by then)
        with self._producer_errors():
            producer.flush(self.cfg.flush_timeout_s)

    def _abandon(self) -> None:
        """Close clients after a failure without committing anything."""
        consumer, self._consumer = self._consumer, None
        producer, self._producer = self._producer, None
        if consumer is not None:
            try:
                consumer.unsubscribe()
                consumer.close()
            except (KafkaException, RuntimeError) as exc:
                log.warning("task %s member %d: close after failure: %s", self.cfg.task_id, self.cfg.slot, exc)
        if producer is not None:
            try:
                producer.purge()
                producer.flush(0)
            except (KafkaException, SystemError) as exc:
                # The failure being handled is what the member reports; this one (often
                # the same fatal error raised again) only goes to the log.
                log.warning("task %s member %d: producer close after failure: %s", self.cfg.task_id, self.cfg.slot, exc)

    # ---- error plumbing ----------------------------------------------------------------------

    def _on_delivery_error(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None and self._delivery_error is None:
            self._delivery_error = (err, msg.topic(), msg.partition())
            log.error(
                "task %s member %d: delivery to %s[%s] failed: %s",
                self.cfg.task_id,
                self.cfg.slot,
                msg.topic(),
                msg.partition(),
                err.str(),
            )

    def _on_client_error(self, err: KafkaError, side: str, conn: Connection) -> None:
        failure = client_failure(err, conn, side, self._rights(side))
        if not failure.persistent:
            # After a refusal, "1/1 brokers are down" would only repeat it, misleadingly.
            if self._background_error is None:
                self._warn(str(failure))
            return
        if self._background_error is None:
            self._background_error = failure

    def _on_message_error(self, msg: Record) -> None:
        err = msg.error()
        if err is None or err.code() == KafkaError._PARTITION_EOF:
            return
        failure = read_failure(err, self.cfg.source, msg.topic(), msg.partition(), self._rights("source"))
        if failure.persistent:
            raise failure
        self._warn(str(failure))

    def _write_failure(
        self, err: KafkaError, topic: str | None, partition: int | None
    ) -> KsyncKafkaError:
        if err.code() == KafkaError._FATAL and self._producer is not None:
            # produce() only says that the producer stopped; the error that stopped it
            # waits in its queue, and poll() raises it.
            try:
                with self._producer_errors():
                    self._producer.poll(0)
            except KsyncKafkaError as cause:
                return cause
        return write_failure(err, self.cfg.target, topic, partition, self._rights("target"))

    @contextlib.contextmanager
    def _producer_errors(self) -> Iterator[None]:
        """Around the producer's poll and flush: confluent-kafka raises a *fatal* producer
        error from them (an idempotent producer refused its producer id, say), which
        fails the member with a sentence rather than as an unexpected crash."""
        try:
            yield
        except (KafkaException, SystemError) as exc:
            err = kafka_error_in(exc)
            if err is not None:
                raise self._write_failure(err, None, None) from None
            if self._delivery_error is not None:
                # confluent-kafka (2.16) can lose the fatal error it meant to raise after a
                # delivery report ("returned NULL without setting an exception"): that
                # report says what went wrong, and where.
                raise self._write_failure(*self._delivery_error) from None
            raise

    def _rights(self, side: str) -> str:
        """The ACLs this member needs on `side`, for a sentence that asks for them."""
        if side == "source":
            return read_rights(self._topics, self.cfg.group_id)
        return write_rights(self._topics.values())

    def _warn(self, text: str) -> None:
        now = time.monotonic()
        with self._lock:
            # Keep recent transient warnings only: a healed outage should stop showing.
            self._warnings = {w: t for w, t in self._warnings.items() if now - t < 60}
            self._warnings[text] = now

    def _set(self, **changes: Any) -> None:
        with self._lock:
            for k, v in changes.items():
                setattr(self._state, k, v)


def _names(partitions: list[TopicPartition]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in partitions)


@dataclass(frozen=True)
class _Layout:
    """A member's view of its topics' partitions (see `MemberConfig`)."""

    partitions: dict[str, int]
    at_start: dict[str, int]


class _StoppedMidBatch(Exception):
    """Stop requested while a batch was only partly handed to the producer."""
