"""TopicMirror against two real brokers: creating target topics with the source's attributes.

The test broker answers DescribeConfigs with only the keys that were set, each marked
DEFAULT_CONFIG (DESIGN.md "Test brokers"); `InstanceAdmin.topic_configs` reads such a
sparse answer as the explicitly set configs. The broker does not support CreatePartitions,
so every attempt to grow a target topic fails here.
"""

from __future__ import annotations

import pytest
from confluent_kafka.admin import ConfigEntry, ConfigSource
from helpers import admin, create_topic

from ksync.devkafka import KafkaCluster
from ksync.kafka.admin import NewTopicPlan, _explicit_configs
from ksync.kafka.errors import PersistentKafkaError
from ksync.replication.policy import ReplicationPolicy
from ksync.replication.topic_filter import TopicFilter
from ksync.replication.topic_mirror import TopicMirror, mirrored_configs
from ksync.spec import SourceSpec

COPIED = {
    "retention.ms": "3600000",
    "cleanup.policy": "compact",
    "max.message.bytes": "2000000",
    "compression.type": "zstd",
}
EXCLUDED = {
    "min.insync.replicas": "2",
    "unclean.leader.election.enable": "true",
    "message.timestamp.type": "LogAppendTime",
    "message.timestamp.difference.max.ms": "60000",
    "leader.replication.throttled.replicas": "*",
    "follower.replication.throttled.replicas": "*",
}


def mirror(
    brokers: tuple[KafkaCluster, KafkaCluster],
    *,
    topics: list[str] | None = None,
    regex: str | None = None,
    prefix: str = "bk",
    keep_partition: bool = True,
    sync_configs: bool = True,
) -> TopicMirror:
    src, dst = brokers
    spec = SourceSpec(instance_id="ins-src", topics=topics or [], topic_regex=regex)
    return TopicMirror(
        source=admin(src),
        target=admin(dst),
        policy=ReplicationPolicy(prefix=prefix),
        topic_filter=TopicFilter.from_spec(spec),
        keep_partition=keep_partition,
        sync_configs=sync_configs,
        target_broker_count=admin(dst).cluster_info().broker_count,
    )


def test_mirrored_configs_drops_exactly_the_exclusion_list() -> None:
    assert mirrored_configs({**COPIED, **EXCLUDED}) == COPIED


def test_missing_target_topics_get_partitions_rf_and_set_configs_minus_exclusions(
    brokers: tuple[KafkaCluster, KafkaCluster],
) -> None:
    src, dst = brokers
    create_topic(src, "tm-cfg", 3, {**COPIED, **EXCLUDED})
    # The test broker accepts any replication factor on its single node: RF 3 must become
    # min(3, target brokers = 1).
    admin(src).create_topics([NewTopicPlan("tm-rf3", 2, 3)])
    create_topic(src, "tm-unselected", 1)

    result = mirror(brokers, regex="tm-(cfg|rf3)").reconcile()

    assert sorted(result.created) == ["bk.tm-cfg", "bk.tm-rf3"]
    assert result.warnings == []
    assert [m.as_json() for m in result.mappings] == [
        {"source": "tm-cfg", "target": "bk.tm-cfg", "partitions": 3},
        {"source": "tm-rf3", "target": "bk.tm-rf3", "partitions": 2},
    ]
    target = admin(dst).list_topics()
    assert (target["bk.tm-cfg"].partitions, target["bk.tm-cfg"].replication_factor) == (3, 1)
    assert (target["bk.tm-rf3"].partitions, target["bk.tm-rf3"].replication_factor) == (2, 1)
    assert "bk.tm-unselected" not in target
    assert admin(dst).topic_configs(["bk.tm-cfg"]) == {"bk.tm-cfg": COPIED}
    assert admin(dst).topic_configs(["bk.tm-rf3"]) == {"bk.tm-rf3": {}}

    again = mirror(brokers, regex="tm-(cfg|rf3)").reconcile()
    assert again.created == []
    assert again.warnings == []


def test_internal_topics_are_never_mirrored_even_when_listed(
    brokers: tuple[KafkaCluster, KafkaCluster],
) -> None:
    src, dst = brokers
    create_topic(src, "__tm-internal", 1)  # the test broker accepts any name
    create_topic(src, "tm-listed", 1)

    result = mirror(brokers, topics=["__tm-internal", "tm-listed"], prefix="").reconcile()

    assert result.created == ["tm-listed"]
    assert "__tm-internal" not in admin(dst).list_topics(include_internal=True)


def test_configs_are_not_copied_when_config_sync_is_off(
    brokers: tuple[KafkaCluster, KafkaCluster],
) -> None:
    src, dst = brokers
    create_topic(src, "tm-nosync", 2, COPIED)

    result = mirror(brokers, topics=["tm-nosync"], sync_configs=False).reconcile()

    assert result.created == ["bk.tm-nosync"]
    assert admin(dst).topic_configs(["bk.tm-nosync"]) == {"bk.tm-nosync": {}}


