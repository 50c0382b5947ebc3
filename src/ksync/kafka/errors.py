"""Kafka errors as typed exceptions that keep the Kafka error code.

Classification drives behaviour (docs/design.md "Lifecycle and statuses"): transient
errors are retried with backoff and shown as warnings; persistent ones fail the task with
a sentence a user can act on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Protocol

from confluent_kafka import KafkaError, KafkaException

from ksync.spec import Connection

# Errors that no retry fixes: the user must change credentials, ACLs, topics or limits.
_PERSISTENT_CODES = {
    KafkaError._AUTHENTICATION,
    KafkaError.SASL_AUTHENTICATION_FAILED,
    KafkaError.TOPIC_AUTHORIZATION_FAILED,
    KafkaError.GROUP_AUTHORIZATION_FAILED,
    KafkaError.CLUSTER_AUTHORIZATION_FAILED,
    KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
    KafkaError.MSG_SIZE_TOO_LARGE,
    KafkaError.RECORD_LIST_TOO_LARGE,
    KafkaError.INVALID_RECORD,
    KafkaError.UNSUPPORTED_SASL_MECHANISM,
    KafkaError.ILLEGAL_SASL_STATE,
    KafkaError._SSL,
    KafkaError.INVALID_CONFIG,
    KafkaError._INVALID_ARG,
    KafkaError.UNSUPPORTED_VERSION,
    KafkaError.POLICY_VIOLATION,
    KafkaError.INVALID_REPLICATION_FACTOR,
    KafkaError.INVALID_PARTITIONS,
    KafkaError._FATAL,
}


class KsyncKafkaError(Exception):
    """A Kafka failure with its code and the context of what ksync was doing."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code

    @property
    def persistent(self) -> bool:
        return self.code in _PERSISTENT_CODES


class TransientKafkaError(KsyncKafkaError):
    """Retry with backoff; show as a warning."""


class PersistentKafkaError(KsyncKafkaError):
    """No retry helps: the task fails with this message."""

    @property
    def persistent(self) -> bool:
        # Also when ksync itself decided it (no Kafka error code behind it).
        return True


class ClientSettingsError(PersistentKafkaError):
    """librdkafka refused an instance's settings before connecting (e.g. a bad CA PEM)."""


# A group's coordinator is not ready yet (a cluster or coordinator just started): a
# consumer that only assigns does not wait for it the way a group join does, so a call on
# the group's offsets is repeated.
COORDINATOR_CODES = frozenset(
    {
        KafkaError.NOT_COORDINATOR,
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
    }
)


def is_persistent(err: KafkaError) -> bool:
    """True when retrying `err` cannot help (auth, authorization, size, config)."""
    return err.fatal() or err.code() in _PERSISTENT_CODES


_AUTHENTICATION_CODES = {
    KafkaError._AUTHENTICATION,
    KafkaError.SASL_AUTHENTICATION_FAILED,
    KafkaError.UNSUPPORTED_SASL_MECHANISM,
    KafkaError.ILLEGAL_SASL_STATE,
}
_AUTHORIZATION_CODES = {
    KafkaError.TOPIC_AUTHORIZATION_FAILED,
    KafkaError.GROUP_AUTHORIZATION_FAILED,
    KafkaError.CLUSTER_AUTHORIZATION_FAILED,
    KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
}
# librdkafka's advice on a certificate it cannot verify names its own file settings
# (ssl.ca.location, the system's CA package); ksync users set security.ca_pem instead.
_LIBRDKAFKA_CA_ADVICE = re.compile(r", verify that ssl\.ca\.location .*?\(install ca-certificates package\)")
# librdkafka's timing and repeat counts ("(after 2ms in state CONNECT, 1 identical error(s)
# suppressed)"): they make each report of one problem a different text, so an outage would
# show as a growing list of near-identical warnings.
_LIBRDKAFKA_TIMING = re.compile(r" \(after \d+ms in state [A-Z_]+(?:, \d+ identical error\(s\) suppressed)?\)")


def words(err: KafkaError) -> str:
    """What the broker or librdkafka said, without librdkafka's advice about its own file
    settings and without its timings."""
    return _LIBRDKAFKA_TIMING.sub("", _LIBRDKAFKA_CA_ADVICE.sub("", err.str()))


def principal(conn: Connection) -> str:
    """The Kafka principal ksync acts as on `conn` (what an ACL must name)."""
    user = conn.security.username if conn.security.sasl_mechanism else None
    return f"User:{user or 'ANONYMOUS'}"


