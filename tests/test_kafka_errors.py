"""The sentences ksync shows for errors the instance's settings or ACLs cause, built from
real confluent-kafka error objects (no broker: the end-to-end checks are in
tests/e2e/test_security.py)."""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException

from ksync.kafka.errors import (
    PersistentKafkaError,
    access_error,
    client_failure,
    kafka_error_in,
    partition_errors,
    partition_failure,
    principal,
    words,
    wrap,
    write_failure,
)
from ksync.spec import Connection, SecuritySpec

SCRAM = Connection(
    instance_id="ins-abc",
    name="gz-prod",
    bootstrap_servers="10.0.0.5:9092",
    security=SecuritySpec(
        protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512", username="sync", password="s3cret"
    ),
)
PLAIN = Connection(instance_id="ins-def", bootstrap_servers="10.0.0.6:9092")


def test_a_refused_password_names_the_instance_the_user_and_the_fields_to_patch():
    err = KafkaError(
        KafkaError.SASL_AUTHENTICATION_FAILED,
        "sasl_ssl://10.0.0.5:9092/bootstrap: SASL authentication error: Authentication failed "
        "during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512 "
        "(after 190ms in state AUTH_REQ)",
    )
    failure = access_error(err, SCRAM, "cannot connect to", role="source")
    assert isinstance(failure, PersistentKafkaError)
    text = str(failure)
    assert text.startswith("cannot connect to the source instance ins-abc (gz-prod): ")
    assert "user sync" in text and "invalid credentials" in text
    assert "security.password" in text and "PATCH /api/v1/instances/ins-abc" in text
    assert text.endswith("then start the task")
    assert "s3cret" not in text and "after 190ms" not in text


def test_an_unverified_certificate_asks_for_the_ca_pem_not_librdkafka_settings():
    err = KafkaError(
        KafkaError._SSL,
        "ssl://10.0.0.5:9093/bootstrap: SSL handshake failed: error:0A000086:SSL routines::"
        "certificate verify failed: broker certificate could not be verified, verify that "
        "ssl.ca.location is correctly configured or root CA certificates are installed "
        "(install ca-certificates package) (after 5ms in state SSL_HANDSHAKE)",
    )
    text = str(access_error(err, SCRAM, "cannot list the topics of"))
    assert "certificate verify failed: broker certificate could not be verified" in text
    assert "security.ca_pem" in text and "PATCH /api/v1/instances/ins-abc" in text
    assert "ssl.ca.location" not in text and "ca-certificates" not in text


def test_other_tls_failures_point_at_the_protocol_and_the_ca():
    err = KafkaError(KafkaError._SSL, "SSL handshake failed: wrong version number")
    text = str(access_error(err, SCRAM, "cannot connect to"))
    assert "TLS failed" in text and "security.protocol" in text and "security.ca_pem" in text


def test_a_missing_acl_names_the_principal_and_the_rights_to_grant():
    err = KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED, "Broker: Topic authorization failed")
    text = str(
        access_error(
            err, SCRAM, "cannot read topic t partition 0 from", "Describe and Read on topic t", role="source"
        )
    )
    assert "User:sync is not authorized" in text
    assert "allow User:sync Describe and Read on topic t (kafka-acls.sh --add)" in text
    anonymous = str(access_error(err, PLAIN, "cannot create topic t on", "Create on topic t"))
    assert "User:ANONYMOUS" in anonymous and "instance ins-def:" in anonymous
    assert principal(PLAIN) == "User:ANONYMOUS" and principal(SCRAM) == "User:sync"


def test_errors_that_no_setting_causes_are_left_to_the_caller():
    for code in (KafkaError._TRANSPORT, KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.MSG_SIZE_TOO_LARGE):
        assert access_error(KafkaError(code, "x"), SCRAM, "cannot write to") is None


def test_timings_are_dropped_so_one_problem_is_one_warning():
    first = KafkaError(KafkaError._TRANSPORT, "b/1: Connect to ipv4#10.0.0.5:9092 failed: Connection refused (after 0ms in state CONNECT)")
    again = KafkaError(
        KafkaError._TRANSPORT,
        "b/1: Connect to ipv4#10.0.0.5:9092 failed: Connection refused "
        "(after 2ms in state CONNECT, 1 identical error(s) suppressed)",
    )
    assert words(first) == words(again) == "b/1: Connect to ipv4#10.0.0.5:9092 failed: Connection refused"
    assert str(wrap(first, "source")) == str(wrap(again, "source"))


