"""TopicMirror against two real brokers: creating target topics with the source's attributes.

Kafka's DescribeConfigs lists every topic key, defaults included; the configs a user set
are the DYNAMIC_TOPIC_CONFIG ones, which is what `InstanceAdmin.topic_configs` returns and
what these tests compare. Replication factors above 1 need clusters of several brokers:
they are tested where the test clusters have them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from confluent_kafka.admin import (
    AclOperation,
    ConfigEntry,
    ConfigSource,
    ResourcePatternType,
    ResourceType,
)
from helpers import admin, create_topic, wait_until
from scram_users import scram_user

from ksync.devkafka import KafkaCluster
from ksync.domain.topics import TopicMapping
from ksync.kafka.admin import InstanceAdmin, _explicit_configs
from ksync.kafka.errors import PersistentKafkaError
from ksync.replication.policy import ReplicationPolicy
from ksync.replication.topic_filter import TopicFilter
from ksync.replication.topic_mirror import TopicMirror, mirrored_configs
from ksync.spec import SourceSpec

from .support import as_connection, grant

COPIED = {
    "retention.ms": "3600000",
    "cleanup.policy": "compact",
    "max.message.bytes": "2000000",
    "compression.type": "zstd",
}
EXCLUDED = {
    "min.insync.replicas": "1",
    "unclean.leader.election.enable": "true",
    "message.timestamp.type": "LogAppendTime",
    "message.timestamp.before.max.ms": "60000",
    "message.timestamp.after.max.ms": "60000",
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
    target: InstanceAdmin | None = None,
    topic_map: dict[str, str] | None = None,
    known: tuple[TopicMapping, ...] = (),
) -> TopicMirror:
    src, dst = brokers
    spec = SourceSpec(instance_id="ins-src", topics=topics or [], topic_regex=regex)
    return TopicMirror(
        source=admin(src),
        target=target or admin(dst),
        policy=ReplicationPolicy(prefix=prefix, topic_map=topic_map or {}),
        topic_filter=TopicFilter.from_spec(spec),
        keep_partition=keep_partition,
        sync_configs=sync_configs,
        target_broker_count=admin(dst).cluster_info().broker_count,
        known=known,
    )


def test_mirrored_configs_drops_exactly_the_exclusion_list() -> None:
    assert mirrored_configs({**COPIED, **EXCLUDED}) == COPIED


def test_missing_target_topics_get_partitions_rf_and_set_configs_minus_exclusions(
    brokers: tuple[KafkaCluster, KafkaCluster], unique: str
) -> None:
    src, dst = brokers
    cfg, plain = f"tm-cfg-{unique}", f"tm-plain-{unique}"
    create_topic(src, cfg, 3, {**COPIED, **EXCLUDED})
    create_topic(src, plain, 2)
    create_topic(src, f"tm-unselected-{unique}", 1)

    result = mirror(brokers, regex=f"tm-(cfg|plain)-{unique}").reconcile()

    assert sorted(result.created) == [f"bk.{cfg}", f"bk.{plain}"]
    assert result.warnings == []
    # Each with its source topic's id, by which a topic created again is told apart.
    assert all(m.topic_id for m in result.mappings)
    assert [{**m.as_json(), "topic_id": None} for m in result.mappings] == [
        {"source": cfg, "target": f"bk.{cfg}", "partitions": 3, "state": "syncing", "error": None, "topic_id": None},
        {"source": plain, "target": f"bk.{plain}", "partitions": 2, "state": "syncing", "error": None, "topic_id": None},
    ]
    target = admin(dst).list_topics()
    assert (target[f"bk.{cfg}"].partitions, target[f"bk.{cfg}"].replication_factor) == (3, 1)
    assert (target[f"bk.{plain}"].partitions, target[f"bk.{plain}"].replication_factor) == (2, 1)
    assert f"bk.tm-unselected-{unique}" not in target
    assert admin(dst).topic_configs([f"bk.{cfg}"]) == {f"bk.{cfg}": COPIED}
    assert admin(dst).topic_configs([f"bk.{plain}"]) == {f"bk.{plain}": {}}

    again = mirror(brokers, regex=f"tm-(cfg|plain)-{unique}").reconcile()
    assert again.created == []
    assert again.warnings == []


def test_internal_topics_are_never_mirrored_even_when_listed(
    brokers: tuple[KafkaCluster, KafkaCluster], unique: str
) -> None:
    src, dst = brokers
    internal, listed = f"__tm-internal-{unique}", f"tm-listed-{unique}"
    create_topic(src, internal, 1)  # Kafka allows the name; only ksync's rule keeps it out
    create_topic(src, listed, 1)

    result = mirror(brokers, topics=[internal, listed], prefix="").reconcile()

    assert result.created == [listed]
    assert internal not in admin(dst).list_topics(include_internal=True)


def test_configs_are_not_copied_when_config_sync_is_off(
    brokers: tuple[KafkaCluster, KafkaCluster], unique: str
) -> None:
    src, dst = brokers
    topic = f"tm-nosync-{unique}"
    create_topic(src, topic, 2, COPIED)

    result = mirror(brokers, topics=[topic], sync_configs=False).reconcile()

    assert result.created == [f"bk.{topic}"]
    assert admin(dst).topic_configs([f"bk.{topic}"]) == {f"bk.{topic}": {}}


# ---- a target topic with fewer partitions than its source ------------------------------------


@pytest.mark.parametrize("keep_partition", [True, False])
def test_a_target_with_fewer_partitions_is_grown_to_the_source_count(
    brokers: tuple[KafkaCluster, KafkaCluster], unique: str, keep_partition: bool
) -> None:
    src, dst = brokers
    topic = f"tm-grow-{unique}"
    create_topic(src, topic, 3)
    create_topic(dst, f"bk.{topic}", 1)

    result = mirror(brokers, topics=[topic], keep_partition=keep_partition).reconcile()

    assert result.warnings == [] and result.created == []
    assert result.mappings[0].partitions == 3
    assert admin(dst).list_topics()[f"bk.{topic}"].partitions == 3


@pytest.fixture
def target_without_alter(
    brokers: tuple[KafkaCluster, KafkaCluster], unique: str
) -> Iterator[InstanceAdmin]:
    """The target as a user with every right on this test's `bk.<unique>-` topics but
    Alter, which adding partitions needs: Kafka refuses the growth."""
    dst = brokers[1]
    with scram_user([dst], "mirror") as user:
        rights = [
            AclOperation.DESCRIBE,
            AclOperation.DESCRIBE_CONFIGS,
            AclOperation.ALTER_CONFIGS,
            AclOperation.CREATE,
            AclOperation.READ,
            AclOperation.WRITE,
        ]
        grant(
            dst,
            user.name,
            ResourceType.TOPIC,
            f"bk.{unique}-",
            rights,
            ResourcePatternType.PREFIXED,
        )
        yield InstanceAdmin(as_connection(user, dst))


def _visible(target: InstanceAdmin, topic: str) -> None:
    """Wait until the user's ACLs let it see `topic` (they apply a moment after the grant)."""
    wait_until(lambda: topic in target.list_topics(), timeout_s=30, what=f"{topic} for the user")


