"""A member's producer to the target: everything about writing except the hot loop.

The hot loop calls librdkafka's `produce` itself (`TargetProducer.client.produce`, bound
once per batch, positional arguments): this class is entered only when that call fails and
between batches, so it costs nothing per record. It owns

* the producer's settings, and batches that fit the target topics: librdkafka never splits
  a batch the target refuses as too large, it fails every record in it, so `batch.size` is
  at most the smallest `max.message.bytes` among the topics in use (`batch_bytes`); a
  smaller limit needs a new client, which does not take over the old one's queue, so
  `replace` waits until nothing is unacknowledged;
* the slow paths: a full queue (wait for acknowledgements instead of growing memory) and a
  partition the producer does not know yet (re-read the topic's metadata);
* readiness. Invariant: no record goes to a target topic before the producer's metadata
  lists every partition of it with a leader (`use`). A record for a topic the producer
  knows nothing of waits in librdkafka's unassigned queue and is given its partition only
  when the metadata arrives; records produced meanwhile can be placed first and overtake
  it (seen as one key's records out of order on the target, with keep_partition false);
* the delivery-error latch: success reports are off (`delivery.report.only.error`), the
  first failed delivery is kept and `delivery_failure` reports it, so a checkpoint after it
  commits nothing. With offset sync (`marks`) success reports are on, but only a few
  marked records carry a callback, which feeds the same latch (`producer_settings`);
* fatal errors: confluent-kafka raises a fatal producer error (an idempotent producer
  refused its producer id, the gap-less guarantee stopping it after a refused batch) from
  poll or flush; every such call goes through `errors()`, which makes it a sentence;
* transactions, for `options.delivery: exactly_once` (a `transactional_id`): the client
  takes its id at creation (`init_transactions`, which fences any earlier producer of the
  same id), a transaction is begun by the member before the first record after a commit
  (`begin`, one test per batch), and `commit` puts the source offsets into it and commits
  records and offsets together (`ksync.replication.transactions`). A failed commit aborts;
  a producer fenced by a successor fails the member with a transient error (its worker no
  longer wants it, or starts it again and fences the other in turn).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import TopicMetadata

from ksync.kafka.admin import InstanceAdmin
from ksync.kafka.config import new_client
from ksync.kafka.errors import (
    KsyncKafkaError,
    PersistentKafkaError,
    TransientKafkaError,
    client_failure,
    is_persistent,
    kafka_error_in,
    words,
    wrap,
    write_failure,
    write_rights,
)
from ksync.spec import ClientTuning, Connection

# How long the target's coordinator keeps a transaction open without a commit before
# aborting it: well above a commit interval plus a checkpoint's flush timeout, so a slow
# target delays a commit rather than aborting it.
TRANSACTION_TIMEOUT_MS = 120_000

log = logging.getLogger(__name__)

# Refusals of a transactional producer that only the target's operator can lift.
_TRANSACTION_REFUSALS = frozenset(
    {
        KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        KafkaError.GROUP_AUTHORIZATION_FAILED,
        KafkaError.CLUSTER_AUTHORIZATION_FAILED,
    }
)

# A producer of the same transactional id has started since: this one may never commit.
FENCED_CODES = frozenset(
    {KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH}
)

# The producer's batch.size where every target topic takes it and the task sets no other
# cap (`ClientTuning.batch_bytes`): large batches mean few produce requests per record.
MAX_BATCH_BYTES: int = ClientTuning.model_fields["batch_bytes"].default
_DEFAULT_TUNING = ClientTuning()
# The largest record the producer sends; a larger one it refuses itself.
PRODUCER_MAX_MESSAGE_BYTES = 100_000_000

# The arguments of one `Producer.produce` call, positional: (topic, value, key, partition,
# on_delivery, callback, timestamp, headers).
ProduceArgs = tuple[Any, ...]


class StoppedMidBatch(Exception):
    """Stop requested while waiting on the target with records not yet all handed over or
    acknowledged: committing now could skip them, so the member leaves without a commit."""


def batch_bytes(limits: Iterable[int], cap: int = MAX_BATCH_BYTES) -> int:
    """The largest batch.size that every target topic whose `max.message.bytes` is among
    `limits` accepts, at most `cap` (the task's `batch_bytes`).

    librdkafka counts the request's framing in batch.size, so a batch of at most a topic's
    limit is never refused; a single record larger than batch.size still goes alone.
    """
    return max(1, min([cap, *limits]))


def producer_settings(
    max_unacked_records: int,
    batch_size: int,
    tuning: ClientTuning = _DEFAULT_TUNING,
    transactional_id: str | None = None,
    marks: bool = False,
) -> dict[str, Any]:
    """The target producer: idempotent and `acks=all` (order and no loss), errors only;
    batches of at most `batch_size` bytes (see `batch_bytes`) and at most the task's
    `tuning.batch_bytes`, compressed and lingering as `tuning` says; transactional when
    given a `transactional_id` (exactly-once).

    With `marks` (offset sync) success reports are on, for the few records produced with
    their own delivery callback (`ksync.replication.offset_marks`); the others cost no
    Python call, for the client then has no global callback. Their failures are seen
    without one: any refused batch stops the producer (the gap-less guarantee), which
    fails the next poll or flush, and records never time out (`message.timeout.ms` 0; a
    timeout is not covered by that guarantee), so a slow target only delays a checkpoint.
    Offset sync and exactly-once are not combined (`TaskOptions`)."""
    settings: dict[str, Any] = {}
    if transactional_id is not None:
        settings = {
            "transactional.id": transactional_id,
            "transaction.timeout.ms": TRANSACTION_TIMEOUT_MS,
        }
    settings |= {
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
        "message.max.bytes": PRODUCER_MAX_MESSAGE_BYTES,
        # No per-record delivery callback on the hot path: a checkpoint's flush() tells
        # that everything arrived; only failures are reported.
        "delivery.report.only.error": True,
    }
    if marks:
        settings["delivery.report.only.error"] = False
        settings["message.timeout.ms"] = 0
    return settings


def metadata_gap(meta: TopicMetadata | None) -> KafkaError | None:
    """Why a producer whose metadata for a topic is `meta` (None: not listed) cannot yet
    place every record on it in order; None when it can.

    It can when the topic is listed without error and every partition, numbered 0..n-1,
    has a leader. A partition-level error beside a leader (a follower down) does not
    matter to the producer.
    """
    if meta is None or (meta.error is None and not meta.partitions):
        return KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART, "the topic is not listed yet")
    if meta.error is not None:
        return meta.error
    if sorted(meta.partitions) != list(range(len(meta.partitions))):
        return KafkaError(KafkaError._UNKNOWN_PARTITION, "not every partition is listed yet")
    for pid in sorted(meta.partitions):
        part = meta.partitions[pid]
        if part.leader < 0:
            return part.error or KafkaError(
                KafkaError.LEADER_NOT_AVAILABLE, f"partition {pid} has no leader yet"
            )
    return None


class TargetProducer:
    """The target producer of one member (see the module's docstring).

    `stop` is the member's stop request, which every wait here honours by raising
    StoppedMidBatch; `warn` shows a transient problem among the member's warnings;
    `waiting` is called about once a second while the target holds the member up, so
    that a stall shows as lag.
    """

    def __init__(
        self,
        conn: Connection,
        *,
        name: str,
        max_unacked_records: int,
        timeout_s: float,
        stop: threading.Event,
        warn: Callable[[str], None],
        waiting: Callable[[], None],
        tuning: ClientTuning = _DEFAULT_TUNING,
        transactional_id: str | None = None,
        marks: bool = False,
    ) -> None:
        self.conn = conn
        self.transactional_id = transactional_id
        self._in_transaction = False
        self._marks = marks
        self.failure: KsyncKafkaError | None = None  # a persistent background error
        self._tuning = tuning
        self.batch_bytes = tuning.batch_bytes  # the client's batch.size
        self._name = name
        self._max_unacked = max_unacked_records
        self._timeout_s = timeout_s
        self._stop = stop
        self._warn = warn
        self._waiting = waiting
        self._topics: set[str] = set()
        self._known: set[str] = set()  # topics this client's metadata has in full
        self._delivery_error: tuple[KafkaError, str | None, int | None] | None = None
        self._client: Producer | None = None

    @property
    def client(self) -> Producer:
        """The librdkafka producer; the hot loop calls its `produce` directly. Replaced
        by `replace`, so take it again after a topic switch."""
        assert self._client is not None, "open() first"
        return self._client

    # ---- opening, topics, batch size ---------------------------------------------------

    def open(self, topics: Iterable[str]) -> None:
        """Create the client, with batches that fit `topics`, and get ready for them."""
        topics = set(topics)
        self._client = self._new_client(self.fitting_batch(topics))
        self.use(topics)

    def use(self, topics: Iterable[str]) -> None:
        """From now on records go to `topics`: return once the producer's metadata lists
        every partition of each with a leader (see the module's docstring).

        Raises TransientKafkaError when a topic is still not listed in full after the
        timeout (the member starts again), a sentence when the target refuses to describe
        it, StoppedMidBatch on a stop request.
        """
        self._topics = set(topics)
        deadline = time.monotonic() + self._timeout_s
        while True:
            gaps = {}
            for topic in sorted(self._topics - self._known):
                gap = self._metadata_gap(topic, deadline)
                if gap is None:
                    self._known.add(topic)
                elif is_persistent(gap):
                    raise write_failure(gap, self.conn, topic, None, self.rights())
                else:
                    gaps[topic] = gap
            if not gaps:
                return
            if time.monotonic() > deadline:
                topic, gap = next(iter(gaps.items()))
                raise TransientKafkaError(
                    f"the target's metadata does not list every partition of topic {topic} "
                    f"with a leader after {self._timeout_s:.0f}s ({words(gap)}): records "
                    "go to a topic only once it does, so that none overtakes another",
                    gap.code(),
                )
            if self._stop.wait(0.2):
                raise StoppedMidBatch()

    def _metadata_gap(self, topic: str, deadline: float) -> KafkaError | None:
        # A request naming the topic updates the client's own view of it (the one
        # produce() partitions by), which a request for all topics need not.
        timeout = max(0.5, min(5.0, deadline - time.monotonic()))
        try:
            meta = self.client.list_topics(topic, timeout=timeout)
        except KafkaException as exc:
            err = kafka_error_in(exc)
            return err if err is not None else KafkaError(KafkaError._TRANSPORT, str(exc))
        return metadata_gap(meta.topics.get(topic))

    def fitting_batch(self, topics: Iterable[str]) -> int:
        """The largest batch every topic of `topics` accepts (`batch_bytes`), from their
        max.message.bytes on the target; the default when they cannot be read."""
        cap = self._tuning.batch_bytes
        names = sorted(set(topics))
        if not names:
            return cap
        try:
            admin = InstanceAdmin.shared(self.conn, timeout_s=min(10.0, self._timeout_s))
            return batch_bytes(admin.max_message_bytes(names).values(), cap)
        except KsyncKafkaError as exc:
            # Copying goes on: only a topic whose limit is below the default batch fails.
            self._warn(
                f"{exc}. Without it, batches to the target are up to {cap} "
                "bytes, which a target topic with a smaller max.message.bytes refuses"
            )
            return cap

    def replace(self, batch_size: int) -> bool:
        """A new client whose batches are at most `batch_size` bytes; False (nothing
        changed) while records are still unacknowledged, for the new client would not
        take over the old one's queue. Call `use` after it: a new client knows no topic."""
        if len(self.client) or self._in_transaction:
            return False
        log.info("%s: batches of at most %d bytes from now on", self._name, batch_size)
        self._client = self._new_client(batch_size)
        self._known = set()
        return True

    def refresh(self, topics: Iterable[str]) -> None:
        """Re-read the metadata of `topics`, which grew: the producer then knows their
        new partitions before the first record for one arrives."""
        timeout = min(10.0, self._timeout_s)
        for topic in sorted(set(topics)):
            try:
                self.client.list_topics(topic, timeout=timeout)
            except KafkaException as exc:
                # The unknown-partition slow path still finds them; say why it may be late.
                self._warn(str(wrap(exc, f"reading the metadata of grown target topic {topic}")))

    def _new_client(self, batch_size: int) -> Producer:
        callbacks: dict[str, Any] = {"error_cb": self._on_client_error}
        if not self._marks:  # with marks, a global callback would run for every record
            callbacks["on_delivery"] = self.note_delivery
        producer = new_client(
            Producer,
            self.conn,
            **producer_settings(
                self._max_unacked, batch_size, self._tuning, self.transactional_id, self._marks
            ),
            **callbacks,
        )
        self.batch_bytes = batch_size
        if self.transactional_id is not None:
            try:
                # Fences every earlier producer of this id and aborts its open transaction.
                producer.init_transactions(self._timeout_s)
            except KafkaException as exc:
                # The client is dropped as it is: after a fatal error, flush() raises it again.
                raise self._transaction_failure(exc, "taking transactional id") from None
        return producer

    # ---- transactions (exactly-once) -------------------------------------------------

    @property
    def in_transaction(self) -> bool:
        """A transaction is open: records or offsets not yet committed."""
        return self._in_transaction

    def begin(self) -> None:
        """Open a transaction unless one is open (the member calls it before a batch)."""
        if not self._in_transaction:
            try:
                self.client.begin_transaction()
            except KafkaException as exc:
                raise self._transaction_failure(exc, "beginning a transaction") from None
            self._in_transaction = True

    def commit(self, offsets: list[TopicPartition], group_metadata: object) -> None:
        """Commit the open transaction (one is begun if none is) with `offsets` in the
        target group that `group_metadata` names: records and offsets become visible to
        read_committed consumers together. Any failure aborts it and raises: the member
        then starts again from the last commit."""
        self.begin()
        producer = self.client
        try:
            if offsets:
                producer.send_offsets_to_transaction(offsets, group_metadata, self._timeout_s)
            producer.commit_transaction(self._timeout_s)
        except KafkaException as exc:
            failure = self._transaction_failure(exc, "committing a transaction")
            self.abort()
            raise failure from None
        self._in_transaction = False

    def abort(self) -> None:
        """Abort the open transaction, if any: none of its records becomes visible to
        read_committed consumers. Only logged when the abort itself fails (a fenced or
        failed producer): the coordinator aborts it when a successor takes the id, or
        after `TRANSACTION_TIMEOUT_MS`."""
        if not self._in_transaction or self._client is None:
            return
        self._in_transaction = False
        try:
            self._client.abort_transaction(min(10.0, self._timeout_s))
        except KafkaException as exc:
            log.warning("%s: aborting the open transaction: %s", self._name, exc)

    def _transaction_failure(self, exc: KafkaException, doing: str) -> KsyncKafkaError:
        err = kafka_error_in(exc)
        if err is not None and err.code() in FENCED_CODES:
            return self.fenced(err)
        failure = wrap(exc, f"{self.conn.label}: {doing} {self.transactional_id}")
        if err is not None and err.code() in _TRANSACTION_REFUSALS:
            return PersistentKafkaError(
                f"{failure}: grant Describe and Write on transactional id "
                f"{self.transactional_id} (or the prefix of the task's ids), and Read on its "
                "consumer group on the target, or use options.delivery at_least_once",
                err.code(),
            )
        return failure

    def fenced(self, err: KafkaError) -> KsyncKafkaError:
        """This producer was fenced: a newer member of its unit of work started."""
        return TransientKafkaError(
            f"{self.conn.label}: transactional id {self.transactional_id} was taken by a "
            "newer member of this task's unit of work, which fenced this one; it stops "
            f"without committing ({words(err)})",
            err.code(),
        )

    # ---- the slow paths ------------------------------------------------------------------

    def produce_when_room(self, args: ProduceArgs) -> None:
        """The queue is full (the target is slower than the source): wait for acks instead
        of growing memory, then make the `produce(*args)` call the hot loop could not."""
        producer = self.client
        refreshed = time.monotonic()
        while True:
            # Success reports are off, so poll() has nothing to return early for: it would
            # sleep its whole timeout even once room frees up. Short waits keep it moving.
            with self.errors():
                producer.poll(0.001)
            if self._stop.is_set():
                # The batch is half produced: committing positions now would skip the rest.
                raise StoppedMidBatch()
            if time.monotonic() - refreshed > 1.0:
                refreshed = time.monotonic()
                self._waiting()
            try:
                producer.produce(*args)
                return
            except BufferError:
                continue
            except KafkaException as exc:
                raise self.write_failure(exc.args[0], args[0], args[3]) from None

    def produce_refused(
        self, exc: KafkaException, args: ProduceArgs, source_partition: int
    ) -> None:
        """`produce(*args)` raised `exc` before sending (the hot loop's except clause):
        a partition not known yet takes the slow path, anything else fails the member
        naming the record's source partition."""
        err = exc.args[0]
        if err.code() != KafkaError._UNKNOWN_PARTITION:
            raise self.write_failure(err, args[0], source_partition) from None
        self._produce_to_new_partition(args)

    def _produce_to_new_partition(self, args: ProduceArgs) -> None:
        """The target topic grew after the producer last read its metadata, or grows at
        the controller's next topic refresh: re-read it until the partition is there."""
        producer = self.client
        topic, partition = args[0], args[3]
        deadline = time.monotonic() + self._timeout_s
        while True:
            try:
                producer.list_topics(topic, timeout=min(5.0, self._timeout_s))
            except KafkaException:
                pass  # the target may be briefly unreachable: the deadline decides
            else:
                try:
                    producer.produce(*args)
                    return
                except BufferError:
                    self.produce_when_room(args)
                    return
                except KafkaException as exc:
                    if exc.args[0].code() != KafkaError._UNKNOWN_PARTITION:
                        raise self.write_failure(exc.args[0], topic, partition) from None
            if time.monotonic() > deadline:
                raise TransientKafkaError(
                    f"target topic {topic} has no partition {partition} after "
                    f"{self._timeout_s:.0f}s: ksync adds the source's new partitions "
                    "to it at a topic refresh; if that fails, the task's warnings say why",
                    KafkaError._UNKNOWN_PARTITION,
                )
            if self._stop.wait(0.5):
                raise StoppedMidBatch()

    # ---- acknowledgements ----------------------------------------------------------------

    def poll(self) -> None:
        """Serve the client's callbacks (delivery errors, background errors); once a batch."""
        with self.errors():
            self.client.poll(0)

    def drain(self, timeout_s: float, stoppable: bool) -> int:
        """Wait up to `timeout_s` until the target acknowledged every record produced;
        returns how many are still unacknowledged. With `stoppable`, a stop request ends
        the wait with StoppedMidBatch."""
        producer = self.client
        deadline = time.monotonic() + timeout_s
        with self.errors():
            remaining = producer.flush(min(1.0, timeout_s))
        while remaining and time.monotonic() < deadline:
            self._waiting()
            if stoppable and self._stop.is_set():
                raise StoppedMidBatch()
            with self.errors():
                remaining = producer.flush(1.0)
        return remaining

    def delivery_failure(self) -> KsyncKafkaError | None:
        """The first delivery that failed, as a sentence; None while none has."""
        if self._delivery_error is None:
            return None
        return self.write_failure(*self._delivery_error)

    def note_delivery(self, err: KafkaError | None, msg: Message) -> None:
        """The delivery-error latch: keeps the first failed delivery; a success changes
        nothing."""
        if err is not None and self._delivery_error is None:
            self._delivery_error = (err, msg.topic(), msg.partition())
            log.error(
                "%s: delivery to %s[%s] failed: %s",
                self._name,
                msg.topic(),
                msg.partition(),
                err.str(),
            )

    # ---- errors --------------------------------------------------------------------------

    def _on_client_error(self, err: KafkaError) -> None:
        if err.code() in FENCED_CODES:
            self.failure = self.failure or self.fenced(err)
            return
        failure = client_failure(err, self.conn, "target", self.rights())
        if failure.persistent:
            if self.failure is None:
                self.failure = failure
        elif self.failure is None:
            # After a refusal, "1/1 brokers are down" would only repeat it, misleadingly.
            self._warn(str(failure))

    def write_failure(
        self, err: KafkaError, topic: str | None, partition: int | None
    ) -> KsyncKafkaError:
        """A failed write as a sentence naming the target topic and partition."""
        if err.code() in FENCED_CODES:
            return self.fenced(err)
        if err.code() == KafkaError._FATAL and self._client is not None:
            # produce() only says that the producer stopped; the error that stopped it
            # waits in its queue, and poll() raises it.
            try:
                with self.errors():
                    self._client.poll(0)
            except KsyncKafkaError as cause:
                return cause
        return write_failure(err, self.conn, topic, partition, self.rights())

    @contextlib.contextmanager
    def errors(self) -> Iterator[None]:
        """Around the client's poll and flush: a fatal producer error raised from them
        fails the member with a sentence rather than as an unexpected crash."""
        try:
            yield
        except (KafkaException, SystemError) as exc:
            err = kafka_error_in(exc)
            if err is not None:
                raise self.write_failure(err, None, None) from None
            if self._delivery_error is not None:
                # confluent-kafka (2.16) can lose the fatal error it meant to raise after a
                # delivery report ("returned NULL without setting an exception"): that
                # report says what went wrong, and where.
                raise self.write_failure(*self._delivery_error) from None
            raise

    def rights(self) -> str:
        """The ACLs the producer needs, for a sentence that asks for them."""
        return write_rights(self._topics)

    # ---- closing -------------------------------------------------------------------------

    def close(self) -> None:
        """Wait (up to the timeout) for every record to be acknowledged; a transaction
        still open (the member could not commit it) is aborted."""
        if self._client is not None:
            self.abort()
            with self.errors():
                self._client.flush(self._timeout_s)

    def abandon(self) -> None:
        """Drop every record not yet sent, after a failure: nothing is committed for them."""
        self.abort()
        producer, self._client = self._client, None
        if producer is None:
            return
        try:
            producer.purge()
            producer.flush(0)
        except (KafkaException, SystemError) as exc:
            # The failure being handled is what the member reports; this one (often the
            # same fatal error raised again) only goes to the log.
            log.warning("%s: producer close after failure: %s", self._name, exc)
