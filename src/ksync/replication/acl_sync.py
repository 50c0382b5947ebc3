"""ACL sync (`options.sync_topic_acls`): who may read a synced source topic may read its
target topic, and nobody gains any other right on a mirror.

The rule, as MirrorMaker 2's `sync.topic.acls.enabled`: of the source's topic ACLs, those
that allow reading (READ, and ALL, which becomes READ) are made on the target, for the
target topic's name, as LITERAL ACLs. WRITE and every other operation are never copied,
so no client can write to a copy by accident. Unlike MM2, which copies LITERAL ACLs only,
ksync also reads PREFIXED ACLs and the `*` wildcard: each grants READ on every synced
topic it matches, written on the target for that topic alone (a prefix does not survive
renaming by a prefix or `target.topic_map`). A DENY of READ (or ALL) is copied as a DENY
of READ too: copying the allows without it would let the principal it refuses read the
copy.

Removal: ksync removes only what it created. Each topic mapping records the ACLs ksync
made on its target topic (`TopicMapping.acls_granted`); one the source no longer grants is
deleted at the next refresh. An ACL that existed on the target before (made by the
target's operators) is never recorded, so it is never removed, even when the source has
the same one and later drops it. Topics that leave the selection, and tasks deleted or
with the option turned off, keep their ACLs: ksync stops managing them, as it leaves their
topics and records.

Everything here is pure: `plan` decides from the ACLs read on both clusters.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ksync.domain.topics import TopicMapping
from ksync.kafka.admin import TopicAcl

# (principal, host, ALLOW | DENY): one READ ACL on one target topic.
Grant = tuple[str, str, str]

_READS = frozenset({"READ", "ALL"})


def matches(acl: TopicAcl, topic: str) -> bool:
    """Whether `acl`'s resource pattern covers `topic`."""
    if acl.pattern == "LITERAL":
        return acl.name in (topic, "*")
    if acl.pattern == "PREFIXED":
        return topic.startswith(acl.name)
    return False


def read_grants(source_acls: Iterable[TopicAcl], topic: str) -> set[Grant]:
    """The READ grants (and denials) the source's ACLs give on source topic `topic`."""
    return {
        (a.principal, a.host, a.permission)
        for a in source_acls
        if a.operation in _READS and a.permission in ("ALLOW", "DENY") and matches(a, topic)
    }


def target_acl(topic: str, grant: Grant) -> TopicAcl:
    """The LITERAL READ ACL on target topic `topic` that `grant` stands for."""
    principal, host, permission = grant
    return TopicAcl("LITERAL", topic, principal, host, "READ", permission)


@dataclass
class AclPlan:
    """What makes the target's READ ACLs follow the source's: ACLs to create, ACLs ksync
    made that the source no longer grants (to delete), and per target topic the ACLs
    ksync will have made once both are done (`granted`)."""

    create: list[TopicAcl] = field(default_factory=list)
    delete: list[TopicAcl] = field(default_factory=list)
    granted: dict[str, tuple[Grant, ...]] = field(default_factory=dict)


def plan(
    mappings: Sequence[TopicMapping],
    source_acls: Sequence[TopicAcl],
    target_acls: Sequence[TopicAcl],
) -> AclPlan:
    """The plan for the syncing `mappings` (several sources of one target topic, a merge,
    grant the union of their reads). Each mapping's `acls_granted` says what ksync made
    before; an ACL that is already on the target is not created again, and one ksync did
    not make is never deleted."""
    wanted: dict[str, set[Grant]] = defaultdict(set)
    before: dict[str, set[Grant]] = defaultdict(set)
    for m in mappings:
        wanted[m.target] |= read_grants(source_acls, m.source)
        before[m.target] |= set(m.acls_granted)
    existing: dict[str, set[Grant]] = defaultdict(set)
    for a in target_acls:
        if a.pattern == "LITERAL" and a.operation == "READ":
            existing[a.name].add((a.principal, a.host, a.permission))
    out = AclPlan()
    for topic in sorted(wanted):
        new = wanted[topic] - existing[topic]
        gone = (before[topic] - wanted[topic]) & existing[topic]
        out.create += [target_acl(topic, g) for g in sorted(new)]
        out.delete += [target_acl(topic, g) for g in sorted(gone)]
        out.granted[topic] = tuple(sorted((before[topic] & wanted[topic]) | new))
    return out


def confirmed(acl_plan: AclPlan, present: Sequence[TopicAcl]) -> dict[str, tuple[Grant, ...]]:
    """`acl_plan.granted` keeping only the ACLs `present` on the target: after a create or
    delete the target refused in part, what ksync may count as its own."""
    there = {(a.name, a.principal, a.host, a.permission) for a in present if a.operation == "READ"}
    return {
        topic: tuple(g for g in grants if (topic, *g) in there)
        for topic, grants in acl_plan.granted.items()
    }