def test_a_target_that_cannot_grow_fails_under_keep_partition(
    brokers: tuple[KafkaCluster, KafkaCluster], unique: str, target_without_alter: InstanceAdmin
) -> None:
    src, dst = brokers
    topic = f"{unique}-few"
    create_topic(src, topic, 3)
    create_topic(dst, f"bk.{topic}", 1)
    target = target_without_alter
    _visible(target, f"bk.{topic}")

    with pytest.raises(PersistentKafkaError) as info:
        mirror(brokers, topics=[topic], target=target).reconcile()

    message = str(info.value)
    assert f"target topic bk.{topic} has 1 partitions but source topic {topic} has 3" in message
    # The grow attempt was made, and Kafka's reason for refusing it is in the words.
    assert "adding partitions failed" in message
    assert "Topic authorization failed" in message, message
    assert "keep_partition" in message
    assert admin(dst).list_topics()[f"bk.{topic}"].partitions == 1


def _too_small_target(
    brokers: tuple[KafkaCluster, KafkaCluster], unique: str, target: InstanceAdmin
) -> tuple[str, str]:
    """A source topic of 3 partitions whose target copy has 1 and may not grow, and a new
    source topic of 2: (few, new)."""
    src, dst = brokers
    few, new = f"{unique}-few", f"{unique}-new"
    create_topic(src, few, 3)
    create_topic(dst, f"bk.{few}", 1)
    create_topic(src, new, 2)
    _visible(target, f"bk.{few}")
    return few, new