def test_the_kafka_error_behind_a_callback_failure_is_found():
    fatal = KafkaError(KafkaError.CLUSTER_AUTHORIZATION_FAILED, "Failed to acquire idempotence PID", fatal=True)
    try:
        try:
            raise KafkaException(fatal)
        except KafkaException as exc:
            raise SystemError("<class 'logging.LogRecord'> returned a result with an exception set") from exc
    except SystemError as exc:
        found = kafka_error_in(exc)
    assert found is not None and found.code() == KafkaError.CLUSTER_AUTHORIZATION_FAILED
    assert kafka_error_in(RuntimeError("unrelated")) is None


def gapless_stop(refusal: str) -> KafkaError:
    """The fatal error librdkafka's gap-less guarantee stops a producer with (its words as
    librdkafka 2.16 writes them) when the broker refused a batch with `refusal`."""
    return KafkaError(
        KafkaError._GAPLESS_GUARANTEE,
        f"ProduceRequest for orders.eu [3] with 1 message(s) failed: {refusal} "
        "(broker 1 PID{Id:0,Epoch:0}, base seq 100): unable to satisfy gap-less guarantee",
        fatal=True,
    )


def test_a_producer_stopped_by_a_refused_batch_reports_the_refusal_for_its_topic_and_partition():
    failure = write_failure(gapless_stop("Broker: Message size too large"), PLAIN, None, None, "Write")
    assert isinstance(failure, PersistentKafkaError)
    assert failure.code == KafkaError.MSG_SIZE_TOO_LARGE
    text = str(failure)
    assert text.startswith("target topic orders.eu partition 3 refused a batch of records as too large")
    assert "max.message.bytes was lowered while the task ran, start the task" in text
    assert "raise it on the target topic" in text

    # The same error reaches the member through the producer's error callback too.
    assert str(client_failure(gapless_stop("Broker: Message size too large"), PLAIN, "target", "Write")) == text

    denied = write_failure(gapless_stop("Broker: Topic authorization failed"), SCRAM, None, None, "Write on topic orders.eu")
    assert denied.code == KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert str(denied).startswith("cannot write to topic orders.eu partition 3 on the target instance ins-abc")
    assert "allow User:sync Write on topic orders.eu" in str(denied)


def test_a_fatal_error_whose_words_name_no_refused_batch_keeps_them():
    err = KafkaError(KafkaError._GAPLESS_GUARANTEE, "something librdkafka has not said before", fatal=True)
    failure = write_failure(err, PLAIN, None, None, "Write")
    assert failure.persistent
    assert str(failure) == "writing to the target failed: something librdkafka has not said before"


# ---- per-partition results ------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    """One partition of a call's result list, as librdkafka returns it (a TopicPartition's
    `error` cannot be set from Python)."""

    topic: str
    partition: int
    offset: int = -1001
    error: KafkaError | None = None


def test_partitions_returned_with_an_error_are_found() -> None:
    refused = KafkaError(KafkaError.NOT_COORDINATOR)
    results = [Result("a", 0, 5), Result("a", 1, error=refused), Result("b", 0, 7)]
    assert partition_errors(results) == [("a", 1, refused)]
    assert partition_failure(partition_errors(results[::2]), PLAIN, "cannot commit progress of", "x") is None


def test_a_partition_error_is_a_sentence_naming_the_partitions() -> None:
    err = KafkaError(KafkaError.NOT_COORDINATOR)
    failed = [("a", 1, err), ("b", 0, err)]
    failure = partition_failure(failed, PLAIN, "cannot commit progress of", "Read on group g")
    assert failure is not None and not failure.persistent
    assert str(failure).startswith("cannot commit progress of a[1], b[0]: ")
    assert failure.code == KafkaError.NOT_COORDINATOR


def test_a_persistent_partition_error_decides_and_a_missing_acl_says_what_to_grant() -> None:
    transient = KafkaError(KafkaError.NOT_COORDINATOR)
    denied = KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED)
    failure = partition_failure(
        [("a", 0, transient), ("b", 0, denied)], SCRAM, "cannot commit progress of", "Read on topic b"
    )
    assert isinstance(failure, PersistentKafkaError)
    assert "User:sync is not authorized" in str(failure) and "Read on topic b" in str(failure)
