"""Naming (ReplicationPolicy) and selection (TopicFilter): pure rules, no broker."""

from __future__ import annotations

import re

import pytest

from ksync.replication.policy import ReplicationPolicy
from ksync.replication.topic_filter import TopicFilter
from ksync.spec import SourceSpec


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