def access_error(
    err: KafkaError, conn: Connection, doing: str, grant: str | None = None, role: str = ""
) -> PersistentKafkaError | None:
    """The failure for an error that the instance's security settings or ACLs cause,
    as a sentence that names the instance and what to change; None for any other error.

    `doing` says what failed and ends with a preposition ("cannot read topic t from"),
    `grant` names the rights the operation needs ("Describe and Read on topic t"), and
    `role` ("source", "target") says which side of a task the instance is.
    """
    code = err.code()
    said = words(err)
    where = f"the {role} {conn.label}" if role else conn.label
    patch = f"with PATCH /api/v1/instances/{conn.instance_id}, then start the task"
    if code in _AUTHENTICATION_CODES:
        user = conn.security.username or "(none)"
        message = (
            f"{doing} {where}: it refused the credentials of user {user} ({said}). "
            f"Correct security.username, security.password or security.sasl_mechanism {patch}"
        )
    elif code == KafkaError._SSL and "certificate verify failed" in said:
        message = (
            f"{doing} {where}: its brokers' TLS certificate is not signed by the CA in "
            f"security.ca_pem ({said}). Set security.ca_pem to the certificate of the CA "
            f"that signed the brokers' certificates {patch}"
        )
    elif code == KafkaError._SSL:
        message = (
            f"{doing} {where}: TLS failed ({said}). Check security.protocol (SSL and "
            f"SASL_SSL need a TLS listener) and security.ca_pem {patch}"
        )
    elif code in _AUTHORIZATION_CODES:
        who = principal(conn)
        rights = grant or "the rights this operation needs"
        message = (
            f"{doing} {where}: {who} is not authorized ({said}). On that cluster, allow "
            f"{who} {rights} (kafka-acls.sh --add); then start the task"
        )
    else:
        return None
    return PersistentKafkaError(message, code)


def kafka_error_in(exc: BaseException) -> KafkaError | None:
    """The KafkaError behind `exc`, following its causes.

    confluent-kafka raises a client's *fatal* error (an idempotent producer refused its
    producer id, say) from the poll or flush that served it; a callback it calls later in
    that same call then fails with SystemError, caused by that KafkaException.
    """
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, KafkaException) and seen.args and isinstance(seen.args[0], KafkaError):
            return seen.args[0]
        seen = seen.__cause__ or seen.__context__
    return None


def wrap(err: KafkaError | KafkaException | BaseException, doing: str) -> KsyncKafkaError:
    """Turn a confluent-kafka error into a typed one whose message says what failed."""
    kerr = err.args[0] if isinstance(err, KafkaException) and err.args else err
    if isinstance(kerr, KafkaError):
        cls = PersistentKafkaError if is_persistent(kerr) else TransientKafkaError
        return cls(f"{doing}: {words(kerr)}", kerr.code())
    return TransientKafkaError(f"{doing}: {err}")


# ---- what a copy's clients meet: the sentences of a member's failures -----------------------


def topic_list(names: Iterable[str], most: int = 5) -> str:
    """`topic a` / `topics a, b` (at most `most` names, then how many more)."""
    ordered = sorted(set(names))
    shown = ", ".join(ordered[:most])
    if len(ordered) > most:
        shown += f" and {len(ordered) - most} more"
    return f"topic{'s' if len(ordered) != 1 else ''} {shown}"


def read_rights(topics: Iterable[str], group_id: str) -> str:
    """The ACLs a consumer of `topics` in group `group_id` needs, in words."""
    return f"Describe and Read on {topic_list(topics)} and Read on consumer group {group_id}"


def write_rights(topics: Iterable[str]) -> str:
    """The ACLs a producer to `topics` needs, in words."""
    return f"Describe and Write on {topic_list(topics)}"


def client_failure(err: KafkaError, conn: Connection, role: str, grant: str) -> KsyncKafkaError:
    """A client's background error (librdkafka's error callback) on the `role` side:
    transient (retried by the client) or, when persistent, a sentence that says what to
    change; `grant` names the rights the client needs there."""
    if refused_batch(err) is not None:
        return write_failure(err, conn, None, None, grant)
    wrapped = wrap(err, f"{role} {conn.label}")
    if not wrapped.persistent:
        return wrapped
    return access_error(err, conn, "cannot connect to", grant, role=role) or PersistentKafkaError(
        str(wrapped), wrapped.code
    )


def read_failure(
    err: KafkaError, conn: Connection, topic: str, partition: int, grant: str
) -> KsyncKafkaError:
    """An error a consumer met reading `topic` `partition` from the source `conn`."""
    where = f"topic {topic} partition {partition}"
    refused = access_error(err, conn, f"cannot read {where} from", grant, role="source")
    return refused or wrap(err, f"reading {where}")


