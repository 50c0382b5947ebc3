"""Admin operations on one instance, typed, with the broker's own error words kept.

librdkafka reports connection and authentication failures through `error_cb`, not through
the request that timed out; `InstanceAdmin` keeps the last few so a timeout can say *why*
("Connect to ipv4#127.0.0.1:1 failed: Connection refused").
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from confluent_kafka import (
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    TopicCollection,
    TopicPartition,
)
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewTopic,
    OffsetSpec,
    ResourcePatternType,
    ResourceType,
    TopicDescription,
)

from ksync.kafka.config import new_client
from ksync.kafka.errors import (
    KsyncKafkaError,
    PersistentKafkaError,
    TransientKafkaError,
    access_error,
    kafka_error_in,
    words,
    wrap,
)
from ksync.spec import Connection

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClusterInfo:
    cluster_id: str
    broker_count: int


@dataclass(frozen=True)
class TopicInfo:
    name: str
    partitions: int
    replication_factor: int


@dataclass(frozen=True)
class TopicLimits:
    """What a topic accepts of a record: `max_message_bytes` (the largest record batch;
    None when the broker does not report it) and whether it is compacted (a compacted
    topic refuses records without a key)."""

    max_message_bytes: int | None
    compacted: bool


@dataclass(frozen=True)
class NewTopicPlan:
    name: str
    partitions: int
    replication_factor: int
    configs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TopicAcl:
    """One ACL on topics: `principal` connecting from `host` is allowed or denied
    (`permission`: ALLOW, DENY) `operation` (READ, WRITE, ALL...) on the topics `name`
    stands for, as `pattern` reads it: LITERAL one topic (`*`: every topic), PREFIXED
    every topic whose name starts with it. The words are Kafka's enum names."""

    pattern: str
    name: str
    principal: str
    host: str
    operation: str
    permission: str

    def binding(self) -> AclBinding:
        """The ACL as confluent-kafka's AclBinding."""
        return AclBinding(
            ResourceType.TOPIC,
            self.name,
            ResourcePatternType[self.pattern],
            self.principal,
            self.host,
            AclOperation[self.operation],
            AclPermissionType[self.permission],
        )

    @classmethod
    def of(cls, binding: AclBinding) -> TopicAcl:
        """The ACL a DescribeAcls answer holds (its fields are enums by then)."""
        return cls(
            pattern=_enum_name(binding.resource_pattern_type),
            name=binding.name,
            principal=binding.principal,
            host=binding.host,
            operation=_enum_name(binding.operation),
            permission=_enum_name(binding.permission_type),
        )


def _enum_name(value: object) -> str:
    return value.name if isinstance(value, Enum) else str(value)


def no_authorizer(exc: KsyncKafkaError) -> bool:
    """Whether `exc` is a broker saying it has no authorizer (so it keeps no ACLs)."""
    return exc.code == KafkaError.SECURITY_DISABLED


class TopicRefused(PersistentKafkaError):
    """The broker refused what was asked of one topic (a config value it rejects, a
    policy, a replication factor it cannot place): other topics are not concerned."""


# Codes by which a broker refuses a request about one topic's attributes. Authorization
# refusals are not among them: a missing ACL concerns the instance's credentials.
_TOPIC_REFUSALS = {
    # InvalidTopicException: a name the target does not allow (over 249 characters once
    # the prefix is added, say); it concerns that topic alone.
    KafkaError.TOPIC_EXCEPTION,
    KafkaError.INVALID_CONFIG,
    KafkaError.POLICY_VIOLATION,
    KafkaError.INVALID_REPLICATION_FACTOR,
}


@dataclass
class CreateOutcome:
    """What a CreateTopics request did: topics created, topics the broker refused."""

    created: list[str] = field(default_factory=list)
    refused: dict[str, TopicRefused] = field(default_factory=dict)


def _refusal(exc: BaseException, doing: str) -> TopicRefused | None:
    """`exc` as a TopicRefused when it is one (the broker's reason kept), else None."""
    err = exc.args[0] if isinstance(exc, KafkaException) and exc.args else None
    if isinstance(err, KafkaError) and err.code() in _TOPIC_REFUSALS:
        return TopicRefused(f"{doing}: {words(err)}", err.code())
    return None


# Kafka's zero topic id, as a broker without topic ids answers.
NO_TOPIC_ID = "AAAAAAAAAAAAAAAAAAAAAA"