def test_a_target_with_fewer_partitions_fails_under_keep_partition(
    brokers: tuple[KafkaCluster, KafkaCluster],
) -> None:
    src, dst = brokers
    create_topic(src, "tm-few", 3)
    create_topic(dst, "bk.tm-few", 1)

    with pytest.raises(PersistentKafkaError) as info:
        mirror(brokers, topics=["tm-few"]).reconcile()

    message = str(info.value)
    assert "target topic bk.tm-few has 1 partitions but source topic tm-few has 3" in message
    # The grow attempt was made and its failure (no CreatePartitions here) is in the words.
    assert "adding partitions failed" in message
    assert "keep_partition" in message
    assert admin(dst).list_topics()["bk.tm-few"].partitions == 1


def test_a_target_with_fewer_partitions_is_a_warning_without_keep_partition(
    brokers: tuple[KafkaCluster, KafkaCluster],
) -> None:
    src, dst = brokers
    create_topic(src, "tm-few-ok", 3)
    create_topic(dst, "bk.tm-few-ok", 1)
    create_topic(src, "tm-few-new", 2)

    result = mirror(brokers, topics=["tm-few-ok", "tm-few-new"], keep_partition=False).reconcile()

    assert len(result.warnings) == 1
    assert (
        "target topic bk.tm-few-ok has 1 partitions but source topic tm-few-ok has 3"
        in (result.warnings[0])
    )
    assert result.created == ["bk.tm-few-new"]  # the other topic is not held up


def test_config_changes_on_the_source_are_propagated_except_excluded_ones(
    brokers: tuple[KafkaCluster, KafkaCluster],
) -> None:
    src, dst = brokers
    create_topic(src, "tm-alter", 1, {"retention.ms": "1000", "min.insync.replicas": "1"})
    m = mirror(brokers, topics=["tm-alter"])
    assert m.reconcile().created == ["bk.tm-alter"]
    assert admin(dst).topic_configs(["bk.tm-alter"]) == {"bk.tm-alter": {"retention.ms": "1000"}}

    admin(src).alter_topic_configs(
        "tm-alter", {"retention.ms": "2000", "segment.ms": "600000", "min.insync.replicas": "2"}
    )
    result = m.reconcile()

    assert result.created == []
    assert admin(dst).topic_configs(["bk.tm-alter"]) == {
        "bk.tm-alter": {"retention.ms": "2000", "segment.ms": "600000"}
    }


def test_a_set_segment_index_bytes_is_copied_with_the_other_configs(
    brokers: tuple[KafkaCluster, KafkaCluster],
) -> None:
    """`segment.index.bytes` is the key that tells Kafka's full DescribeConfigs answer from
    a sparse one; setting it on a sparse-answering broker must not hide the other keys."""
    src, dst = brokers
    configs = {"segment.index.bytes": "4096", "retention.ms": "5000"}
    create_topic(src, "tm-sib", 1, configs)

    assert admin(src).topic_configs(["tm-sib"]) == {"tm-sib": configs}
    assert mirror(brokers, topics=["tm-sib"]).reconcile().created == ["bk.tm-sib"]
    assert admin(dst).topic_configs(["bk.tm-sib"]) == {"bk.tm-sib": configs}


def _entry(
    name: str, value: str | None, source: ConfigSource, sensitive: bool = False
) -> ConfigEntry:
    # As DescribeConfigs results carry it: the source as its int value.
    return ConfigEntry(name, value, source=source.value, is_sensitive=sensitive)  # type: ignore[arg-type]


def test_a_full_kafka_answer_yields_only_the_topic_overrides() -> None:
    """Real Kafka lists every topic key, defaults included: only DYNAMIC_TOPIC_CONFIG ones
    were set on the topic (no broker here can produce such an answer, so it is built)."""
    d, b, t = (
        ConfigSource.DEFAULT_CONFIG,
        ConfigSource.STATIC_BROKER_CONFIG,
        ConfigSource.DYNAMIC_TOPIC_CONFIG,
    )
    entries = [
        _entry("segment.index.bytes", "10485760", d),
        _entry("segment.jitter.ms", "0", d),
        _entry("index.interval.bytes", "4096", d),
        _entry("file.delete.delay.ms", "60000", d),
        _entry("compression.type", "producer", b),
        _entry("retention.ms", "1000", t),
        _entry("cleanup.policy", "compact", t),
        _entry("some.secret", None, t, sensitive=True),
    ]
    assert _explicit_configs({e.name: e for e in entries}) == {
        "retention.ms": "1000",
        "cleanup.policy": "compact",
    }
    # The same topic with no overrides: nothing is explicitly set.
    defaults_only = [e for e in entries if e.source != t.value]
    assert _explicit_configs({e.name: e for e in defaults_only}) == {}