def test_a_target_that_cannot_grow_blocks_only_its_topic_under_keep_partition(
    brokers: tuple[KafkaCluster, KafkaCluster], unique: str, target_without_alter: InstanceAdmin
) -> None:
    few, new = _too_small_target(brokers, unique, target_without_alter)
    target = target_without_alter

    result = mirror(brokers, topics=[few, new], target=target).reconcile()

    by_source = {m.source: m for m in result.mappings}
    assert by_source[new].state == "syncing" and by_source[new].error is None
    blocked = by_source[few]
    assert blocked.state == "blocked" and blocked.blocked_by == "topic"
    assert blocked.error is not None
    assert f"target topic bk.{few} has 1 partitions but source topic {few} has 3" in blocked.error
    assert "keep_partition" in blocked.error
    assert blocked.error in result.warnings  # on the task too
    assert result.created == [f"bk.{new}"]


def test_a_copied_topic_whose_source_grows_past_what_the_target_can_take_keeps_its_partitions(
    brokers: tuple[KafkaCluster, KafkaCluster], unique: str, target_without_alter: InstanceAdmin
) -> None:
    """The old configuration keeps running: a topic the task copied (1 partition into 1)
    whose source grows to 3 while the target may not add partitions goes on copying its
    partition 0, and the two new ones wait, with a warning; a topic never copied before
    in the same plight is blocked (the test above)."""
    src, dst = brokers
    topic = f"{unique}-grown"
    create_topic(src, topic, 1)
    create_topic(dst, f"bk.{topic}", 1)
    _visible(target_without_alter, f"bk.{topic}")
    admin(src).create_partitions(topic, 3)
    known = (TopicMapping(topic, f"bk.{topic}", 1, 1),)

    result = mirror(brokers, topics=[topic], target=target_without_alter, known=known).reconcile()

    (mapping,) = result.mappings
    assert (mapping.state, mapping.target, mapping.partitions) == ("syncing", f"bk.{topic}", 1)
    (warning,) = result.warnings
    assert f"target topic bk.{topic} has 1 partitions but source topic {topic} has 3" in warning
    assert "The old configuration keeps running" in warning
    assert "partitions 1 to 2 wait" in warning, warning
    assert mapping.warning == warning  # on the topic too
    assert admin(dst).list_topics()[f"bk.{topic}"].partitions == 1


def test_a_renamed_target_the_target_refuses_leaves_the_topic_flowing_into_its_old_target(
    brokers: tuple[KafkaCluster, KafkaCluster], unique: str
) -> None:
    """A target.topic_map change that cannot be applied (the target refuses the new name,
    one over Kafka's 249 characters) keeps the topic flowing into the target topic it had,
    with the refusal as a warning; a topic the map names that was never copied is blocked."""
    src, dst = brokers
    topic, fresh = f"{unique}-renamed", f"{unique}-fresh"
    create_topic(src, topic, 2)
    create_topic(src, fresh, 1)
    create_topic(dst, f"bk.{topic}", 2)
    too_long = "x" * 250
    known = (TopicMapping(topic, f"bk.{topic}", 2, 2),)

    result = mirror(
        brokers, topics=[topic, fresh], topic_map={topic: too_long, fresh: too_long + "y"},
        known=known,
    ).reconcile()

    by_source = {m.source: m for m in result.mappings}
    kept = by_source[topic]
    assert (kept.state, kept.target, kept.partitions) == ("syncing", f"bk.{topic}", 2)
    assert by_source[fresh].state == "blocked"
    (warning,) = [w for w in result.warnings if topic in w and "old configuration" in w]
    assert f"cannot create topic {too_long}" in warning
    assert f"{topic} keeps flowing into bk.{topic}" in warning, warning
    assert kept.warning == warning
    assert too_long not in admin(dst).list_topics()