# A topic DescribeTopics answers with an error for, rather than failing the call.
_NOT_DESCRIBED = frozenset({KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError.TOPIC_AUTHORIZATION_FAILED})


def is_internal_topic(name: str) -> bool:
    """Kafka's internal topics (`__consumer_offsets`, `__transaction_state`, `__*`)."""
    return name.startswith("__")


# Real Kafka lists every topic-level key in DescribeConfigs, including these rarely-set ones.
# Some brokers (tansu) answer with only the keys that were set, and mark them DEFAULT_CONFIG;
# one of these keys missing tells such a sparse answer apart (a single key would not: a user
# may have set it, and then the sparse answer would be read as "nothing set").
_ALWAYS_LISTED_BY_KAFKA = (
    "segment.index.bytes",
    "segment.jitter.ms",
    "index.interval.bytes",
    "file.delete.delay.ms",
)


def _explicit_configs(entries: dict) -> dict[str, str]:
    """The topic configs a user set, from a DescribeConfigs answer."""
    usable = {n: e for n, e in entries.items() if e.value is not None and not e.is_sensitive}
    sparse = not all(k in entries for k in _ALWAYS_LISTED_BY_KAFKA) and not any(
        e.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value for e in usable.values()
    )
    return {
        n: e.value
        for n, e in usable.items()
        if sparse or e.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    }


def _keep_errors(errors: deque[KafkaError], lock: threading.Lock) -> Callable[[KafkaError], None]:
    """An error_cb that keeps background errors in `errors`. It holds the deque, not the
    InstanceAdmin: a bound method would make the admin and its librdkafka client a
    reference cycle, which only the cyclic collector frees, so every short-lived admin
    (three per member start) kept its client's threads and connections until a
    collection of the oldest generation (measured: 20 admins used once left 80 threads
    behind; none now)."""

    def on_error(err: KafkaError) -> None:
        with lock:
            errors.append(err)

    return on_error


# Admins shared in this process (`InstanceAdmin.shared`), oldest first; a few at most.
_shared: dict[tuple[Connection, float], InstanceAdmin] = {}
_shared_lock = threading.Lock()
SHARED_ADMINS_MAX = 32