# librdkafka's words when its gap-less guarantee stops an idempotent producer because the
# broker refused a batch: the batch's topic and partition, then the broker's error.
_GAPLESS_REFUSAL = re.compile(
    r"ProduceRequest for (?P<topic>.+) \[(?P<partition>\d+)\] with \d+ message\(s\) failed: "
    r"(?P<reason>.+?) \(broker "
)
# Every error code a broker answers with, by librdkafka's words for it.
_BROKER_ERRORS = {
    KafkaError(code).str(): code
    for name, code in vars(KafkaError).items()
    if name.isupper() and isinstance(code, int) and code > 0
}


def refused_batch(err: KafkaError) -> tuple[KafkaError, str, int] | None:
    """The broker's refusal that made librdkafka's gap-less guarantee stop the producer
    (`err`, fatal), with the batch's topic and partition; None for any other error.

    The producer stops rather than send the batches after the refused one, which would
    land before it is copied again; its words are all that names the refusal.
    """
    if err.code() != KafkaError._GAPLESS_GUARANTEE:
        return None
    found = _GAPLESS_REFUSAL.search(err.str())
    if found is None or found["reason"] not in _BROKER_ERRORS:
        return None
    cause = KafkaError(_BROKER_ERRORS[found["reason"]], found["reason"])
    return cause, found["topic"], int(found["partition"])


def write_failure(
    err: KafkaError, conn: Connection, topic: str | None, partition: int | None, grant: str
) -> KsyncKafkaError:
    """A write to the target `conn` that failed, as a sentence that names the target topic
    and partition (None: not known, e.g. a fatal producer error)."""
    refused = refused_batch(err)
    if refused is not None:
        err, topic, partition = refused
    where = f"target topic {topic} partition {partition}" if topic else "the target"
    if err.code() in (KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.RECORD_LIST_TOO_LARGE):
        # A member sizes its batches to its target topics' max.message.bytes when it
        # starts: a refusal is a record larger than the limit, or a limit lowered since.
        return PersistentKafkaError(
            f"{where} refused a batch of records as too large ({words(err)}). If the target "
            "topic's max.message.bytes was lowered while the task ran, start the task: it "
            "then sends batches that fit. Otherwise a record is larger than max.message.bytes "
            "allows: raise it on the target topic (or message.max.bytes on its brokers), then "
            "start the task",
            err.code(),
        )
    doing = f"cannot write to topic {topic} partition {partition} on" if topic else "cannot write to"
    denied = access_error(err, conn, doing, grant, role="target")
    return denied or wrap(err, f"writing to {where} failed")


def commit_failure(exc: KafkaException, conn: Connection, grant: str) -> KsyncKafkaError:
    """A refused commit of progress to the source `conn`."""
    err = kafka_error_in(exc)
    if err is not None:
        refused = access_error(err, conn, "cannot commit progress to", grant, role="source")
        if refused is not None:
            return refused
    return wrap(exc, f"committing progress to the source {conn.label}")


# ---- per-partition results: errors librdkafka returns rather than raises ---------------------


class PartitionResult(Protocol):
    """One partition of a call's result list (a `TopicPartition` has these)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def error(self) -> KafkaError | None: ...


def partition_errors(results: Iterable[PartitionResult]) -> list[tuple[str, int, KafkaError]]:
    """The partitions of `results` that carry an error, as (topic, partition, error).

    `commit`, `committed`, `offsets_for_times` and `position` raise only when the whole
    request fails; a partition the broker (or the client) refused comes back in the list
    with its `.error` set and an offset that means nothing (-1001, or -1 that would read
    as "no record there").
    """
    return [(r.topic, r.partition, r.error) for r in results if r.error is not None]


def partition_failure(
    failed: Iterable[tuple[str, int, KafkaError]], conn: Connection, doing: str, grant: str
) -> KsyncKafkaError | None:
    """The failure for the partitions of one call that came back with an error (see
    `partition_errors`), None when there are none: a refusal the instance's credentials or
    ACLs cause as a sentence saying what to change, a persistent error when any is
    persistent, else a transient one. `doing` says what failed and ends with a preposition
    ("cannot commit progress of", "cannot look up offsets of"); `conn` is the source."""
    failed = list(failed)
    if not failed:
        return None
    where = ", ".join(f"{t}[{p}]" for t, p, _ in failed[:5])
    if len(failed) > 5:
        where += f" and {len(failed) - 5} more"
    # The first persistent error decides: it is the one no retry cures.
    _, _, err = next((f for f in failed if is_persistent(f[2])), failed[0])
    denied = access_error(err, conn, f"{doing} {where} on", grant, role="source")
    return denied or wrap(err, f"{doing} {where}")
