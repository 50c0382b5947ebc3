"""Config propagation as a diff: what to set and what to remove on a target topic so that
its explicitly set configs match the source's, never touching excluded keys. No broker."""

from __future__ import annotations

from ksync.replication.topic_mirror import ConfigChanges, config_changes


def test_changed_and_added_keys_are_set() -> None:
    changes = config_changes(
        {"retention.ms": "2000", "segment.ms": "60000", "cleanup.policy": "compact"},
        {"retention.ms": "1000", "cleanup.policy": "compact"},
    )
    assert changes == ConfigChanges(set={"retention.ms": "2000", "segment.ms": "60000"})


def test_keys_removed_on_the_source_are_removed_on_the_target() -> None:
    changes = config_changes(
        {"retention.ms": "1000"}, {"retention.ms": "1000", "max.message.bytes": "2000000"}
    )
    assert changes == ConfigChanges(delete=("max.message.bytes",))


def test_excluded_keys_are_neither_set_nor_removed() -> None:
    source = {
        "min.insync.replicas": "2",
        "message.timestamp.type": "LogAppendTime",
        "retention.ms": "5",
    }
    target = {
        "min.insync.replicas": "1",
        "unclean.leader.election.enable": "true",
        "message.timestamp.after.max.ms": "1000",
        "leader.replication.throttled.replicas": "*",
        "retention.ms": "5",
    }
    assert config_changes(source, target) == ConfigChanges()
    assert not config_changes(source, target)


def test_a_topic_whose_configs_match_needs_no_change() -> None:
    same = {"retention.ms": "1000", "cleanup.policy": "compact"}
    assert not config_changes(same, dict(same))


def test_a_change_splits_into_one_change_per_key() -> None:
    changes = ConfigChanges(set={"a": "1", "b": "2"}, delete=("c",))
    assert changes.single_keys() == [
        ConfigChanges(set={"a": "1"}),
        ConfigChanges(set={"b": "2"}),
        ConfigChanges(delete=("c",)),
    ]
