"""A member: one consumer/producer pair copying a share of a task's partitions.

Its share is fixed by `ksync.replication.shares` from its slot and the task's `task_max`:
the member takes it with `assign()` and joins no consumer group, so it copies from its
first second, and no rebalance ever moves a partition under it (docs/design.md,
"Partition shares"). That no other member holds one of its partitions at the same time is
the worker's promise: it starts a member only after every member that could hold them
stopped.

A member is three objects, each with its own state:

* `Member` (here): the loop, its lifecycle (open, run, close or abandon) and topic
  switching; it reads batches from the source and hands every record to the target
  producer's own `produce`, in C, with no per-record Python callback;
* `Checkpointer` and `Progress` (`ksync.replication.commit`): the commit protocol and its
  invariants: a source offset is committed only after the target acknowledged every
  record before it, never for a partition that left the member's share, never
  backwards; the rule is the pure function `committable`;
* `TargetProducer` (`ksync.kafka.target_producer`): batch fitting, the slow paths, the
  delivery-error latch and fatal errors; no record goes to a target topic before the
  producer's metadata lists every partition of it with a leader, so none overtakes
  another.

They meet through small callbacks (`warn`, `waiting`, `acknowledged`, `grant`) and one
exception, `StoppedMidBatch` (a stop request while the target holds the member up: it
leaves without a commit, and its successor repeats from the last one).

Start point. Invariant: the task's start point applies only to partitions that existed
when the task started (the first `partitions_at_start` of each topic, decided once by the
controller and stored with the task); every other partition with no committed offset, of a
grown topic or of a topic that joined the selection later, starts at its first record, for
it has no history to skip (`partition_start`). The start is resolved to a numeric offset
and committed at once (`commit`, point 5).

New partitions: the controller's view of each topic (its partition count) reaches the
member through `update_topics`, and the member takes up the new partitions of its share at
once (a topic or partition the controller has not counted yet is in no share). A count
that grew makes both clients refresh their metadata at once rather than at librdkafka's
own refresh (`topic.metadata.refresh.interval.ms`, 5 minutes); the producer still finds a
target partition it does not know yet on its slow path.

Batch size. The producer's batches fit the smallest `max.message.bytes` among the member's
target topics, read when the member opens and when a topic switch adds target topics; a
smaller limit then replaces the producer after a checkpoint (`TargetProducer.replace`). A
limit lowered on a running topic is met at the next start.

Refused records. A record the target would refuse for its content (larger than a target
topic accepts) would stop the target producer for every partition; `RecordGuard`
(`ksync.replication.dead_letter`) finds such records before they are produced, only for
topics whose target is stricter than their source, and blocks their topic or sends them
to the dead-letter topic as `options.errors` says.

Exactly-once (`options.delivery: exactly_once`): the target producer is transactional,
with the unit's stable id, and takes it (fencing its predecessor) before the member reads
anything; the member fences the ids of earlier layouts of the task, resumes from the
task's group on the target, and begins a transaction before the first batch after each
commit; each checkpoint commits records and positions in that one transaction. A member
that fails or is stopped mid-batch aborts it. The protocol and its invariant are in
`ksync.replication.transactions` and `ksync.replication.commit`.

Reading order: the hot path (`_loop`, `_forward`), then topic switching, then the
plumbing. The consumer's settings are in `member_clients`, the error sentences in
`ksync.kafka.errors`, latency sampling in `ksync.monitoring.latency`.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from ksync.domain.groups import group_id
from ksync.domain.status import MemberState
from ksync.kafka.admin import InstanceAdmin, TopicLimits
from ksync.kafka.config import new_client
from ksync.kafka.errors import (
    KsyncKafkaError,
    client_failure,
    read_failure,
    read_rights,
    wrap,
)
from ksync.kafka.target_producer import PRODUCER_MAX_MESSAGE_BYTES, StoppedMidBatch, TargetProducer
from ksync.monitoring.latency import LatencyHistogram, LatencySampler
from ksync.replication.commit import Checkpointer, Lost, Progress
from ksync.replication.dead_letter import RecordGuard, extra_header_bytes
from ksync.replication.member_clients import consumer_settings
from ksync.replication.offset_marks import OffsetMarks, RecordedPair
from ksync.replication.provenance import ORIGIN_HEADER, VIA_HEADER
from ksync.replication.shares import share
from ksync.replication.throttle import Limits, Throttle
from ksync.replication.transactions import (
    TargetProgress,
    check_one_source_per_target,
    transactional_id,
)
from ksync.spec import ClientTuning, Connection, Delivery, ErrorTolerance, StartPoint

log = logging.getLogger(__name__)

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
    def offset(self) -> int | None: ...
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
    # Source topic -> its partition count as the controller last saw it: the member's
    # share is computed from it (a topic not listed has no partitions yet).
    partitions: dict[str, int] = field(default_factory=dict)
    # The task's member count; with `slot` it fixes the member's share (`shares`).
    task_max: int = 1
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
    # What to do with a record the target refuses (`options.errors`).
    errors: ErrorTolerance = field(default_factory=ErrorTolerance)
    # `exactly_once`: records and progress committed in one target transaction
    # (`ksync.replication.transactions`).
    delivery: Delivery = "at_least_once"
    # Record offset pairs for consumer-group offset sync (`offset_marks`); needs
    # keep_partition.
    offset_pairs: bool = False

    @property
    def group_id(self) -> str:
        return group_id(self.task_id)

    @property
    def exactly_once(self) -> bool:
        return self.delivery == "exactly_once"


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
    # Records the source deleted (retention) before they were copied, per partition.
    lost: dict[tuple[str, int], Lost] = field(default_factory=dict)
    # Source topic -> why the member does not copy it now (the target refuses a record).
    blocked: dict[str, str] = field(default_factory=dict)
    # Source topic -> (partition, offset) of the refused record that blocks it.
    blocked_at: dict[str, tuple[int, int]] = field(default_factory=dict)
    dead_lettered_total: int = 0  # refused records written to the dead-letter topic
    skipped_refused_total: int = 0  # refused records skipped (tolerance all, no such topic)
    # Recent offset pairs (offset sync), oldest first: see `OffsetMarks.recent`.
    offset_pairs: tuple[RecordedPair, ...] = ()

    @property
    def lost_total(self) -> int:
        """Records lost to retention since the member started."""
        return sum(lost.records for lost in self.lost.values())


class Member:
    """Runs `run()` in a thread until `stop()`; `snapshot()` is safe from any thread."""

    def __init__(self, cfg: MemberConfig) -> None:
        self.cfg = cfg
        self._name = f"task {cfg.task_id} member {cfg.slot}"
        self._stop = threading.Event()
        self._lock = threading.Lock()
        # State, error and totals; what the member holds and committed is in `_progress`.
        self._state = MemberSnapshot()
        self._topics = dict(cfg.topics)
        self._layout = _Layout(dict(cfg.partitions), dict(cfg.partitions_at_start))
        self._new_topics: tuple[dict[str, str], _Layout] | None = None
        self._source_error: KsyncKafkaError | None = None  # persistent, from error_cb
        self._warnings: dict[str, float] = {}
        self._progress = Progress()
        self._target = TargetProducer(
            cfg.target,
            name=self._name,
            max_unacked_records=cfg.max_unacked_records,
            timeout_s=cfg.flush_timeout_s,
            stop=self._stop,
            warn=self._warn,
            waiting=self._waiting,
            tuning=cfg.tuning,
            transactional_id=(
                transactional_id(cfg.task_id, cfg.slot, cfg.task_max) if cfg.exactly_once else None
            ),
            marks=cfg.offset_pairs,
        )
        self._transactions: TargetProgress | None = None
        self._marks = OffsetMarks(self._target.note_delivery) if cfg.offset_pairs else None
        self._consumer: Consumer | None = None
        self._commits: Checkpointer | None = None
        self._held: set[tuple[str, int]] = set()  # assigned to the consumer
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
        self._guard = RecordGuard(
            cfg.errors,
            name=self._name,
            dead_letter_conn=cfg.source if cfg.errors.dead_letter_instance == "source" else cfg.target,
            producer_max=PRODUCER_MAX_MESSAGE_BYTES,
            timeout_s=cfg.flush_timeout_s,
            warn=self._warn,
            limits=self._topic_limits,
        )
        self._extra_header = extra_header_bytes((ORIGIN_HEADER, VIA_HEADER), source_id)

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
        partitions, committed, ends, records = self._progress.view()
        with self._lock:
            s = self._state
            return MemberSnapshot(
                state=s.state,
                partitions=[(t, p) for t, p in partitions],
                committed=committed,
                end_offsets=ends,
                error=s.error,
                warnings=[w for w, t in self._warnings.items() if time.monotonic() - t < 60],
                records_total=s.records_total,
                skipped_loop_total=s.skipped_loop_total,
                bytes_total=s.bytes_total,
                partition_records=records,
                latency=LatencyHistogram(s.latency.counts, s.latency.sum_ms),
                latency_max_ms=self._latency.recent_max(),
                throttled_s=self._throttle.throttled_s,
                lost=self._progress.lost(),
                blocked=self._guard.blocked(),
                blocked_at=self._guard.blocked_at(),
                dead_lettered_total=self._guard.dead_lettered,
                skipped_refused_total=self._guard.skipped,
                offset_pairs=self._marks.recent() if self._marks is not None else (),
            )

    # ---- the run -----------------------------------------------------------------------

    def run(self) -> None:
        """Copy records until stopped. Raises on any failure after recording it."""
        try:
            self._open()
            self._loop()
            self._close()
            self._set(state=MemberState.STOPPED)
        except StoppedMidBatch:
            log.info(
                "%s: stopped while the target was not accepting records; "
                "progress stays at the last commit",
                self._name,
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
        if cfg.exactly_once:
            check_one_source_per_target(self._topics)
        # Exactly-once: the producer takes the unit's transactional id here, fencing its
        # predecessor, before anything is read or copied.
        self._target.open(self._topics.values())
        if cfg.exactly_once:
            self._transactions = TargetProgress(
                cfg.target,
                task_id=cfg.task_id,
                slot=cfg.slot,
                task_max=cfg.task_max,
                topics=lambda: self._topics,
                timeout_s=cfg.flush_timeout_s,
                name=self._name,
            )
            self._transactions.fence_other_layouts(self._layout.partitions)
        self._guard.learn(self._topics)
        self._consumer = new_client(
            Consumer,
            cfg.source,
            **consumer_settings(cfg.group_id, f"{cfg.group_id}-{cfg.slot}", cfg.tuning),
            error_cb=self._on_source_error,
        )
        self._commits = Checkpointer(
            self._consumer,
            self._target,
            self._progress,
            name=self._name,
            source=cfg.source,
            group=cfg.group_id,
            grant=self._read_rights,
            warn=self._warn,
            start=cfg.start,
            at_start=lambda: self._layout.at_start,
            timeout_s=cfg.flush_timeout_s,
            stop=self._stop,
            acknowledged=self._flushed,
            held=self._guard.held,
            transactions=self._transactions,
        )
        self._take_share()

    def _take_share(self) -> None:
        """Hold exactly this member's share of the current topics: give up what left it
        (each checkpointed first), then take up what joined it."""
        commits = self._commits
        assert commits is not None
        cfg = self.cfg
        counts = {t: n for t, n in self._layout.partitions.items() if t in self._topics}
        wanted = share(counts, cfg.slot, cfg.task_max)
        gone = sorted(self._held - wanted)
        if gone:
            commits.give_up([TopicPartition(t, p) for t, p in gone])
            self._held -= set(gone)
        new = sorted(wanted - self._held)
        if new:
            try:
                commits.take_up([TopicPartition(t, p) for t, p in new])
            except KsyncKafkaError:
                self._raise_source_error_first()
                raise
            self._held |= set(new)

    def _raise_source_error_first(self) -> None:
        """A take-up that failed (a time-out, typically) often has a better reason waiting
        in the client's error callback, which a blocking committed() never serves: a login
        the source refused, say. Serve it and raise that reason instead. Only while the
        member holds nothing: then poll() cannot return a record, which would be lost."""
        consumer = self._consumer
        if consumer is None or self._held:
            return
        consumer.poll(0)
        if self._source_error is not None:
            raise self._source_error from None

    # ---- the hot path ------------------------------------------------------------------

    def _loop(self) -> None:
        consumer, commits = self._consumer, self._commits
        assert consumer is not None and commits is not None
        next_checkpoint = time.monotonic() + self.cfg.commit_interval_s
        self._set(state=MemberState.RUNNING)
        target = self._target
        producer = target.client
        throttle = self._throttle
        unacked = self._latency.unacked
        # Exactly-once: records go into a transaction, begun before the first batch after
        # a commit (a flag test per batch).
        begin = target.begin if self.cfg.exactly_once else None
        avg_bytes = 0.0
        while not self._stop.is_set():
            if not self._held:  # an empty share: idle, checking for new topics
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
                if begin is not None:
                    begin()
                nbytes = self._forward(cast(list[Record], msgs))
                if not throttle.limits.unlimited:
                    avg_bytes = nbytes / len(msgs)
                    wait = throttle.delay(len(msgs), nbytes)
                    if wait:
                        throttle.throttled_s += wait
                        self._stop.wait(wait)
            if self._source_error is not None or target.failure is not None:
                raise self._source_error or cast(KsyncKafkaError, target.failure)
            if self._new_topics is not None:
                self._switch_topics()
                producer = target.client  # replaced when a new target topic needs smaller batches
            if time.monotonic() >= next_checkpoint:
                commits.checkpoint()
                if self._guard.retry_due():
                    self._guard.retry(self._topics, consumer)
                next_checkpoint = time.monotonic() + self.cfg.commit_interval_s

    def _forward(self, msgs: list[Record]) -> int:
        """The hot path: hand every record of a batch to the producer; returns its bytes."""
        target = self._target
        produce = target.client.produce
        topics = self._topics
        # Most members copy one topic: skip decoding and hashing each record's topic name.
        only_target = next(iter(topics.values())) if len(topics) == 1 else None
        if self._guard.screens:  # a target topic stricter than its source: look first
            only_source = next(iter(topics)) if len(topics) == 1 else None
            msgs = self._guard.screen(msgs, only_source, self._extra_header, self._consumer)
            if not msgs:
                return 0
        origin_only = self._origin_only
        origin_pair = self._origin_pair
        via_pair = self._via_pair
        target_origin = self._target_origin
        keep = self.cfg.keep_partition
        skipped = 0
        # Offset sync: the first produced record of each (topic, partition) run may carry
        # a delivery callback (`OffsetMarks.due`); every other record carries none.
        marks = self._marks
        mark_due = marks.due if marks is not None else None
        on_delivery = None
        run: tuple[str, int] | None = None
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
            topic = only_target or topics[msg.topic()]
            partition = msg.partition() if keep else -1
            ts = msg.timestamp()[1]
            ts = max(ts, 0)  # no timestamp: the target stamps it
            if mark_due is not None:
                if run is None or partition != run[1] or topic is not run[0]:
                    run = (topic, partition)
                    on_delivery = mark_due(msg.topic(), partition, cast(int, msg.offset()))
                elif on_delivery is not None:
                    on_delivery = None
            try:
                # Positional: (topic, value, key, partition, on_delivery, callback,
                # timestamp, headers); keyword parsing costs more than the call itself.
                # The delivery callback goes 5th: an explicit None there wins over the 6th.
                produce(topic, msg.value(), msg.key(), partition, on_delivery, None, ts, headers)
            except BufferError:
                target.produce_when_room(
                    (topic, msg.value(), msg.key(), partition, on_delivery, None, ts, headers)
                )
            except KafkaException as exc:  # refused before sending (e.g. an unknown partition)
                args = (topic, msg.value(), msg.key(), partition, on_delivery, None, ts, headers)
                target.produce_refused(exc, args, msg.partition())
        target.poll()
        nbytes = 0
        if self.cfg.measure:
            nbytes = sum(map(len, msgs))  # value bytes, summed in C
            self._latency.produced(
                msgs[0].timestamp()[1], msgs[-1].timestamp()[1], len(msgs) - skipped
            )
        with self._lock:
            self._state.records_total += len(msgs) - skipped
            self._state.skipped_loop_total += skipped
            self._state.bytes_total += nbytes
        return nbytes

    def _acknowledged(self) -> None:
        """Every batch produced so far is on the target: sample its latency."""
        with self._lock:
            self._latency.acknowledged(self._state.latency)

    def _flushed(self) -> None:
        """A checkpoint found everything acknowledged."""
        if self._latency.unacked:
            self._acknowledged()

    # ---- topic switching ---------------------------------------------------------------

    def _switch_topics(self) -> None:
        with self._lock:
            new, self._new_topics = self._new_topics, None
        if new is None:
            return
        topics, layout = new
        if topics != self._topics and self.cfg.exactly_once:
            check_one_source_per_target(topics)
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
        self._layout = layout
        if grown:
            self._refresh_metadata(grown)
        if topics != self._topics:
            log.info("%s: topics now %s", self._name, sorted(topics))
            # Records already produced used the old mapping; everything after uses the new one.
            self._topics = topics
            self._target.use(topics.values())
            self._guard.learn(topics)
        self._take_share()

    def _fit_batches(self, topics: dict[str, str]) -> bool:
        """Make the producer's batches fit the target topics that `topics` adds: a new
        producer when one of them accepts less than the current batch. False when that must
        wait for records still unacknowledged: every record produced so far must be on the
        target, and its progress committed, before the old producer goes."""
        added = set(topics.values()) - set(self._topics.values())
        batch = self._target.fitting_batch(added)
        if batch >= self._target.batch_bytes:
            return True
        assert self._commits is not None
        self._commits.checkpoint()
        return self._target.replace(batch)

    def _refresh_metadata(self, grown: list[str]) -> None:
        """Make the consumer and the producer see the partitions added to `grown` now.

        A partition assigned before the consumer's metadata lists it waits for the next
        refresh (5 minutes by default); a metadata request updates the client's cache.
        """
        consumer = self._consumer
        assert consumer is not None
        log.info("%s: partitions added to %s", self._name, grown)
        try:
            consumer.list_topics(timeout=min(10.0, self.cfg.flush_timeout_s))
        except KafkaException as exc:
            # librdkafka's own refresh still finds them; say why they may be late.
            self._warn(str(wrap(exc, f"reading the metadata of grown topics {', '.join(grown)}")))
        self._target.refresh(self._topics[t] for t in grown if t in self._topics)

    # ---- closing ---------------------------------------------------------------------------

    def _close(self) -> None:
        consumer, commits = self._consumer, self._commits
        assert consumer is not None and commits is not None
        commits.checkpoint(closing=True)
        consumer.close()  # in no group: nothing to leave, nothing committed by closing
        self._target.close()
        self._guard.close()
        if self._transactions is not None:
            self._transactions.close()

    def _abandon(self) -> None:
        """Close clients after a failure without committing anything."""
        if self._commits is not None:
            self._commits.abandon()
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            try:
                consumer.close()
            except (KafkaException, RuntimeError) as exc:
                log.warning("%s: close after failure: %s", self._name, exc)
        # Exactly-once: the open transaction is aborted, so none of its records shows.
        self._target.abandon()
        self._guard.close()
        if self._transactions is not None:
            self._transactions.close()

    # ---- error plumbing ----------------------------------------------------------------------

    def _on_source_error(self, err: KafkaError) -> None:
        failure = client_failure(err, self.cfg.source, "source", self._read_rights())
        if failure.persistent:
            if self._source_error is None:
                self._source_error = failure
        elif self._source_error is None:
            # After a refusal, "1/1 brokers are down" would only repeat it, misleadingly.
            self._warn(str(failure))

    def _on_message_error(self, msg: Record) -> None:
        err = msg.error()
        if err is None or err.code() == KafkaError._PARTITION_EOF:
            return
        if err.code() == KafkaError._AUTO_OFFSET_RESET:  # the source no longer has the position
            assert self._commits is not None
            warning = self._commits.resume_at_earliest(msg.topic(), msg.partition(), msg.offset())
            if warning is not None:
                self._warn(warning)
            return
        failure = read_failure(
            err, self.cfg.source, msg.topic(), msg.partition(), self._read_rights()
        )
        if failure.persistent:
            raise failure
        self._warn(str(failure))

    def _topic_limits(
        self, sources: list[str], targets: list[str]
    ) -> tuple[dict[str, TopicLimits], dict[str, TopicLimits]]:
        """What the source topics hold and the target topics accept (`RecordGuard`)."""
        timeout = min(10.0, self.cfg.flush_timeout_s)
        return (
            InstanceAdmin.shared(self.cfg.source, timeout_s=timeout).topic_limits(sources),
            InstanceAdmin.shared(self.cfg.target, timeout_s=timeout).topic_limits(targets),
        )

    def _read_rights(self) -> str:
        """The ACLs this member needs on the source, for a sentence that asks for them."""
        return read_rights(self._topics, self.cfg.group_id)

    def _waiting(self) -> None:
        """The target holds the member up: keep the source's end offsets current, for a
        stall must show as lag while the source keeps growing."""
        if self._commits is not None:
            self._commits.record_ends()

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


@dataclass(frozen=True)
class _Layout:
    """A member's view of its topics' partitions (see `MemberConfig`)."""

    partitions: dict[str, int]
    at_start: dict[str, int]
