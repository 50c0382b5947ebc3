"""Kafka errors as typed exceptions that keep the Kafka error code.

Classification drives behaviour (DESIGN.md "Lifecycle"): transient errors are retried with
backoff and shown as warnings; persistent ones fail the task with a sentence a user can
act on.
"""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException

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


def is_persistent(err: KafkaError) -> bool:
    """True when retrying `err` cannot help (auth, authorization, size, config)."""
    return err.fatal() or err.code() in _PERSISTENT_CODES


def wrap(err: KafkaError | KafkaException | BaseException, doing: str) -> KsyncKafkaError:
    """Turn a confluent-kafka error into a typed one whose message says what failed."""
    kerr = err.args[0] if isinstance(err, KafkaException) and err.args else err
    if isinstance(kerr, KafkaError):
        cls = PersistentKafkaError if is_persistent(kerr) else TransientKafkaError
        return cls(f"{doing}: {kerr.str()}", kerr.code())
    return TransientKafkaError(f"{doing}: {err}")