def test_a_target_that_cannot_grow_is_a_warning_without_keep_partition(
    brokers: tuple[KafkaCluster, KafkaCluster], unique: str, target_without_alter: InstanceAdmin
) -> None:
    few, new = _too_small_target(brokers, unique, target_without_alter)
    target = target_without_alter

    result = mirror(brokers, topics=[few, new], keep_partition=False, target=target).reconcile()

    assert len(result.warnings) == 1
    assert (
        f"target topic bk.{few} has 1 partitions but source topic {few} has 3"
        in (result.warnings[0])
    )
    assert result.created == [f"bk.{new}"]  # the other topic is not held up
    assert admin(brokers[1]).list_topics()[f"bk.{few}"].partitions == 1


def test_a_target_name_the_target_refuses_blocks_only_its_topic(
    brokers: tuple[KafkaCluster, KafkaCluster], unique: str
) -> None:
    """A source topic of Kafka's longest name (249 characters) gets a target name over the
    limit once prefixed: the target refuses that topic, not the task's selection."""
    src, _dst = brokers
    long = f"long-{unique}-".ljust(249, "x")
    other = f"short-{unique}"
    create_topic(src, long, 1)
    create_topic(src, other, 1)

    result = mirror(brokers, topics=[long, other]).reconcile()

    by_source = {m.source: m for m in result.mappings}
    assert by_source[other].state == "syncing"
    blocked = by_source[long]
    assert blocked.state == "blocked" and blocked.blocked_by == "topic"
    assert blocked.error is not None and f"cannot create topic bk.{long}" in blocked.error
    assert result.created == [f"bk.{other}"]


# ---- configs --------------------------------------------------------------------------------


def test_config_changes_on_the_source_are_propagated_except_excluded_ones(
    brokers: tuple[KafkaCluster, KafkaCluster], unique: str
) -> None:
    src, dst = brokers
    topic = f"tm-alter-{unique}"
    create_topic(src, topic, 1, {"retention.ms": "1000", "min.insync.replicas": "1"})
    m = mirror(brokers, topics=[topic])
    assert m.reconcile().created == [f"bk.{topic}"]
    assert admin(dst).topic_configs([f"bk.{topic}"]) == {f"bk.{topic}": {"retention.ms": "1000"}}

    admin(src).alter_topic_configs(
        topic, {"retention.ms": "2000", "segment.ms": "600000", "min.insync.replicas": "2"}
    )
    result = m.reconcile()

    assert result.created == []
    assert admin(dst).topic_configs([f"bk.{topic}"]) == {
        f"bk.{topic}": {"retention.ms": "2000", "segment.ms": "600000"}
    }


def test_a_set_segment_index_bytes_is_copied_with_the_other_configs(
    brokers: tuple[KafkaCluster, KafkaCluster], unique: str
) -> None:
    """`segment.index.bytes` is one of the keys that tell Kafka's full DescribeConfigs
    answer from the sparse one of brokers that list only what was set (tansu, in the
    demo): a user setting it must still read as set, beside the other keys."""
    src, dst = brokers
    topic = f"tm-sib-{unique}"
    configs = {"segment.index.bytes": "4096", "retention.ms": "5000"}
    create_topic(src, topic, 1, configs)

    assert admin(src).topic_configs([topic]) == {topic: configs}
    assert mirror(brokers, topics=[topic]).reconcile().created == [f"bk.{topic}"]
    assert admin(dst).topic_configs([f"bk.{topic}"]) == {f"bk.{topic}": configs}


def _entry(
    name: str, value: str | None, source: ConfigSource, sensitive: bool = False
) -> ConfigEntry:
    # As DescribeConfigs results carry it: the source as its int value.
    return ConfigEntry(name, value, source=source.value, is_sensitive=sensitive)  # type: ignore[arg-type]


def test_a_full_kafka_answer_yields_only_the_topic_overrides() -> None:
    """Kafka lists every topic key, defaults included: only DYNAMIC_TOPIC_CONFIG ones were
    set on the topic. Built by hand so that a defaults-only answer and a sensitive key are
    both in it (the broker tests above read real answers)."""
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


def test_a_sparse_answer_lists_what_was_set() -> None:
    """Brokers that answer with only the keys that were set, each marked DEFAULT_CONFIG
    (tansu, which `ksync demo` runs), have those keys read as set."""
    d = ConfigSource.DEFAULT_CONFIG
    entries = [_entry("retention.ms", "1000", d), _entry("cleanup.policy", "compact", d)]
    assert _explicit_configs({e.name: e for e in entries}) == {
        "retention.ms": "1000",
        "cleanup.policy": "compact",
    }
