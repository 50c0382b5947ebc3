"""Naming (ReplicationPolicy) and selection (TopicFilter): pure rules, no broker."""

from __future__ import annotations

import re
from typing import cast

import pytest

from ksync.kafka.admin import InstanceAdmin, TopicInfo
from ksync.replication.policy import ReplicationPolicy
from ksync.replication.topic_filter import TopicFilter
from ksync.replication.topic_mirror import TopicMirror
from ksync.spec import SourceSpec, TargetSpec


def topic_filter(
    topics: list[str] | None = None, regex: str | None = None, exclude: str | None = None
) -> TopicFilter:
    return TopicFilter.from_spec(
        SourceSpec(
            instance_id="ins-a", topics=topics or [], topic_regex=regex, exclude_regex=exclude
        )
    )


# ---- naming --------------------------------------------------------------------------------


def test_empty_prefix_keeps_the_name_whatever_the_separator() -> None:
    assert ReplicationPolicy().target_topic("orders") == "orders"
    assert ReplicationPolicy(prefix="", separator="-").target_topic("orders.v1") == "orders.v1"


@pytest.mark.parametrize(
    ("prefix", "separator", "expected"),
    [
        ("bj", ".", "bj.orders"),
        ("dr", "-", "dr-orders"),
        ("a.b", "__", "a.b__orders"),
        ("p", "", "porders"),
    ],
)
def test_prefix_and_separator_come_before_the_source_name(
    prefix: str, separator: str, expected: str
) -> None:
    assert ReplicationPolicy(prefix=prefix, separator=separator).target_topic("orders") == expected


@pytest.mark.parametrize(("prefix", "separator"), [("bj", "."), ("dr", "-"), ("a.b", "__")])
def test_the_reverse_finds_the_source_name_of_every_target_name(prefix: str, separator: str) -> None:
    policy = ReplicationPolicy(prefix=prefix, separator=separator)
    for source in ("orders", "a.b.c", "bj"):
        target = policy.target_topic(source)
        assert policy.source_topic(target) == source
        assert policy.is_target_topic(target)
        assert re.fullmatch(policy.target_pattern(), target)
    assert policy.source_topic("orders") is None
    assert not policy.is_target_topic("orders")
    assert not re.fullmatch(policy.target_pattern(), "orders")


def test_with_an_empty_prefix_every_name_is_its_own_source_and_none_is_a_copy() -> None:
    policy = ReplicationPolicy()
    assert policy.source_topic("orders") == "orders"
    assert not policy.is_target_topic("orders")
    assert re.fullmatch(policy.target_pattern(), "any.name")


def test_a_prefix_without_its_separator_is_not_a_copy() -> None:
    policy = ReplicationPolicy(prefix="bj", separator=".")
    assert policy.source_topic("bj-orders") is None
    assert policy.source_topic("bjorders") is None
    assert not re.fullmatch(policy.target_pattern(), "bjXorders")  # the '.' is literal


# ---- selection -----------------------------------------------------------------------------


def test_an_explicit_list_selects_exactly_its_names() -> None:
    f = topic_filter(topics=["orders", "payments"])
    assert f.should_replicate("orders")
    assert f.should_replicate("payments")
    assert not f.should_replicate("orders2")
    assert not f.should_replicate("order")
    assert f.select(["payments", "x", "orders", "orders.dlq"]) == ["orders", "payments"]


def test_the_regex_must_match_the_whole_name() -> None:
    f = topic_filter(regex="orders-[0-9]+")
    assert f.should_replicate("orders-1")
    assert f.should_replicate("orders-42")
    assert not f.should_replicate("orders-1-dlq")  # a search would match this
    assert not f.should_replicate("eu.orders-1")
    assert not f.should_replicate("orders-")


def test_list_and_regex_together_select_the_union() -> None:
    f = topic_filter(topics=["audit"], regex="orders\\..*")
    assert f.select(["audit", "orders.eu", "orders.us", "payments"]) == [
        "audit",
        "orders.eu",
        "orders.us",
    ]


def test_the_exclude_regex_removes_full_matches_from_list_and_regex() -> None:
    f = topic_filter(topics=["orders.dlq", "audit"], regex="orders\\..*", exclude=".*\\.dlq")
    assert f.select(["audit", "orders.eu", "orders.dlq", "orders.dlq.v2"]) == [
        "audit",
        "orders.dlq.v2",  # `.*\.dlq` must match the whole name to exclude it
        "orders.eu",
    ]


@pytest.mark.parametrize("name", ["__consumer_offsets", "__transaction_state", "__orders"])
def test_internal_topics_never_match_even_when_listed_or_matched(name: str) -> None:
    f = topic_filter(topics=[name], regex=".*")
    assert not f.should_replicate(name)
    assert f.select([name, "orders"]) == ["orders"]


