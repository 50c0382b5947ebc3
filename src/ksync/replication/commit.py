"""The commit protocol of a member: at least once, no loss.

Invariant: a source offset is committed only after the target acknowledged every record
before it. How:

1. `consume()` returns a batch; every record is handed to `produce()` before the next
   `consume()` call. The consumer's *positions* (next offset to read per partition) then
   cover exactly what was produced; they cost nothing per record to track.
2. A checkpoint (every `commit_interval_s`, when a partition leaves the member's share, on
   stop) waits for the target to
   acknowledge everything produced (`TargetProducer.drain`). Only when nothing is
   outstanding and no delivery failed are positions committed (`committable`): a delivery
   error fails the member, which restarts from the last commit (repeats possible, loss
   impossible); a target too slow to acknowledge in time only delays the commit.
3. Only partitions the member holds are committed. The member holds its share of the
   task's partitions (`ksync.replication.shares`) through `assign()`, never through a
   consumer group: a partition leaving the share (its topic left the selection) is
   checkpointed and only then unassigned and forgotten (`give_up`), so nothing commits it
   afterwards. No other member of the task holds it meanwhile: the worker starts a member
   only once every member that could hold its partitions has stopped (docs/design.md,
   "Partition shares").
4. A commit never moves an offset back, and only changed positions are sent.
5. A partition with no committed offset gets its start (`partition_start`) resolved to a
   number and committed at once, before it is consumed: a restart neither re-resolves
   `latest` to a later offset nor decides a partition's start twice.

6. A position the source no longer has (its retention deleted records not copied yet: a
   long pause, a target outage) is never jumped over silently: the consumer reports it
   (`auto.offset.reset` is `error`), and `resume_at_earliest` counts the records lost,
   per partition and exactly, and goes on from the earliest record left. Those records
   count as lost, never as delivered, and the new position is committed at the next
   checkpoint even before a record is read from it, so a restart does not count them again.

The rule of 2-4 is `committable`, a pure function; `Progress` is the pure state it reads
(what the member holds and committed); `Checkpointer` does the I/O around them.

With `options.delivery: exactly_once` (a `TargetProgress`), points 1 and 3-6 hold as
written and point 2 becomes: a checkpoint waits for the target to acknowledge everything
produced, then commits the open transaction with the positions in it, in the task's group
on the target (`ksync.replication.transactions`); a failed commit aborts it and fails the
member, whose successor resumes at the last committed transaction. Every checkpoint then
covers every held partition (one transaction holds the records of all of them), a
partition is given up only once its records are committed, and a start (point 5) or a
resumed position is committed in a transaction before anything is copied (which also
writes the member's transactional id into the metadata of its partitions). The source
group is written after each transaction too, for lag display; it is never ahead.

The commits still go to the task's consumer group (`ksync.domain.groups`), whose offsets
are the task's progress for every reader. A consumer that never joins the group commits
as generation -1, which the broker accepts while the group has no members; if a consumer
that is not ksync's joins the group, the broker refuses (`FOREIGN_MEMBER_CODES`) and the
member says so at every checkpoint until it leaves.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from ksync.domain.topics import lost_to_retention, past_the_end
from ksync.kafka.errors import (
    COORDINATOR_CODES,
    KsyncKafkaError,
    TransientKafkaError,
    commit_failure,
    kafka_error_in,
    partition_errors,
    partition_failure,
    wrap,
)
from ksync.kafka.target_producer import StoppedMidBatch, TargetProducer
from ksync.replication.partition_start import first_offsets
from ksync.replication.transactions import Key, TargetProgress, resume_offset
from ksync.spec import Connection, StartPoint

log = logging.getLogger(__name__)


# A commit that waits this long for the group coordinator shows as a warning while it
# waits: librdkafka's synchronous commit blocks the member's thread, which then serves no
# client error callback, so an unreachable source would otherwise show nothing at all.
SLOW_COMMIT_S = 2.0

# Commit refusals that mean "the group has members": ksync's members never join it, so
# these are a foreign consumer's (measured on Kafka 4.4.0: UNKNOWN_MEMBER_ID for a classic
# and for a KIP-848 member alike).
FOREIGN_MEMBER_CODES = frozenset(
    {
        KafkaError.REBALANCE_IN_PROGRESS,
        KafkaError.ILLEGAL_GENERATION,
        KafkaError.UNKNOWN_MEMBER_ID,
    }
)


def committable(
    positions: Mapping[Key, int],
    committed: Mapping[Key, int],
    owned: Collection[Key],
    unacked: int,
    delivery_failed: bool,
) -> dict[Key, int]:
    """The offsets that may be committed now (see the module's docstring).

    `positions` are the consumer's next offsets per partition, `committed` what was last
    committed, `owned` the partitions the member holds (one leaving its share until its
    final checkpoint), `unacked` how many produced records the target has not
    acknowledged, `delivery_failed` whether any delivery failed.
    """
    if delivery_failed or unacked:
        return {}
    return {
        key: offset
        for key, offset in positions.items()
        if offset >= 0 and key in owned and offset > committed.get(key, -1)
    }


@dataclass(frozen=True)
class Lost:
    """Records of one partition the source deleted (retention) before the member copied
    them: `records` in all since the member started, the last gap being offsets `first`
    to `earliest` - 1."""

    records: int
    first: int
    earliest: int


def lost_entry(lost: Lost | None) -> dict[str, int]:
    """A partition's loss as its progress entry carries it (nothing when none)."""
    if lost is None:
        return {}
    return {"lost_records": lost.records, "lost_first": lost.first, "lost_earliest": lost.earliest}


class Progress:
    """What a member holds and has committed, per partition, the source's end offsets it
    last saw, and the records the source deleted before they were copied; read by
    `snapshot()` from other threads (hence the lock).

    Invariant: records delivered per partition count only records the target
    acknowledged. A gap the source deleted (`lose`) lies between the last commit and the
    next one, so the commit that passes it subtracts it from the advance.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._committed: dict[Key, int] = {}  # owned partitions, and where each stands
        self._ends: dict[Key, int] = {}
        self._records: dict[Key, int] = {}  # records delivered, from committed advances
        self._lost: dict[Key, Lost] = {}
        # Per partition: records lost since its last commit, and the offset after the
        # latest gap; the first commit at or past it subtracts them from the advance.
        self._gaps: dict[Key, tuple[int, int]] = {}

    def take_up(self, offsets: Mapping[Key, int]) -> None:
        """The member now holds these partitions, committed up to `offsets`."""
        with self._lock:
            self._committed.update(offsets)

    def forget(self, keys: Iterable[Key]) -> None:
        """The member no longer holds these partitions (after their final checkpoint)."""
        with self._lock:
            for key in keys:
                self._committed.pop(key, None)
                self._ends.pop(key, None)
                self._gaps.pop(key, None)

    def plan(
        self, positions: Mapping[Key, int], unacked: int, delivery_failed: bool
    ) -> dict[Key, int]:
        """`committable` against what the member holds and committed. A partition that
        resumed after a gap (`lose`) and has read nothing since has no position yet
        (librdkafka's -1001 until a record arrives): the offset it resumed at stands in, so
        that a restart does not meet, and count, the same gap again."""
        with self._lock:
            resumed = {
                key: gap[1] for key, gap in self._gaps.items() if positions.get(key, -1) < 0
            }
            return committable(
                {**positions, **resumed},
                self._committed,
                self._committed.keys(),
                unacked,
                delivery_failed,
            )

    def advance(self, done: Mapping[Key, int]) -> None:
        """`done` was committed: count the records it covers, for partitions still held
        (less the records the source deleted in between)."""
        with self._lock:
            for key, offset in done.items():
                before = self._committed.get(key)
                if before is None or offset <= before:
                    continue
                delivered = offset - before
                gap = self._gaps.get(key)
                if gap is not None and offset >= gap[1]:
                    delivered -= gap[0]
                    del self._gaps[key]
                self._records[key] = self._records.get(key, 0) + max(0, delivered)
                self._committed[key] = offset

    def lose(self, key: Key, position: int, earliest: int) -> Lost | None:
        """The source no longer has offsets `position` to `earliest` - 1 of a held
        partition, none of them copied: count them. None when nothing was lost (or the
        partition is not held)."""
        with self._lock:
            if key not in self._committed or earliest <= position:
                return None
            records = earliest - position
            before = self._lost.get(key)
            lost = Lost((before.records if before else 0) + records, position, earliest)
            self._lost[key] = lost
            pending = self._gaps.get(key, (0, earliest))[0]
            self._gaps[key] = (pending + records, earliest)
            return lost

    def holds(self, key: Key) -> bool:
        """The member holds this partition."""
        with self._lock:
            return key in self._committed

    def lost(self) -> dict[Key, Lost]:
        """Records lost to retention per partition, since the member started."""
        with self._lock:
            return dict(self._lost)

    def set_ends(self, ends: Mapping[Key, int]) -> None:
        """The source's end offsets of held partitions."""
        with self._lock:
            self._ends.update((k, v) for k, v in ends.items() if k in self._committed)

    def view(self) -> tuple[list[Key], dict[Key, int], dict[Key, int], dict[Key, int]]:
        """Copies of: held partitions, their committed offsets, end offsets, records delivered."""
        with self._lock:
            return (
                sorted(self._committed),
                dict(self._committed),
                dict(self._ends),
                dict(self._records),
            )


class Checkpointer:
    """The commit protocol's I/O for one member: checkpoints, and taking up and giving up
    partitions as the member's share changes.

    `group` is the task's consumer group (named in refusals), `grant()` names the ACLs the member needs on the source, `warn` shows a transient
    problem, `at_start()` is the member's current start layout (see `partition_start`),
    `acknowledged` is called when the target acknowledged everything produced; `held()`
    maps a partition whose records from an offset on were held back to that offset, which
    no commit passes (`ksync.replication.dead_letter`). `transactions`, for exactly-once,
    is where the task's progress is kept on the target (see the module's docstring).
    """

    def __init__(
        self,
        consumer: Consumer,
        target: TargetProducer,
        progress: Progress,
        *,
        name: str,
        source: Connection,
        group: str,
        grant: Callable[[], str],
        warn: Callable[[str], None],
        start: StartPoint,
        at_start: Callable[[], Mapping[str, int]],
        timeout_s: float,
        stop: threading.Event,
        acknowledged: Callable[[], None],
        held: Callable[[], Mapping[Key, int]] = dict,
        transactions: TargetProgress | None = None,
    ) -> None:
        self._consumer = consumer
        self._target = target
        self._progress = progress
        self._name = name
        self._source = source
        self._group = group
        self._grant = grant
        self._warn = warn
        self._start = start
        self._at_start = at_start
        self._timeout_s = timeout_s
        self._stop = stop
        self._acknowledged = acknowledged
        self._held = held
        self._transactions = transactions
        self._abandoned = False

    def abandon(self) -> None:
        """Commit nothing from now on (the member failed: its clients are closing)."""
        self._abandoned = True

    # ---- checkpoints -----------------------------------------------------------------------

    def checkpoint(self, only: list[TopicPartition] | None = None, closing: bool = False) -> None:
        """Wait for the target to acknowledge everything produced, then commit positions
        (of every held partition, or just `only`). While `closing` a stop request does not
        cut the wait short. A target too slow to acknowledge in time leaves progress where
        it was (a warning says so); a failed delivery raises."""
        remaining = self._target.drain(self._timeout_s, stoppable=not closing)
        failure = self._target.delivery_failure()
        if failure is not None:
            raise failure
        if remaining:
            self._warn(
                f"the target is slow: {remaining} records not yet acknowledged after "
                f"{self._timeout_s:.0f}s; progress is committed once they are"
            )
            return
        self._acknowledged()
        consumer = self._consumer
        txn = self._transactions
        # One transaction holds the records of every partition: it commits all of them.
        assigned = only if only is not None and txn is None else consumer.assignment()
        if not assigned:
            return
        positions: dict[Key, int] = {}
        unknown = False
        for tp in consumer.position(assigned):
            if tp.error is not None:
                unknown = True
                # Not committed this time; the next checkpoint asks again.
                log.warning(
                    "%s: no position for %s[%d]: %s",
                    self._name,
                    tp.topic,
                    tp.partition,
                    tp.error.str(),
                )
            else:
                positions[(tp.topic, tp.partition)] = tp.offset
        for key, cap in self._held().items():
            # Paused with every record before `cap` produced and none after it: the
            # position is `cap` (the consumer's reads as unknown after a seek back).
            if key in positions:
                positions[key] = cap
        plan = self._progress.plan(positions, remaining, failure is not None)
        if txn is not None:
            # Records whose position is unknown must not become visible without it: the
            # transaction stays open until the next checkpoint reads every position.
            if not unknown and (plan or self._target.in_transaction):
                self._target.commit(txn.offsets(plan), txn.group_metadata())
                self._progress.advance(plan)
                self._mirror(plan)
        elif plan:
            self._progress.advance(self._commit(plan))
        self.record_ends(assigned)

    def _settled(self, doing: str) -> None:
        """Exactly-once: commit the open transaction before the share changes; a target
        too slow for that restarts the member (its successor resumes at the last commit),
        for committing it later would leave out the positions of what changed."""
        if self._transactions is None or not self._target.in_transaction:
            return
        self.checkpoint(closing=True)
        if self._target.in_transaction:
            raise TransientKafkaError(
                f"the target did not acknowledge the records copied so far in time to "
                f"commit them before {doing}; the member starts again from its last commit"
            )

    def _mirror(self, plan: Mapping[Key, int]) -> None:
        """Exactly-once: copy committed progress to the source group, for lag display and
        a later switch back to at-least-once. Never the truth, so a refusal only warns."""
        if not plan:
            return
        try:
            self._commit(plan)
        except KsyncKafkaError as exc:
            self._warn(
                f"{exc}; the task's progress is kept on the target (exactly_once), but the "
                "lag shown from the source group falls behind"
            )

    def record_ends(self, assigned: list[TopicPartition] | None = None) -> None:
        """Keep the source's end offsets of held partitions current (free: from the
        consumer's cache), so that lag shows even while the target stalls the member."""
        consumer = self._consumer
        ends: dict[Key, int] = {}
        for tp in consumer.assignment() if assigned is None else assigned:
            try:
                # Cached from fetch responses: free, and right even on brokers whose
                # ListOffsets answer is off (docs/design.md, "Test brokers").
                _, high = consumer.get_watermark_offsets(tp, cached=True)
            except KafkaException:
                continue  # not fetched yet: the next call has it
            if high >= 0:
                ends[(tp.topic, tp.partition)] = high
        self._progress.set_ends(ends)

    def _commit(self, plan: Mapping[Key, int]) -> dict[Key, int]:
        """Commit `plan`; returns what the group took (all, part, or nothing).

        A commit refused because the coordinator is briefly unreachable, or because a
        foreign consumer has joined the group, is only late: positions never go back, so
        the next checkpoint commits them, and a restart copies again from the last commit,
        never skipping. A refusal no retry cures (a missing ACL) fails the member with a
        sentence.
        """
        offsets = [TopicPartition(t, p, o) for (t, p), o in plan.items()]
        slow = threading.Timer(
            SLOW_COMMIT_S,
            lambda: self._warn(
                f"{self._source.label}: committing progress has waited over {SLOW_COMMIT_S:.0f}s "
                "for the source's group coordinator; the source cluster may be unreachable, and "
                "copying goes on once it answers"
            ),
        )
        slow.daemon = True
        slow.start()
        try:
            results = self._consumer.commit(offsets=offsets, asynchronous=False) or offsets
        except KafkaException as exc:
            failure = commit_failure(exc, self._source, self._grant())
            self._deferred(failure)
            return {}
        finally:
            slow.cancel()
        failed = partition_errors(results)
        if failed:
            refused = partition_failure(failed, self._source, "cannot commit progress of", self._grant())
            assert refused is not None
            self._deferred(refused, [err for _, _, err in failed])
        bad = {(t, p) for t, p, _ in failed}
        return {key: offset for key, offset in plan.items() if key not in bad}

    def _deferred(self, failure: KsyncKafkaError, errors: list[KafkaError] | None = None) -> None:
        """A commit that did not go through: raise what no retry cures, else retry later."""
        if failure.persistent:
            raise failure from None
        codes = {e.code() for e in errors} if errors else {failure.code}
        if codes <= FOREIGN_MEMBER_CODES:
            self._warn(self._foreign_members())
        else:
            self._warn(f"{failure}; retrying at the next checkpoint")

    def _foreign_members(self) -> str:
        return (
            f"{self._source.label}: the broker refuses to store the task's progress in "
            f"consumer group {self._group} because a consumer that is not ksync's has joined "
            "that group (ksync's members never join it); stop that consumer or give it "
            "another group.id. Copying goes on, and progress is stored once the group is "
            "empty again"
        )

    # ---- the share changing ---------------------------------------------------------------

    def take_up(self, partitions: list[TopicPartition]) -> None:
        """Start consuming `partitions` from their commit, or from their resolved (and at
        once committed) start."""
        with self._naming("taking up", partitions):
            self._settled(f"taking up partitions {_names(partitions)}")
            self._take_up(self._consumer, partitions)

    def give_up(self, partitions: list[TopicPartition]) -> None:
        """Checkpoint `partitions`, then stop consuming them and forget them: nothing
        commits them afterwards (point 3)."""
        with self._naming("giving up", partitions):
            if not self._abandoned:
                self.checkpoint(partitions, closing=True)
                self._settled(f"giving up partitions {_names(partitions)}")
            self._consumer.incremental_unassign(partitions)
        self._progress.forget((tp.topic, tp.partition) for tp in partitions)

    def resume_at_earliest(self, topic: str, partition: int, position: int | None) -> str | None:
        """The source no longer has `position` of a held partition (librdkafka's
        _AUTO_OFFSET_RESET): count the records its retention deleted before they were
        copied (`Progress.lose`), go on from the earliest record left, and return the
        warning that says so (None for a partition the member no longer holds, or whose
        position is in range again).

        A position past the partition's end (a truncated log, a recreated topic) also goes
        on from the earliest record: records may repeat, none is skipped. The new position
        is committed at the next checkpoint, after the target acknowledged every record
        before it, as any other (module docstring, point 2).
        """
        key = (topic, partition)
        if not self._progress.holds(key):
            return None
        tp = TopicPartition(topic, partition)
        with self._naming("finding the earliest record of", [tp]):
            if position is None or position < 0:  # not in the error: the consumer knows
                position = self._consumer.position([tp])[0].offset
            low, high = self._consumer.get_watermark_offsets(
                tp, timeout=self._timeout_s, cached=False
            )
            # In range again (the log moved while the error was on its way): read on there.
            resume = position if low <= position <= high else low
            # A partition that stopped fetching takes no seek: assign it afresh.
            self._consumer.incremental_unassign([tp])
            self._consumer.incremental_assign([TopicPartition(topic, partition, resume)])
        if resume == position:
            log.info("%s: %s[%d] in range again at %d", self._name, topic, partition, position)
            return None
        lost = self._progress.lose(key, position, low)
        if lost is not None:
            text = lost_to_retention(topic, partition, lost.records, lost.first, lost.earliest)
        else:
            text = past_the_end(topic, partition, position, high, low)
        log.warning("%s: %s", self._name, text)
        return text

    @contextlib.contextmanager
    def _naming(self, doing: str, partitions: list[TopicPartition]) -> Iterator[None]:
        """A client error becomes a typed KsyncKafkaError naming the partitions."""
        try:
            yield
        except KafkaException as exc:
            raise wrap(exc, f"{doing} partitions {_names(partitions)}") from None

    def _take_up(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        committed = self._once_coordinated(
            lambda: consumer.committed(partitions, timeout=self._timeout_s)
        )
        # An errored entry reads as "no commit" (-1001): starting it afresh would overwrite
        # the progress it has.
        self._raise_for(committed, "cannot read the committed progress of")
        txn = self._transactions
        if txn is not None:
            on_target = txn.read((tp.topic, tp.partition) for tp in committed)
            for tp in committed:
                tp.offset = resume_offset(on_target[(tp.topic, tp.partition)][0], tp.offset)
        fresh = [tp for tp in committed if tp.offset < 0]
        if fresh:
            starts = first_offsets(
                consumer, fresh, self._start, self._at_start(), self._timeout_s, self._stop
            )
            if starts is None:
                raise StoppedMidBatch()
            if txn is None:  # exactly-once commits them below, in the target's transaction
                self._commit_starts(consumer, starts)
            by_key = {(tp.topic, tp.partition): tp.offset for tp in starts}
            for tp in fresh:
                tp.offset = by_key[(tp.topic, tp.partition)]
        offsets = {(tp.topic, tp.partition): tp.offset for tp in committed}
        if txn is not None:
            # Claimed before anything is copied: the start is decided once, and the
            # partitions' metadata names this unit for whoever fences after it.
            self._target.commit(txn.offsets(offsets), txn.group_metadata())
            self._mirror({(tp.topic, tp.partition): tp.offset for tp in fresh})
        consumer.incremental_assign(committed)
        self._progress.take_up(offsets)
        log.info(
            "%s: assigned %s",
            self._name,
            ", ".join(f"{tp.topic}[{tp.partition}]@{tp.offset}" for tp in committed),
        )

    def _commit_starts(self, consumer: Consumer, starts: list[TopicPartition]) -> None:
        """Commit resolved starts to the source group at once (point 5)."""
        try:
            done = self._once_coordinated(
                lambda: consumer.commit(offsets=starts, asynchronous=False)
            )
        except KafkaException as exc:
            err = kafka_error_in(exc)
            if err is not None and err.code() in FOREIGN_MEMBER_CODES:
                # Nothing copied yet: the member restarts with backoff, showing why.
                raise TransientKafkaError(self._foreign_members(), err.code()) from None
            raise
        self._raise_for(done, "cannot commit the start offset of")

    def _once_coordinated(
        self, call: Callable[[], list[TopicPartition] | None]
    ) -> list[TopicPartition]:
        """`call()`, repeated while the group's coordinator is not ready yet (up to the
        flush timeout): a consumer that only assigns never waits for the coordinator the
        way a group join does, so right after a cluster or the group's coordinator starts
        its first committed()/commit() is refused with NOT_COORDINATOR."""
        deadline = time.monotonic() + self._timeout_s
        while True:
            try:
                result = call()
            except KafkaException as exc:
                err = kafka_error_in(exc)
                if err is None or err.code() not in COORDINATOR_CODES:
                    raise
                if time.monotonic() >= deadline:
                    raise
            else:
                codes = {tp.error.code() for tp in result or [] if tp.error is not None}
                if not codes or not codes <= COORDINATOR_CODES or time.monotonic() >= deadline:
                    return result or []
            if self._stop.wait(0.2):
                raise StoppedMidBatch()

    def _raise_for(self, results: list[TopicPartition], doing: str) -> None:
        failure = partition_failure(partition_errors(results), self._source, doing, self._grant())
        if failure is not None:
            raise failure


def _names(partitions: list[TopicPartition]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in partitions)