class InstanceAdmin:
    """Admin client for one instance. Thread-safe; create once per connection and reuse."""

    @classmethod
    def shared(cls, conn: Connection, timeout_s: float = 10.0) -> InstanceAdmin:
        """This process's admin for `conn` and `timeout_s`, created at the first call.

        For callers that would otherwise create an admin every time they start: a member
        asks its topics' limits on both instances (and the target producer the batch
        size they allow) at each start, and a new client each time meant threads, a
        connection and a metadata round trip per call, three per member, which with
        hundreds of members starting at once was most of their start. A connection is
        a value (its secrets included), so a changed instance gets a new admin; the
        oldest go past `SHARED_ADMINS_MAX`. Background errors (credentials, TLS) are
        the connection's, whichever caller reads them first.
        """
        key = (conn, timeout_s)
        with _shared_lock:
            admin = _shared.get(key)
            if admin is None:
                if len(_shared) >= SHARED_ADMINS_MAX:
                    del _shared[next(iter(_shared))]
                admin = _shared[key] = cls(conn, timeout_s)
            return admin

    def __init__(self, conn: Connection, timeout_s: float = 10.0) -> None:
        self.conn = conn
        self.timeout_s = timeout_s
        self._errors: deque[KafkaError] = deque(maxlen=5)
        self._lock = threading.Lock()
        self._client = new_client(AdminClient, conn, error_cb=_keep_errors(self._errors, self._lock))

    def _failure(
        self,
        exc: BaseException,
        on: str | None,
        *,
        grant: str | None = None,
        doing: str | None = None,
    ) -> KsyncKafkaError:
        """The error to raise for `exc`, preferring a persistent background error's words.

        `on` says what failed, ending in a preposition ("cannot create topic t on"); the
        message goes on with the instance. An error that the instance's security settings
        or ACLs cause becomes a sentence that says what to change (`grant`: the rights the
        operation needs). `doing` replaces the opening where there is no instance yet (a
        probe before registration).
        """
        doing = doing or f"{on} {self.conn.label}"
        self._client.poll(0)  # serves error_cb: background errors arrive only through it
        with self._lock:
            background = list(self._errors)
            self._errors.clear()
        for err in reversed(background):
            if wrap(err, "").persistent:
                access = access_error(err, self.conn, on, grant) if on else None
                return access or PersistentKafkaError(f"{doing}: {words(err)}", err.code())
        kerr = kafka_error_in(exc)
        if on and kerr is not None:
            access = access_error(kerr, self.conn, on, grant)
            if access is not None:
                return access
        wrapped = wrap(exc, doing)
        if background and not wrapped.persistent:
            # "1/1 brokers are down" only repeats the symptom; the connect error says why.
            specific = [e for e in background if e.code() != KafkaError._ALL_BROKERS_DOWN]
            reason = words((specific or background)[-1])
            return TransientKafkaError(f"{wrapped} ({reason})", wrapped.code)
        return wrapped

    def _refused(self) -> KafkaError | None:
        """A persistent background error (credentials, TLS) reported so far, if any."""
        self._client.poll(0)
        with self._lock:
            return next((e for e in self._errors if wrap(e, "").persistent), None)

    def cluster_info(self) -> ClusterInfo:
        """The cluster id and broker count; raises a typed error naming the broker's reason."""
        doing = f"cannot reach {self.conn.bootstrap_servers}"
        future = self._client.describe_cluster(request_timeout=self.timeout_s)
        deadline = time.monotonic() + self.timeout_s + 1
        while not future.done() and time.monotonic() < deadline:
            # Serve error_cb meanwhile: refused credentials are known at once, and no
            # retry within the timeout would change that.
            self._client.poll(0.1)
            refused = self._refused()
            if refused is not None:
                future.cancel()
                raise self._failure(KafkaException(refused), None, doing=doing)
        try:
            desc = future.result(timeout=max(0.0, deadline - time.monotonic()))
        except (KafkaException, TimeoutError) as exc:
            raise self._failure(exc, None, doing=doing) from None
        return ClusterInfo(cluster_id=str(desc.cluster_id), broker_count=len(desc.nodes))

    def list_topics(self, include_internal: bool = False) -> dict[str, TopicInfo]:
        """Every topic the instance lets ksync see, with partition count and replication factor."""
        deadline = time.monotonic() + self.timeout_s
        while True:
            # Asked in short rounds: refused credentials are known after the first one,
            # and waiting out the whole timeout would only delay saying so.
            try:
                md = self._client.list_topics(timeout=max(0.1, min(1.0, deadline - time.monotonic())))
                break
            except KafkaException as exc:
                if time.monotonic() >= deadline or self._refused() is not None:
                    raise self._failure(exc, "cannot list the topics of") from None
        topics: dict[str, TopicInfo] = {}
        for name, tmd in md.topics.items():
            if tmd.error is not None or (not include_internal and is_internal_topic(name)):
                continue
            rf = max((len(p.replicas) for p in tmd.partitions.values()), default=0)
            topics[name] = TopicInfo(name, len(tmd.partitions), rf)
        return topics

    def refused_topics(self, names: list[str]) -> dict[str, KafkaError]:
        """Of `names`, those the instance refuses to describe, with the broker's error.

        Kafka leaves topics a principal may not describe out of a listing, so a topic the
        user named that is missing from it is either absent or hidden by an ACL; asking
        for it by name tells the two apart (a missing topic is simply not returned).
        """
        return {
            name: found
            for name, found in self._describe_topics(names).items()
            if isinstance(found, KafkaError)
            and found.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
        }

    def topic_ids(self, names: list[str]) -> dict[str, str]:
        """Each topic's id (Kafka gives a topic a new one when it is deleted and created
        again under the same name); a topic gone meanwhile, hidden, or without an id (a
        broker that has none) is left out."""
        out: dict[str, str] = {}
        for name, found in self._describe_topics(names).items():
            if isinstance(found, KafkaError) or found.topic_id is None:
                continue
            topic_id = str(found.topic_id)
            if topic_id != NO_TOPIC_ID:
                out[name] = topic_id
        return out

    def _describe_topics(self, names: list[str]) -> dict[str, TopicDescription | KafkaError]:
        """DescribeTopics for `names`: each topic's description, or the broker's error for
        a topic that does not exist or that the instance may not describe; any other
        failure raises."""
        if not names:
            return {}
        futures = self._client.describe_topics(
            TopicCollection(sorted(names)), request_timeout=self.timeout_s
        )
        out: dict[str, TopicDescription | KafkaError] = {}
        for name, fut in futures.items():
            try:
                out[name] = fut.result(timeout=self.timeout_s + 1)
            except KafkaException as exc:
                err = kafka_error_in(exc)
                if err is None or err.code() not in _NOT_DESCRIBED:
                    raise self._failure(exc, f"cannot describe topic {name} on") from None
                out[name] = err
            except TimeoutError as exc:
                raise self._failure(exc, f"cannot describe topic {name} on") from None
        return out

    def topic_configs(self, names: list[str]) -> dict[str, dict[str, str]]:
        """The configs explicitly set on each topic (not broker or static defaults)."""
        return {name: _explicit_configs(e) for name, e in self._describe_configs(names).items()}

    def max_message_bytes(self, names: list[str]) -> dict[str, int]:
        """The largest record batch each topic accepts: its `max.message.bytes`, set on the
        topic or the brokers' default. Topics that do not exist are left out, and so are
        topics whose broker does not report the key (tansu lists only keys that were set)."""
        return {
            name: limits.max_message_bytes
            for name, limits in self.topic_limits(names).items()
            if limits.max_message_bytes is not None
        }

    def topic_limits(self, names: list[str]) -> dict[str, TopicLimits]:
        """What each topic accepts of a record (`TopicLimits`), from its configs as set on
        the topic or the brokers' defaults; topics that do not exist are left out."""
        limits: dict[str, TopicLimits] = {}
        for name, entries in self._describe_configs(names, missing_ok=True).items():
            size = entries.get("max.message.bytes")
            policy = entries.get("cleanup.policy")
            limits[name] = TopicLimits(
                max_message_bytes=None if size is None or size.value is None else int(size.value),
                compacted=policy is not None and "compact" in (policy.value or ""),
            )
        return limits

    def _describe_configs(
        self, names: list[str], missing_ok: bool = False
    ) -> dict[str, dict[str, ConfigEntry]]:
        """Every config entry of each topic (DescribeConfigs); with `missing_ok`, a topic
        that does not exist is left out instead of failing the call."""
        if not names:
            return {}
        futures = self._client.describe_configs(
            [ConfigResource(ConfigResource.Type.TOPIC, n) for n in names],
            request_timeout=self.timeout_s,
        )
        out: dict[str, dict[str, ConfigEntry]] = {}
        for res, fut in futures.items():
            try:
                out[res.name] = fut.result(timeout=self.timeout_s + 1)
            except (KafkaException, TimeoutError) as exc:
                err = kafka_error_in(exc)
                if missing_ok and err is not None and err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                    continue
                raise self._failure(
                    exc,
                    f"cannot read the configs of topic {res.name} on",
                    grant=f"DescribeConfigs on topic {res.name}",
                ) from None
        return out

    def create_topics(self, plans: list[NewTopicPlan]) -> list[str]:
        """Create topics; returns the names created (an existing topic is not an error).

        Raises `TopicRefused` when the broker rejects a topic's attributes."""
        outcome = self.create_topics_apart(plans)
        for refusal in outcome.refused.values():
            raise refusal
        return outcome.created

    def create_topics_apart(self, plans: list[NewTopicPlan]) -> CreateOutcome:
        """Create topics in one request, each succeeding or being refused on its own.

        A topic whose attributes the broker rejects is in `refused`; any other failure
        (unreachable, not authorized) raises, as it concerns the instance."""
        outcome = CreateOutcome()
        if not plans:
            return outcome
        futures = self._client.create_topics(
            [
                NewTopic(p.name, p.partitions, p.replication_factor, config=dict(p.configs))
                for p in plans
            ],
            request_timeout=self.timeout_s,
        )
        for name, fut in futures.items():
            on = f"cannot create topic {name} on"
            try:
                fut.result(timeout=self.timeout_s + 1)
                outcome.created.append(name)
            except KafkaException as exc:
                if exc.args and exc.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
                    continue
                refusal = _refusal(exc, f"{on} {self.conn.label}")
                if refusal is None:
                    raise self._failure(
                        exc, on, grant=f"Create on topic {name} (or create the topic yourself)"
                    ) from None
                outcome.refused[name] = refusal
            except TimeoutError as exc:
                raise self._failure(exc, on) from None
        return outcome

    def create_partitions(self, topic: str, total: int) -> None:
        """Grow `topic` to `total` partitions."""
        from confluent_kafka.admin import NewPartitions

        futures = self._client.create_partitions(
            [NewPartitions(topic, total)], request_timeout=self.timeout_s
        )
        for fut in futures.values():
            try:
                fut.result(timeout=self.timeout_s + 1)
            except (KafkaException, TimeoutError) as exc:
                raise self._failure(
                    exc,
                    f"cannot add partitions to topic {topic} on",
                    grant=f"Alter on topic {topic}",
                ) from None

    def alter_topic_configs(
        self, topic: str, configs: dict[str, str], delete: tuple[str, ...] | list[str] = ()
    ) -> None:
        """Set `configs` and remove the keys in `delete` (back to the broker's default) on
        `topic`, in one incremental request; other keys are untouched.

        Raises `TopicRefused` when the broker rejects the change (it applies none of it)."""
        from confluent_kafka.admin import AlterConfigOpType

        set_op, delete_op = AlterConfigOpType.SET, AlterConfigOpType.DELETE
        entries = [ConfigEntry(k, v, incremental_operation=set_op) for k, v in configs.items()]
        entries += [ConfigEntry(k, None, incremental_operation=delete_op) for k in delete]
        if not entries:
            return
        resource = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=entries)
        what = ", ".join(
            [f"set {k}={v}" for k, v in configs.items()] + [f"remove {k}" for k in delete]
        )
        on = f"cannot {what} on topic {topic} on"
        futures = self._client.incremental_alter_configs([resource], request_timeout=self.timeout_s)
        for fut in futures.values():
            try:
                fut.result(timeout=self.timeout_s + 1)
            except (KafkaException, TimeoutError) as exc:
                refusal = _refusal(exc, f"{on} {self.conn.label}")
                raise refusal or self._failure(exc, on, grant=f"AlterConfigs on topic {topic}") from None

    def topic_acls(self) -> list[TopicAcl]:
        """Every ACL on topics, of any pattern (DescribeAcls; needs Describe on the
        cluster). A broker without an authorizer answers SECURITY_DISABLED (raised)."""
        # None matches any name, principal and host (the stubs type them as str only).
        every = AclBindingFilter(
            ResourceType.TOPIC,
            None,  # type: ignore[arg-type]
            ResourcePatternType.ANY,
            None,  # type: ignore[arg-type]
            None,  # type: ignore[arg-type]
            AclOperation.ANY,
            AclPermissionType.ANY,
        )
        future = self._client.describe_acls(every, request_timeout=self.timeout_s)
        try:
            found = future.result(timeout=self.timeout_s + 1)
        except (KafkaException, TimeoutError) as exc:
            raise self._failure(
                exc, "cannot read the topic ACLs of", grant="Describe on the cluster"
            ) from None
        return [TopicAcl.of(b) for b in found if b.restype == ResourceType.TOPIC]

    def create_topic_acls(self, acls: list[TopicAcl]) -> None:
        """Create `acls` (an ACL that exists already is not an error); needs Alter on the
        cluster. The first refusal raises, after every ACL the broker accepted is made."""
        if not acls:
            return
        futures = self._client.create_acls([a.binding() for a in acls], request_timeout=self.timeout_s)
        self._first_acl_failure(futures.values(), "cannot create topic ACLs on")

    def delete_topic_acls(self, acls: list[TopicAcl]) -> None:
        """Delete exactly `acls` (each filter matches its one ACL); needs Alter on the
        cluster. An ACL already gone is not an error."""
        if not acls:
            return
        filters = [
            AclBindingFilter(
                ResourceType.TOPIC,
                a.name,
                ResourcePatternType[a.pattern],
                a.principal,
                a.host,
                AclOperation[a.operation],
                AclPermissionType[a.permission],
            )
            for a in acls
        ]
        futures = self._client.delete_acls(filters, request_timeout=self.timeout_s)
        self._first_acl_failure(futures.values(), "cannot delete topic ACLs on")

    def _first_acl_failure(self, futures: Iterable[Future[Any]], on: str) -> None:
        failure: KsyncKafkaError | None = None
        for fut in futures:
            try:
                fut.result(timeout=self.timeout_s + 1)
            except (KafkaException, TimeoutError) as exc:
                failure = failure or self._failure(exc, on, grant="Alter on the cluster")
        if failure is not None:
            raise failure

    def delete_consumer_group(self, group_id: str) -> None:
        """Remove a consumer group (the task's progress) from this instance."""
        for fut in self._client.delete_consumer_groups(
            [group_id], request_timeout=self.timeout_s
        ).values():
            try:
                fut.result(timeout=self.timeout_s + 1)
            except KafkaException as exc:
                if exc.args and exc.args[0].code() == KafkaError.GROUP_ID_NOT_FOUND:
                    return
                raise self._failure(
                    exc,
                    f"cannot delete consumer group {group_id} on",
                    grant=f"Delete on consumer group {group_id}",
                ) from None

    # ---- consumer groups (offset sync) ---------------------------------------------------

    def group_ids(self) -> list[str]:
        """The ids of every consumer group on this instance."""
        on = "cannot list the consumer groups on"
        try:
            result = self._client.list_consumer_groups(request_timeout=self.timeout_s).result(
                timeout=self.timeout_s + 1
            )
        except (KafkaException, TimeoutError) as exc:
            raise self._failure(exc, on, grant="Describe on the cluster") from None
        return sorted(g.group_id for g in result.valid)

    def group_offsets(
        self, group: str, partitions: list[tuple[str, int]] | None
    ) -> dict[tuple[str, int], int]:
        """`group`'s committed offsets on `partitions` (None: on every partition it has
        committed on); a partition it has no offset for is left out."""
        if partitions is not None and not partitions:
            return {}
        request = ConsumerGroupTopicPartitions(
            group, None if partitions is None else [TopicPartition(t, p) for t, p in partitions]
        )
        on = f"cannot read the committed offsets of consumer group {group} on"
        try:
            result = self._client.list_consumer_group_offsets(
                [request], request_timeout=self.timeout_s
            )[group].result(timeout=self.timeout_s + 1)
        except (KafkaException, TimeoutError) as exc:
            raise self._failure(exc, on, grant=f"Describe on consumer group {group}") from None
        return {
            (tp.topic, tp.partition): tp.offset
            for tp in result.topic_partitions or []
            if tp.error is None and tp.offset >= 0
        }

    def active_members(self, groups: list[str]) -> dict[str, int]:
        """How many members each of `groups` has now (0 for a group that does not exist)."""
        if not groups:
            return {}
        on = "cannot describe consumer groups on"
        out = {}
        futures = self._client.describe_consumer_groups(groups, request_timeout=self.timeout_s)
        for group, future in futures.items():
            try:
                out[group] = len(future.result(timeout=self.timeout_s + 1).members)
            except KafkaException as exc:
                if exc.args and exc.args[0].code() == KafkaError.GROUP_ID_NOT_FOUND:
                    out[group] = 0
                    continue
                raise self._failure(exc, on, grant=f"Describe on consumer group {group}") from None
            except TimeoutError as exc:
                raise self._failure(exc, on) from None
        return out

    def alter_group_offsets(self, group: str, offsets: dict[tuple[str, int], int]) -> None:
        """Commit `offsets` for `group` (which must have no active member)."""
        if not offsets:
            return
        request = ConsumerGroupTopicPartitions(
            group, [TopicPartition(t, p, o) for (t, p), o in sorted(offsets.items())]
        )
        on = f"cannot write the committed offsets of consumer group {group} on"
        try:
            result = self._client.alter_consumer_group_offsets(
                [request], request_timeout=self.timeout_s
            )[group].result(timeout=self.timeout_s + 1)
        except (KafkaException, TimeoutError) as exc:
            raise self._failure(exc, on, grant=f"Read on consumer group {group}") from None
        for tp in result.topic_partitions or []:
            if tp.error is not None:
                raise self._failure(KafkaException(tp.error), on, grant=f"Read on consumer group {group}")

    def end_offsets(self, partitions: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """The end offset (high watermark) of each of `partitions`; a partition that cannot
        be read raises, naming it."""
        if not partitions:
            return {}
        request = {TopicPartition(t, p): OffsetSpec.latest() for t, p in partitions}
        out = {}
        for tp, future in self._client.list_offsets(request, request_timeout=self.timeout_s).items():
            try:
                out[(tp.topic, tp.partition)] = future.result(timeout=self.timeout_s + 1).offset
            except (KafkaException, TimeoutError) as exc:
                raise self._failure(
                    exc, f"cannot read the end offset of {tp.topic}[{tp.partition}] on"
                ) from None
        return out

    def earliest_offsets(self, partitions: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """The log start offset of each of `partitions` (a partition that cannot be read is
        left out: pruning pairs below it can wait)."""
        if not partitions:
            return {}
        request = {TopicPartition(t, p): OffsetSpec.earliest() for t, p in partitions}
        out = {}
        for tp, future in self._client.list_offsets(request, request_timeout=self.timeout_s).items():
            try:
                out[(tp.topic, tp.partition)] = future.result(timeout=self.timeout_s + 1).offset
            except (KafkaException, TimeoutError) as exc:
                log.info("no log start offset for %s[%d] yet: %s", tp.topic, tp.partition, exc)
        return out