def test_a_single_underscore_is_not_internal() -> None:
    assert topic_filter(regex=".*").should_replicate("_orders")


# ---- naming by topic_map -------------------------------------------------------------------


def test_a_mapped_topic_gets_its_name_and_the_others_the_prefix_rule() -> None:
    policy = ReplicationPolicy(prefix="bak", topic_map={"orders": "orders-bak", "eu": "all"})
    assert policy.target_topic("orders") == "orders-bak"
    assert policy.target_topic("eu") == "all"
    assert policy.target_topic("payments") == "bak.payments"
    assert policy.prefixed("orders") == "bak.orders"
    assert policy.mapped_sources("all") == ["eu"]
    assert policy.mapped_sources("bak.payments") == []


def test_mapped_names_are_target_topics_a_task_never_reads_back() -> None:
    policy = ReplicationPolicy(prefix="bak", topic_map={"orders": "orders-bak"})
    assert policy.is_target_topic("orders-bak")
    assert policy.is_target_topic("bak.payments")
    assert not policy.is_target_topic("orders")
    assert ReplicationPolicy(topic_map={"orders": "copy"}).is_target_topic("copy")
    assert not ReplicationPolicy(topic_map={"orders": "copy"}).is_target_topic("orders")


def test_merges_lists_each_shared_target_with_its_sources() -> None:
    policy = ReplicationPolicy(
        prefix="p", topic_map={"eu": "all", "us": "all", "asia": "all", "x": "p.y"}
    )
    assert policy.merges(["eu", "us", "asia", "x", "y", "z"]) == {
        "all": ["asia", "eu", "us"],
        "p.y": ["x", "y"],
    }
    assert policy.merges(["eu", "z"]) == {}


def test_of_reads_the_map_of_a_target_spec() -> None:
    target = TargetSpec(instance_id="ins-b", topic_prefix="p", topic_map={"a": "b"})
    assert ReplicationPolicy.of(target).target_topic("a") == "b"
    assert ReplicationPolicy.of(target).target_topic("c") == "p.c"


def test_a_merge_problem_only_under_keep_partition() -> None:
    policy = ReplicationPolicy(topic_map={"eu": "all", "us": "all"})
    assert policy.merge_problem([], lambda t: False, keep_partition=False) is None
    problem = policy.merge_problem([], lambda t: False, keep_partition=True)
    assert problem is not None and problem.startswith(
        "source topics eu, us would all be copied to target topic all with keep_partition true"
    )
    # A mapped name that is another selected topic's own name (no prefix).
    clash = ReplicationPolicy(topic_map={"orders": "payments"})
    assert clash.merge_problem(["orders"], lambda t: t == "payments", True) is not None
    assert clash.merge_problem(["orders"], lambda t: False, True) is None


# ---- the plan of a topic map (TopicMirror.plan makes no Kafka call) ------------------------


def plan(policy: ReplicationPolicy, topics: dict[str, int], keep_partition: bool) -> list[dict[str, object]]:
    mirror = TopicMirror(
        source=cast(InstanceAdmin, None),
        target=cast(InstanceAdmin, None),
        policy=policy,
        topic_filter=topic_filter(regex=".*"),
        keep_partition=keep_partition,
        sync_configs=False,
        target_broker_count=1,
    )
    listed = {name: TopicInfo(name, n, 1) for name, n in topics.items()}
    return [m.as_json() for m in mirror.plan(listed)]


def test_a_merge_plans_every_source_onto_the_one_target() -> None:
    policy = ReplicationPolicy(topic_map={"eu": "all", "us": "all", "orders": "orders-bak"})
    planned = plan(policy, {"eu": 2, "us": 3, "orders": 1, "misc": 1}, keep_partition=False)
    assert [(m["source"], m["target"], m["state"]) for m in planned] == [
        ("eu", "all", "syncing"),
        ("misc", "misc", "syncing"),
        ("orders", "orders-bak", "syncing"),
        ("us", "all", "syncing"),
    ]


def test_under_keep_partition_a_topic_found_later_cannot_take_a_mapped_target() -> None:
    """The task was saved when `bak.x` was nobody's; a topic `x` matched by the regex
    afterwards would share it with the mapped `orders`: it is blocked, `orders` flows."""
    policy = ReplicationPolicy(prefix="bak", topic_map={"orders": "bak.x"})
    planned = plan(policy, {"orders": 1, "x": 1}, keep_partition=True)
    assert [(m["source"], m["target"], m["state"]) for m in planned] == [
        ("orders", "bak.x", "syncing"),
        ("x", "bak.x", "blocked"),
    ]
    assert str(planned[1]["error"]).startswith(
        "target topic bak.x already takes source topic orders (through target.topic_map); "
        "partitions of different source topics cannot keep their numbers"
    )
