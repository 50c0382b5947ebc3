"""The ACL sync rule (`replication.acl_sync`), pure: which source ACLs become READ ACLs on
which target topics, and which of its own ACLs ksync removes. No broker (the rule on real
clusters with the authorizer on is in tests/e2e/test_acl_sync.py)."""

from __future__ import annotations

from ksync.domain.topics import TopicMapping
from ksync.kafka.admin import TopicAcl
from ksync.replication.acl_sync import confirmed, plan, read_grants


def acl(name: str, principal: str, operation: str = "READ", permission: str = "ALLOW",
        pattern: str = "LITERAL") -> TopicAcl:
    return TopicAcl(pattern, name, principal, "*", operation, permission)


def read_on(topic: str, principal: str, permission: str = "ALLOW") -> TopicAcl:
    return acl(topic, principal, "READ", permission)


ORDERS = TopicMapping("orders", "src.orders", 3)


def test_read_and_all_become_read_and_write_or_other_rights_are_never_copied() -> None:
    source = [
        acl("orders", "User:reader"),
        acl("orders", "User:owner", "ALL"),
        acl("orders", "User:writer", "WRITE"),
        acl("orders", "User:describer", "DESCRIBE"),
        acl("orders", "User:alterer", "ALTER_CONFIGS"),
        acl("payments", "User:other"),
    ]
    p = plan([ORDERS], source, [])
    assert p.create == [read_on("src.orders", "User:owner"), read_on("src.orders", "User:reader")]
    assert p.delete == []
    assert p.granted == {"src.orders": (("User:owner", "*", "ALLOW"), ("User:reader", "*", "ALLOW"))}


def test_prefixed_and_wildcard_acls_grant_read_on_each_matching_topic_under_its_target_name() -> None:
    source = [
        acl("ord", "User:team", pattern="PREFIXED"),
        acl("pay", "User:payments", pattern="PREFIXED"),
        acl("*", "User:auditor"),
    ]
    assert read_grants(source, "orders") == {("User:team", "*", "ALLOW"), ("User:auditor", "*", "ALLOW")}
    p = plan([ORDERS], source, [])
    assert [a.name for a in p.create] == ["src.orders", "src.orders"]
    assert {a.pattern for a in p.create} == {"LITERAL"}


def test_a_denial_of_reading_is_copied_so_the_allows_do_not_open_the_copy_to_it() -> None:
    source = [acl("*", "User:*"), acl("orders", "User:mallory", "ALL", "DENY")]
    p = plan([ORDERS], source, [])
    assert read_on("src.orders", "User:mallory", "DENY") in p.create
    assert read_on("src.orders", "User:*") in p.create


def test_an_acl_already_on_the_target_is_not_created_again_nor_counted_as_ksyncs() -> None:
    source = [acl("orders", "User:reader")]
    p = plan([ORDERS], source, [read_on("src.orders", "User:reader")])
    assert p.create == [] and p.granted == {"src.orders": ()}
    # So when the source drops it, the target's own ACL stays.
    again = plan([ORDERS.with_acls_granted(p.granted["src.orders"])], [], [read_on("src.orders", "User:reader")])
    assert again.delete == []


def test_ksync_removes_what_it_made_once_the_source_no_longer_grants_it() -> None:
    mine = ("User:reader", "*", "ALLOW")
    mapping = ORDERS.with_acls_granted((mine,))
    on_target = [read_on("src.orders", "User:reader"), read_on("src.orders", "User:local")]
    p = plan([mapping], [], on_target)
    assert p.delete == [read_on("src.orders", "User:reader")]  # the target's own one stays
    assert p.granted == {"src.orders": ()}
    # Still granted: kept, and made again if someone removed it on the target.
    kept = plan([mapping], [acl("orders", "User:reader")], [])
    assert kept.create == [read_on("src.orders", "User:reader")] and kept.delete == []


def test_a_merge_grants_the_union_of_its_sources_reads_and_removes_only_what_none_grants() -> None:
    a = TopicMapping("a", "all", 1).with_acls_granted((("User:x", "*", "ALLOW"),))
    b = TopicMapping("b", "all", 1)
    p = plan([a, b], [acl("b", "User:x"), acl("a", "User:y")], [read_on("all", "User:x")])
    assert p.delete == [] and p.create == [read_on("all", "User:y")]
    assert p.granted["all"] == (("User:x", "*", "ALLOW"), ("User:y", "*", "ALLOW"))


def test_after_a_partial_refusal_only_acls_present_on_the_target_count_as_ksyncs() -> None:
    p = plan([ORDERS], [acl("orders", "User:a"), acl("orders", "User:b")], [])
    assert confirmed(p, [read_on("src.orders", "User:a")]) == {"src.orders": (("User:a", "*", "ALLOW"),)}


def test_the_grants_survive_the_store() -> None:
    mapping = ORDERS.with_acls_granted((("User:a", "*", "ALLOW"),))
    assert TopicMapping.from_json(mapping.as_json()) == mapping
    assert "acls_granted" not in ORDERS.as_json()
