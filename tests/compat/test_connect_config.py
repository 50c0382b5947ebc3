"""MirrorMaker 2 config mapping for the Kafka Connect face, without a broker: topic lists
and regexes, replication policies, MM2's defaults and cycle rule, security keys, secrets
hidden, unknown keys reported, and the config shown for a task made by another face."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from ksync.api.compat.connect.config import (
    DEFAULT_POLICY,
    IDENTITY_POLICY,
    SOURCE_CONNECTOR,
    ConfigError,
    config_of_spec,
    parse,
)
from ksync.api.compat.connect.hiding import HIDDEN
from ksync.domain.instance import InstanceSecurity, InstanceView
from ksync.replication.topic_filter import TopicFilter
from ksync.spec import StartPoint, TaskSpec


def base(**extra: Any) -> dict[str, Any]:
    return {
        "connector.class": "MirrorSourceConnector",
        "source.cluster.alias": "east",
        "target.cluster.alias": "west",
        "source.cluster.bootstrap.servers": "10.0.0.1:9092, 10.0.0.2:9092",
        "target.cluster.bootstrap.servers": "10.1.0.1:9092",
        **extra,
    }


def selects(config: dict[str, Any], topics: list[str]) -> list[str]:
    spec = parse("c", config).task_spec("ins-a", "ins-b")
    return TopicFilter.from_spec(spec.source).select(topics)


def test_topics_plain_names_and_regexes() -> None:
    m = parse("c", base(topics="orders, payments.v1 ,metrics-.*,audit|log"))
    assert m.topics == ["orders", "payments.v1"]
    assert m.topic_regex == "(?:metrics-.*)|(?:audit|log)"
    assert selects(base(topics="orders, payments.v1 ,metrics-.*,audit|log"), [
        "orders", "paymentsXv1", "payments.v1", "metrics-cpu", "audit", "log", "other",
    ]) == ["audit", "log", "metrics-cpu", "orders", "payments.v1"]


def test_mm2_defaults() -> None:
    m = parse("c", base())
    assert m.topics == [] and m.topic_regex == ".*"  # MM2 replicates every topic by default
    assert m.topic_prefix == "east" and m.separator == "."
    assert m.task_max == 1 and m.sync_topic_configs is True and m.start is None
    assert m.source.alias == "east" and m.source.bootstrap_servers == "10.0.0.1:9092,10.0.0.2:9092"
    # MM2's default excludes, and its cycle rule for the default policy.
    assert selects(base(), [
        "orders", "app-internal", "x.internal", "t.replica", "__consumer_offsets",
        "west.orders", "east.west.orders", "westerly",
    ]) == ["orders", "westerly"]
    # Aliases default to "source" and "target", as MM2's.
    config = base()
    del config["source.cluster.alias"], config["target.cluster.alias"]
    m = parse("c", config)
    assert (m.source.alias, m.target.alias, m.topic_prefix) == ("source", "target", "source")


def test_explicit_exclude_replaces_the_default_and_blacklist_is_its_old_name() -> None:
    assert selects(base(**{"topics.exclude": "tmp-.*"}), ["a.internal", "tmp-1", "b"]) == ["a.internal", "b"]
    assert selects(base(**{"topics.blacklist": "tmp-.*"}), ["tmp-1", "b"]) == ["b"]
    assert selects(base(**{"topics.exclude": ""}), ["a.internal", "b"]) == ["a.internal", "b"]


def test_replication_policies() -> None:
    identity = parse("c", base(**{"replication.policy.class": IDENTITY_POLICY}))
    assert identity.topic_prefix == ""
    # No cycle rule by name with the identity policy (ksync's origin header prevents loops).
    assert selects(base(**{"replication.policy.class": "IdentityReplicationPolicy"}), ["west.orders"]) == ["west.orders"]
    custom = parse("c", base(**{
        "replication.policy.class": DEFAULT_POLICY, "replication.policy.separator": "_",
    }))
    assert (custom.topic_prefix, custom.separator) == ("east", "_")
    assert re.fullmatch(custom.exclude_regex or "", "west_orders")
    assert not re.fullmatch(custom.exclude_regex or "", "west.orders")


def test_scalar_values_are_strings_and_start_point() -> None:
    m = parse("c", base(**{
        "tasks.max": 4, "sync.topic.configs.enabled": False, "consumer.auto.offset.reset": "latest",
    }))
    assert m.task_max == 4 and m.sync_topic_configs is False
    assert m.start == StartPoint(type="latest")
    assert m.config["tasks.max"] == "4" and m.config["sync.topic.configs.enabled"] == "false"
    assert m.config["name"] == "c"


def test_unknown_keys_are_kept_and_listed() -> None:
    m = parse("c", base(**{
        "emit.checkpoints.enabled": "true",
        "key.converter": "org.apache.kafka.connect.converters.ByteArrayConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "transforms": "x",
    }))
    assert m.ignored == ["emit.checkpoints.enabled", "transforms", "value.converter"]
    assert m.config["transforms"] == "x" and m.config["emit.checkpoints.enabled"] == "true"


def test_sasl_settings_map_to_security_and_secrets_are_hidden() -> None:
    jaas = (
        'org.apache.kafka.common.security.scram.ScramLoginModule required '
        'username="alice" password="p\\"ss";'
    )
    m = parse("c", base(**{
        "source.cluster.security.protocol": "SASL_SSL",
        "source.cluster.sasl.mechanism": "SCRAM-SHA-512",
        "source.cluster.sasl.jaas.config": jaas,
        "source.cluster.ssl.keystore.password": "kspw",
    }))
    sec = m.source.security
    assert sec is not None and sec.protocol == "SASL_SSL" and sec.sasl_mechanism == "SCRAM-SHA-512"
    assert sec.username == "alice" and sec.password is not None
    assert sec.password.get_secret_value() == 'p"ss'
    assert m.target.security is None
    assert "p\\\"ss" not in str(m.config) and "kspw" not in str(m.config)
    assert m.config["source.cluster.sasl.jaas.config"].endswith(f'password="{HIDDEN}";')
    assert m.config["source.cluster.ssl.keystore.password"] == HIDDEN
    assert m.ignored == ["source.cluster.ssl.keystore.password"]
    # A config read back (password hidden) says so, for the caller to reuse the instance.
    again = parse("c", m.config)
    assert again.source.password_hidden


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"connector.class": "FileStreamSource"}, "connector.class"),
        ({"connector.class": "org.apache.kafka.connect.mirror.MirrorHeartbeatConnector"}, "connector.class"),
        ({"replication.policy.class": "com.acme.Policy"}, "replication.policy.class"),
        ({"tasks.max": "65"}, "tasks.max"),
        ({"tasks.max": "1.5"}, "tasks.max"),
        ({"sync.topic.configs.enabled": "yes"}, "sync.topic.configs.enabled"),
        ({"topics": "(a"}, "topics"),
        ({"topics": ","}, "topics"),
        ({"topics.exclude": "*"}, "topics.exclude"),
        ({"source.cluster.bootstrap.servers": "host"}, "source.cluster.bootstrap.servers"),
        ({"source.cluster.alias": "a/b"}, "source.cluster.alias"),
        ({"target.cluster.alias": " "}, "target.cluster.alias"),
        ({"replication.policy.separator": "::"}, "replication.policy.separator"),
        ({"source.cluster.security.protocol": "KERBEROS"}, "source.cluster.security.protocol"),
        ({"source.cluster.security.protocol": "SASL_PLAINTEXT", "source.cluster.sasl.mechanism": "PLAIN"},
         "source.cluster.sasl.jaas.config"),
        ({"source.cluster.security.protocol": "SASL_PLAINTEXT", "source.cluster.sasl.mechanism": "OAUTHBEARER"},
         "source.cluster.sasl.mechanism"),
        ({"target.cluster.security.protocol": "SSL", "target.cluster.ssl.truststore.certificates": "---"},
         "target.cluster.ssl.truststore.type"),
        ({"source.consumer.auto.offset.reset": "none"}, "source.consumer.auto.offset.reset"),
        ({"name": "other"}, "name"),
        ({"tasks.max": None}, "tasks.max"),
        ({"topics": {"a": 1}}, "topics"),
    ],
)
def test_bad_values_name_the_key(change: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse("c", base(**change))
    assert err.value.key == key, err.value
    assert str(err.value).startswith(f"{key}: ")


@pytest.mark.parametrize("name", ["", " padded", "a/b", "x" * 129, "tab\there"])
def test_bad_connector_names(name: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse(name, base())
    assert err.value.key == "name"


def test_reconfigure_keeps_what_mm2_keys_cannot_say() -> None:
    current = TaskSpec.model_validate({
        "name": "c",
        "source": {"instance_id": "ins-a", "topics": ["x"], "start": {"type": "timestamp", "timestamp_ms": 5}},
        "target": {"instance_id": "ins-b", "keep_partition": False},
        "options": {"task_max": 2, "qps_limit": 500},
    })
    spec = parse("c", base(topics="y")).task_spec("ins-a", "ins-b", current)
    assert spec.source.start == current.source.start
    assert spec.target.keep_partition is False
    assert spec.source.topics == ["y"]
    assert spec.options.qps_limit == 500 and spec.options.task_max == 1  # tasks.max: MM2 default


def _instance(name: str, servers: str) -> InstanceView:
    now = datetime.now(UTC)
    return InstanceView(
        id=f"ins-{name}", name=name, bootstrap_servers=servers, region=None, zone=None,
        security=InstanceSecurity(protocol="SASL_SSL", sasl_mechanism="PLAIN", username="u"),
        has_secrets=True, cluster_id=f"cluster-{name}", broker_count=1, sync_quota_mb_s=None,
        external=None, created_at=now, updated_at=now,
    )


def test_config_of_a_native_task_round_trips() -> None:
    spec = TaskSpec.model_validate({
        "name": "native",
        "source": {"instance_id": "ins-gz", "topics": ["a", "b"], "topic_regex": "m-.*", "exclude_regex": "m-x"},
        "target": {"instance_id": "ins-sh", "topic_prefix": "gz", "separator": "_"},
        "options": {"task_max": 3, "sync_topic_configs": False},
    })
    config = config_of_spec("native", spec, _instance("gz", "h1:9092"), _instance("sh", "h2:9092"))
    assert config["connector.class"] == SOURCE_CONNECTOR
    assert config["topics"] == "a,b,m-.*" and config["topics.exclude"] == "m-x"
    assert config["source.cluster.alias"] == "gz" and config["target.cluster.alias"] == "sh"
    assert config["replication.policy.class"] == DEFAULT_POLICY
    assert config["source.cluster.security.protocol"] == "SASL_SSL"
    assert config["source.cluster.sasl.jaas.config"] == (
        'org.apache.kafka.common.security.plain.PlainLoginModule required '
        f'username="u" password="{HIDDEN}";'
    )
    assert "secret" not in str(config)
    m = parse("native", config)
    back = m.task_spec("ins-gz", "ins-sh")
    assert back.source.topics == ["a", "b"] and back.source.topic_regex == "m-.*"
    assert (back.target.topic_prefix, back.target.separator) == ("gz", "_")
    assert back.options.task_max == 3 and back.options.sync_topic_configs is False
    assert m.ignored == []
    assert m.source.password_hidden and m.target.password_hidden  # reuse the instances


# ---- producer and consumer overrides -> the task's client tuning --------------------------


def test_connect_overrides_become_the_client_tuning() -> None:
    m = parse("c", base(**{
        "producer.override.compression.type": "ZSTD",
        "producer.override.linger.ms": "100",
        "producer.override.batch.size": 524288,
        "consumer.override.fetch.max.bytes": "104857600",
    }))
    spec = m.task_spec("ins-a", "ins-b")
    assert spec.options.tuning.model_dump() == {
        "compression": "zstd", "linger_ms": 100, "batch_bytes": 524_288, "fetch_max_bytes": 104_857_600
    }
    assert m.ignored == []


@pytest.mark.parametrize(
    ("key", "field", "value"),
    [
        ("compression.type", "compression", "lz4"),
        ("source.consumer.fetch.max.bytes", "fetch_max_bytes", 2_097_152),
        ("consumer.fetch.max.bytes", "fetch_max_bytes", 4_194_304),
    ],
)
def test_the_other_spellings_of_a_setting(key: str, field: str, value: Any) -> None:
    m = parse("c", base(**{key: str(value)}))
    assert getattr(m.task_spec("ins-a", "ins-b").options, field) == value
    assert key not in m.ignored


def test_without_overrides_the_tuning_is_the_default_even_when_reconfiguring() -> None:
    """A connector config says all there is about its clients: a key taken out of it goes
    back to ksync's default (as Connect's producer would)."""
    current = parse("c", base(**{"compression.type": "gzip"})).task_spec("ins-a", "ins-b")
    assert current.options.compression == "gzip"
    again = parse("c", base()).task_spec("ins-a", "ins-b", current)
    assert again.options.tuning == TaskSpec.model_validate(
        {"name": "c", "source": {"instance_id": "a", "topics": ["x"]}, "target": {"instance_id": "b"}}
    ).options.tuning


@pytest.mark.parametrize(
    ("change", "key", "words"),
    [
        ({"producer.override.compression.type": "brotli"}, "producer.override.compression.type",
         "'none', 'lz4', 'zstd', 'snappy' or 'gzip'"),
        ({"compression.type": "producer"}, "compression.type", "'none', 'lz4'"),
        ({"producer.override.linger.ms": "soon"}, "producer.override.linger.ms", "not an integer"),
        ({"producer.override.linger.ms": "60000"}, "producer.override.linger.ms", "10000"),
        ({"producer.override.batch.size": "16384000000"}, "producer.override.batch.size", "16777216"),
        ({"source.consumer.fetch.max.bytes": "1000"}, "source.consumer.fetch.max.bytes", "1048576"),
        ({"producer.override.compression.type": "lz4", "compression.type": "gzip"}, "compression.type",
         "contradicts producer.override.compression.type=lz4"),
    ],
)
def test_bad_overrides_name_the_key_given(change: dict[str, Any], key: str, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse("c", base(**change))
    assert err.value.key == key, err.value
    assert words in str(err.value), err.value


def test_a_native_tasks_tuning_is_shown_as_overrides_and_round_trips() -> None:
    spec = TaskSpec.model_validate({
        "name": "far",
        "source": {"instance_id": "ins-gz", "topics": ["a"]},
        "target": {"instance_id": "ins-sh"},
        "options": {"compression": "snappy", "fetch_max_bytes": 8_388_608},
    })
    config = config_of_spec("far", spec, _instance("gz", "h1:9092"), _instance("sh", "h2:9092"))
    # Only what differs from the default is shown.
    assert {k: v for k, v in config.items() if "override" in k} == {
        "producer.override.compression.type": "snappy",
        "consumer.override.fetch.max.bytes": "8388608",
    }
    back = parse("far", config).task_spec("ins-gz", "ins-sh")
    assert back.options.tuning == spec.options.tuning


# ---- ksync.topic.map ---------------------------------------------------------------------


def test_topic_map_key_names_target_topics_and_round_trips() -> None:
    config = base(topics="orders,payments,audit", **{"ksync.topic.map": " orders:orders-bak , payments:pay-bak"})
    m = parse("c", config)
    spec = m.task_spec("ins-a", "ins-b")
    assert spec.target.topic_map == {"orders": "orders-bak", "payments": "pay-bak"}
    assert spec.target.topic_prefix == "east"  # audit keeps the policy's name, east.audit
    assert "ksync.topic.map" not in m.ignored
    shown = config_of_spec("c", spec, None, None)
    assert shown["ksync.topic.map"] == "orders:orders-bak,payments:pay-bak"
    again = parse("c", {**base(topics="orders,payments,audit"), "ksync.topic.map": shown["ksync.topic.map"]})
    assert again.task_spec("ins-a", "ins-b").target.topic_map == spec.target.topic_map
    assert "ksync.topic.map" not in config_of_spec("c", parse("c", base()).task_spec("ins-a", "ins-b"), None, None)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("orders", "'orders' is not source:target; give comma-separated pairs"),
        ("orders:", "'orders:' is not source:target"),
        ("a:b:c", "'a:b:c' is not source:target"),
        ("a:b,a:c", "source topic a is given two targets (b, c)"),
        ("orders:orders bak", "'orders bak' is not a valid topic name"),
    ],
)
def test_a_bad_topic_map_names_the_key(value: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse("c", base(**{"ksync.topic.map": value})).task_spec("ins-a", "ins-b")
    assert info.value.key == "ksync.topic.map"
    assert message in info.value.message


def test_connects_error_tolerance_and_dead_letter_topic_become_options_errors() -> None:
    m = parse("c", base(**{"errors.tolerance": "ALL", "errors.deadletterqueue.topic.name": "dlq-c"}))
    errors = m.task_spec("ins-a", "ins-b").options.errors
    assert (errors.tolerance, errors.dead_letter_topic, errors.dead_letter_instance) == (
        "all",
        "dlq-c",
        "target",
    )
    assert m.ignored == []
    # Connect ignores a dead-letter topic under tolerance none; so does ksync.
    quiet = parse("c", base(**{"errors.deadletterqueue.topic.name": "dlq-c"}))
    assert quiet.task_spec("ins-a", "ins-b").options.errors.tolerance == "none"
    assert quiet.task_spec("ins-a", "ins-b").options.errors.dead_letter_topic is None
    # Taken out of the config, it goes back to Connect's default, none.
    current = m.task_spec("ins-a", "ins-b")
    assert parse("c", base()).task_spec("ins-a", "ins-b", current).options.errors.tolerance == "none"


@pytest.mark.parametrize(
    ("change", "key", "words"),
    [
        ({"errors.tolerance": "some"}, "errors.tolerance", "use none or all"),
        (
            {"errors.tolerance": "all", "errors.deadletterqueue.topic.name": "d l q"},
            "errors.deadletterqueue.topic.name",
            "not a valid topic name",
        ),
    ],
)
def test_bad_error_settings_name_the_key(change: dict[str, Any], key: str, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse("c", base(**change))
    assert err.value.key == key, err.value
    assert words in str(err.value), err.value


def test_a_native_tasks_error_tolerance_is_shown_in_connects_keys_and_round_trips() -> None:
    spec = TaskSpec.model_validate({
        "name": "dl",
        "source": {"instance_id": "ins-gz", "topics": ["a"]},
        "target": {"instance_id": "ins-sh"},
        "options": {"errors": {"tolerance": "all", "dead_letter_topic": "dlq-a"}},
    })
    config = config_of_spec("dl", spec, _instance("gz", "h1:9092"), _instance("sh", "h2:9092"))
    assert config["errors.tolerance"] == "all"
    assert config["errors.deadletterqueue.topic.name"] == "dlq-a"
    back = parse("dl", config).task_spec("ins-gz", "ins-sh")
    assert back.options.errors == spec.options.errors


# ---- MirrorCheckpointConnector and ACL sync -------------------------------------------------

CHECKPOINT = "org.apache.kafka.connect.mirror.MirrorCheckpointConnector"


def test_a_checkpoint_connector_is_a_task_copying_no_records_with_offset_sync() -> None:
    m = parse("cp", base(**{
        "connector.class": "MirrorCheckpointConnector",
        "topics": "orders",
        "groups": "billing,app-.*",
        "groups.exclude": "app-test-.*",
        "sync.group.offsets.enabled": "true",
        "sync.group.offsets.interval.seconds": "20",
        "emit.checkpoints.interval.seconds": "30",
    }))
    spec = m.task_spec("ins-a", "ins-b")
    assert m.connector_class == CHECKPOINT and m.ignored == []
    assert spec.options.mode == "metadata" and not spec.options.copies_records
    offsets = spec.options.sync_group_offsets
    assert offsets.enabled and offsets.groups == ["billing"] and offsets.groups_regex == "app-.*"
    assert offsets.groups_exclude_regex == "app-test-.*"
    # No checkpoint topic in ksync: offsets are synced at the pace MM2 could write them.
    assert offsets.interval_s == 30
    # MM2's checkpoint connector syncs no topic config: left to the source connector.
    assert spec.options.sync_topic_configs is False
    assert spec.source.topics == ["orders"] and spec.target.topic_prefix == "east"


def test_mm2s_group_defaults_and_acl_sync_off_unless_set() -> None:
    spec = parse("cp", base(**{"connector.class": CHECKPOINT})).task_spec("ins-a", "ins-b")
    offsets = spec.options.sync_group_offsets
    assert offsets.enabled is False  # MM2's default: checkpoints only, groups untouched
    assert (offsets.groups, offsets.groups_regex) == ([], ".*")
    assert offsets.groups_exclude_regex == "(?:console-consumer-.*)|(?:connect-.*)|(?:__.*)"
    assert offsets.interval_s == 60
    assert spec.options.sync_topic_acls is False
    source = parse("s", base(**{"sync.topic.acls.enabled": "true"})).task_spec("ins-a", "ins-b")
    assert source.options.sync_topic_acls is True and source.options.mode == "data"
    assert source.options.sync_topic_configs is True


def test_a_source_connector_may_sync_offsets_too() -> None:
    spec = parse("s", base(**{"sync.group.offsets.enabled": "true", "groups": "billing"})).task_spec("a", "b")
    assert spec.options.mode == "data" and spec.options.sync_group_offsets.enabled
    assert spec.options.sync_group_offsets.groups == ["billing"]


def test_a_metadata_task_with_offsets_and_acls_is_shown_as_a_checkpoint_connector_and_round_trips() -> None:
    spec = TaskSpec.model_validate({
        "name": "native",
        "source": {"instance_id": "ins-gz", "topics": ["a"]},
        "target": {"instance_id": "ins-sh", "topic_prefix": "gz"},
        "options": {
            "mode": "metadata", "sync_topic_acls": True,
            "sync_group_offsets": {"enabled": True, "groups": ["g1"], "groups_regex": "app-.*", "interval_s": 15},
        },
    })
    config = config_of_spec("native", spec, _instance("gz", "h1:9092"), _instance("sh", "h2:9092"))
    assert config["connector.class"] == CHECKPOINT
    assert config["sync.topic.acls.enabled"] == "true" and config["sync.group.offsets.enabled"] == "true"
    assert config["groups"] == "g1,app-.*" and config["sync.group.offsets.interval.seconds"] == "15"
    back = parse("native", config).task_spec("ins-gz", "ins-sh")
    assert back.options.mode == "metadata" and back.options.sync_topic_acls
    assert back.options.sync_group_offsets == spec.options.sync_group_offsets
@pytest.mark.parametrize(
    ("keys", "delivery"),
    [
        ({}, "at_least_once"),
        ({"exactly.once.support": "requested"}, "at_least_once"),
        ({"exactly.once.source.support": "disabled"}, "at_least_once"),
        ({"exactly.once.source.support": "enabled"}, "exactly_once"),
        ({"exactly.once.support": "required"}, "exactly_once"),
        ({"exactly.once.support": "required", "exactly.once.source.support": "enabled"}, "exactly_once"),
    ],
)
def test_exactly_once_keys_map_to_the_delivery_guarantee(keys: dict[str, str], delivery: str) -> None:
    parsed = parse("c", base(**keys))
    assert parsed.delivery == delivery
    spec = parsed.task_spec("ins-a", "ins-b")
    assert spec.options.delivery == delivery
    shown = config_of_spec("c", spec, None, None)
    assert (shown.get("exactly.once.source.support") == "enabled") == (delivery == "exactly_once")
    assert "exactly.once.support" not in parsed.ignored


@pytest.mark.parametrize(
    ("keys", "key", "words"),
    [
        ({"exactly.once.support": "maybe"}, "exactly.once.support", "String must be one of: requested, required"),
        ({"exactly.once.source.support": "on"}, "exactly.once.source.support", "must be one of: disabled, preparing, enabled"),
        ({"exactly.once.source.support": "preparing"}, "exactly.once.source.support", "rolling upgrade"),
        (
            {"exactly.once.support": "required", "exactly.once.source.support": "disabled"},
            "exactly.once.support",
            "requires exactly-once support",
        ),
    ],
)
def test_exactly_once_values_ksync_cannot_honour_are_refused_in_connect_words(
    keys: dict[str, str], key: str, words: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        parse("c", base(**keys))
    assert refused.value.key == key and words in refused.value.message
