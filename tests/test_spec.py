"""Validation at the edge (ksync.spec): every rejection names the field and what is allowed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr, ValidationError

from ksync.spec import (
    STORED,
    ClientTuning,
    Connection,
    InstanceSpec,
    SecuritySpec,
    SourceSpec,
    StartPoint,
    TargetSpec,
    TaskOptions,
    TaskSpec,
)


def task(**source: Any) -> dict[str, Any]:
    return {
        "name": "t",
        "source": {"instance_id": "ins-a", **source},
        "target": {"instance_id": "ins-b"},
    }


def rejected(model: type[BaseModel], data: dict[str, Any]) -> tuple[str, list[tuple[Any, ...]]]:
    """The error text and the locations pydantic reports for `data`."""
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return str(info.value), [e["loc"] for e in info.value.errors()]


# ---- topic selection -----------------------------------------------------------------------


def test_an_empty_selection_is_rejected_naming_both_fields() -> None:
    text, locs = rejected(TaskSpec, task())
    assert locs == [("source",)]
    assert "source.topics" in text and "source.topic_regex" in text
    text, _ = rejected(TaskSpec, task(topics=[], exclude_regex="x"))
    assert "the topic selection is empty" in text


@pytest.mark.parametrize("field", ["topic_regex", "exclude_regex"])
def test_an_invalid_regex_is_rejected_naming_its_field(field: str) -> None:
    text, locs = rejected(TaskSpec, task(topics=["a"], **{field: "orders-(["}))
    assert locs == [("source", field)]
    assert f"{field} is not a valid regular expression" in text


@pytest.mark.parametrize("name", ["", ".", "..", "a b", "orders/1", "ordérs", "x" * 250])
def test_a_bad_topic_name_is_rejected_naming_it(name: str) -> None:
    text, locs = rejected(SourceSpec, {"instance_id": "ins-a", "topics": ["ok", name]})
    assert locs == [("topics",)]
    assert f"'{name}' is not a valid topic name" in text


def test_good_topic_names_are_kept_once_in_order() -> None:
    spec = SourceSpec(instance_id="ins-a", topics=["b", "a.b_c-D9", "b", "x" * 249])
    assert spec.topics == ["b", "a.b_c-D9", "x" * 249]


# ---- start point ---------------------------------------------------------------------------


def test_timestamp_start_needs_timestamp_ms() -> None:
    text, locs = rejected(StartPoint, {"type": "timestamp"})
    assert locs == [()]
    assert "start.timestamp_ms is required when start.type is 'timestamp'" in text
    assert StartPoint(type="timestamp", timestamp_ms=0).timestamp_ms == 0


@pytest.mark.parametrize("kind", ["earliest", "latest"])
def test_timestamp_ms_is_only_allowed_with_a_timestamp_start(kind: str) -> None:
    text, _ = rejected(StartPoint, {"type": kind, "timestamp_ms": 5})
    assert "start.timestamp_ms is only allowed" in text


def test_start_point_bad_values_name_the_field() -> None:
    text, locs = rejected(StartPoint, {"type": "timestamp", "timestamp_ms": -1})
    assert locs == [("timestamp_ms",)]
    text, locs = rejected(StartPoint, {"type": "newest"})
    assert locs == [("type",)]
    assert "'earliest', 'latest' or 'timestamp'" in text
    text, locs = rejected(TaskSpec, task(topics=["a"], start={"type": "timestamp"}))
    assert locs == [("source", "start")]
    assert "start.timestamp_ms" in text


# ---- security ------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
def test_sasl_needs_a_mechanism(protocol: str) -> None:
    text, _ = rejected(SecuritySpec, {"protocol": protocol, "username": "u", "password": "p"})
    assert f"security.sasl_mechanism is required with protocol {protocol}" in text
    assert "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512" in text


@pytest.mark.parametrize(
    "credentials",
    [{"password": "p"}, {"username": "", "password": "p"}, {"username": "u"}, {}],
)
def test_sasl_needs_username_and_password(credentials: dict[str, str]) -> None:
    text, _ = rejected(
        SecuritySpec, {"protocol": "SASL_SSL", "sasl_mechanism": "PLAIN", **credentials}
    )
    assert "security.username and security.password are required with protocol SASL_SSL" in text


def test_a_bad_security_block_is_reported_under_security() -> None:
    text, locs = rejected(
        InstanceSpec,
        {"name": "i", "bootstrap_servers": "k:1", "security": {"protocol": "SASL_PLAINTEXT"}},
    )
    assert locs == [("security",)]
    assert "security.sasl_mechanism is required" in text


def test_a_mechanism_without_sasl_and_an_unknown_mechanism_are_rejected() -> None:
    text, _ = rejected(SecuritySpec, {"protocol": "SSL", "sasl_mechanism": "PLAIN"})
    assert "security.sasl_mechanism only applies to protocol SASL_PLAINTEXT or SASL_SSL, not SSL" in text
    text, locs = rejected(
        SecuritySpec,
        {"protocol": "SASL_SSL", "sasl_mechanism": "GSSAPI", "username": "u", "password": "p"},
    )
    assert locs == [("sasl_mechanism",)]
    text, locs = rejected(SecuritySpec, {"protocol": "TLS"})
    assert locs == [("protocol",)]


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SSL"])
def test_credentials_a_protocol_never_sends_are_rejected(protocol: str) -> None:
    text, _ = rejected(SecuritySpec, {"protocol": protocol, "username": "alice", "password": "p"})
    assert (
        f"security.username, security.password only apply to protocol SASL_PLAINTEXT or "
        f"SASL_SSL, not {protocol}" in text
    )


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SASL_PLAINTEXT"])
def test_a_ca_certificate_without_tls_is_rejected(protocol: str) -> None:
    sasl = {"sasl_mechanism": "PLAIN", "username": "u", "password": "p"} if protocol != "PLAINTEXT" else {}
    text, _ = rejected(SecuritySpec, {"protocol": protocol, "ca_pem": "-----BEGIN", **sasl})
    assert f"security.ca_pem only applies to protocol SSL or SASL_SSL, not {protocol}" in text


def test_every_protocol_accepts_exactly_its_own_settings() -> None:
    assert SecuritySpec(protocol="SSL", ca_pem=SecretStr("pem")).ca_pem is not None
    sasl_ssl = SecuritySpec(
        protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512", username="u",
        password=SecretStr("p"), ca_pem=SecretStr("pem"),
    )
    assert sasl_ssl.username == "u" and sasl_ssl.ca_pem is not None


def test_secrets_never_appear_in_a_json_dump_or_repr() -> None:
    inst = InstanceSpec(
        name="prod",
        bootstrap_servers="k1:9092",
        security=SecuritySpec(
            protocol="SASL_SSL",
            sasl_mechanism="SCRAM-SHA-512",
            username="svc",
            password="hunter2-secret",
            ca_pem="-----BEGIN CERTIFICATE----- private-pem",
        ),
    )
    for dumped in (
        json.dumps(inst.model_dump(mode="json")),
        inst.model_dump_json(),
        repr(inst),
        json.dumps(
            Connection(instance_id="i", bootstrap_servers="k:1", security=inst.security).model_dump(
                mode="json"
            )
        ),
    ):
        assert "hunter2-secret" not in dumped
        assert "private-pem" not in dumped
    assert inst.model_dump(mode="json")["security"]["username"] == "svc"
    assert inst.security.password is not None
    assert inst.security.password.get_secret_value() == "hunter2-secret"


# ---- instances -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("servers", "words"),
    [
        ("", "no empty entries"),
        ("   ", "no empty entries"),
        ("k1:9092,,k2:9092", "no empty entries"),
        ("k1:9092,", "no empty entries"),
        ("k1", "'k1' is not host:port"),
        ("k1:0", "'k1:0' is not host:port with a port from 1 to 65535"),
        ("k1:65536", "'k1:65536' is not host:port"),
        ("k1:abc", "'k1:abc' is not host:port"),
        ("http://k1:9092", "'http://k1:9092' is not host:port"),
        ("k 1:9092", "'k 1:9092' is not host:port"),
    ],
)
def test_bad_bootstrap_servers_are_rejected_naming_the_entry(servers: str, words: str) -> None:
    text, locs = rejected(InstanceSpec, {"name": "i", "bootstrap_servers": servers})
    assert locs == [("bootstrap_servers",)]
    assert words in text


def test_bootstrap_servers_are_normalised() -> None:
    spec = InstanceSpec(name="i", bootstrap_servers=" k1:9092 , 10.0.0.2:19092,[::1]:9093")
    assert spec.bootstrap_servers == "k1:9092,10.0.0.2:19092,[::1]:9093"


# ---- every model ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "data", "loc"),
    [
        (InstanceSpec, {"name": "i", "bootstrap_servers": "k:1", "colour": "red"}, ("colour",)),
        (SecuritySpec, {"protocol": "SSL", "passwd": "x"}, ("passwd",)),
        (TaskSpec, {**task(topics=["a"]), "priority": 1}, ("priority",)),
        (TaskSpec, task(topics=["a"], topic_regexp="a.*"), ("source", "topic_regexp")),
        (TargetSpec, {"instance_id": "b", "prefx": "x"}, ("prefx",)),
        (TaskOptions, {"taskmax": 2}, ("taskmax",)),
    ],
)
def test_unknown_fields_are_rejected_by_name(
    model: type[BaseModel], data: dict[str, Any], loc: tuple[str, ...]
) -> None:
    text, locs = rejected(model, data)
    assert locs == [loc]
    assert "Extra inputs are not permitted" in text


@pytest.mark.parametrize("value", ["bj/", "a b", "ä"])
@pytest.mark.parametrize("field", ["topic_prefix", "separator"])
def test_target_prefix_and_separator_must_be_topic_name_characters(field: str, value: str) -> None:
    text, locs = rejected(TargetSpec, {"instance_id": "b", field: value})
    assert locs == [(field,)]
    assert "may only contain [A-Za-z0-9._-]" in text


@pytest.mark.parametrize("task_max", [0, 65])
def test_task_max_is_between_1_and_64(task_max: int) -> None:
    _, locs = rejected(TaskOptions, {"task_max": task_max})
    assert locs == [("task_max",)]


def test_models_are_frozen() -> None:
    spec = TaskSpec.model_validate(task(topics=["a"]))
    with pytest.raises(ValidationError, match="frozen"):
        spec.name = "other"  # type: ignore[misc]
    assert spec.target.keep_partition is True
    assert spec.source.start == StartPoint(type="earliest")


# ---- client tuning (far clusters) ---------------------------------------------------------


def test_client_tuning_defaults_are_what_every_task_did_before() -> None:
    tuning = TaskOptions().tuning
    assert tuning == ClientTuning(
        compression="none", linger_ms=5, batch_bytes=1_000_000, fetch_max_bytes=52_428_800
    )


@pytest.mark.parametrize("codec", ["none", "lz4", "zstd", "snappy", "gzip"])
def test_every_codec_is_accepted_and_carried_into_the_tuning(codec: str) -> None:
    options = TaskOptions.model_validate({"compression": codec, "task_max": 3})
    assert options.tuning.compression == codec
    assert options.task_max == 3


def test_a_codec_outside_the_list_is_rejected_naming_the_allowed_ones() -> None:
    text, locs = rejected(TaskOptions, {"compression": "brotli"})
    assert locs == [("compression",)]
    assert "'none', 'lz4', 'zstd', 'snappy' or 'gzip'" in text


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("linger_ms", -1, "greater than or equal to 0"),
        ("linger_ms", 10_001, "less than or equal to 10000"),
        ("batch_bytes", 1_023, "greater than or equal to 1024"),
        ("batch_bytes", 16_777_217, "less than or equal to 16777216"),
        ("fetch_max_bytes", 1_048_575, "greater than or equal to 1048576"),
        ("fetch_max_bytes", 268_435_457, "less than or equal to 268435456"),
        ("linger_ms", "soon", "valid integer"),
    ],
)
def test_tuning_numbers_out_of_range_are_rejected_naming_the_field_and_the_bound(
    field: str, value: Any, words: str
) -> None:
    text, locs = rejected(TaskOptions, {field: value})
    assert locs == [(field,)]
    assert words in text


def test_tuning_bounds_are_accepted() -> None:
    low = TaskOptions(linger_ms=0, batch_bytes=1_024, fetch_max_bytes=1_048_576)
    high = TaskOptions(linger_ms=10_000, batch_bytes=16_777_216, fetch_max_bytes=268_435_456)
    assert (low.tuning.linger_ms, low.tuning.batch_bytes, low.tuning.fetch_max_bytes) == (
        0, 1_024, 1_048_576
    )
    assert (high.tuning.linger_ms, high.tuning.batch_bytes, high.tuning.fetch_max_bytes) == (
        10_000, 16_777_216, 268_435_456
    )


def test_a_stored_spec_without_tuning_reads_back_with_the_defaults() -> None:
    """Tasks saved before the tuning existed keep their behaviour."""
    spec = TaskSpec.model_validate({**task(topics=["a"]), "options": {"task_max": 2}}, context=STORED)
    assert spec.options.tuning == ClientTuning()


# ---- error toleration ----------------------------------------------------------------------


def test_errors_default_to_blocking_and_all_may_go_without_a_dead_letter_topic() -> None:
    errors = TaskOptions().errors
    assert (errors.tolerance, errors.dead_letter_topic, errors.dead_letter_instance) == (
        "none",
        None,
        "target",
    )
    # As Kafka Connect: tolerance all without a dead-letter topic skips refused records.
    assert TaskOptions.model_validate({"errors": {"tolerance": "all"}}).errors.dead_letter_topic is None
    kept = TaskOptions.model_validate(
        {"errors": {"tolerance": "all", "dead_letter_topic": "dlq", "dead_letter_instance": "source"}}
    ).errors
    assert (kept.dead_letter_topic, kept.dead_letter_instance) == ("dlq", "source")


def test_unknown_error_keys_are_rejected_by_name() -> None:
    text, locs = rejected(TaskOptions, {"errors": {"tolerance": "all", "retries": 3}})
    assert locs == [("errors", "retries")]
    assert "Extra inputs are not permitted" in text
