"""Loop prevention through the `ksync-origin` and `ksync-via` headers.

Invariant: every record ksync writes carries `ksync-origin` = the Kafka cluster id of the
instance where the record was first produced; a record that already carries one keeps it,
and each further hop appends `ksync-via` = the cluster it was copied from. A member never
writes a record whose origin or any via is the target's own cluster id.

So A->B plus B->A on the same topic names copies each record exactly once, and a record
that entered A from a third cluster C (origin C) crosses to B once and stops there: on the
way back, B->A finds `ksync-via: A`. The origin header alone could not stop that one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ksync.domain.instance import InstanceView
from ksync.domain.task import TaskView
from ksync.patterns import PatternError
from ksync.replication.policy import ReplicationPolicy
from ksync.replication.topic_filter import TopicFilter

ORIGIN_HEADER = "ksync-origin"
VIA_HEADER = "ksync-via"


def cycle_warnings(
    task: TaskView, tasks: Iterable[TaskView], instances: Mapping[str, InstanceView]
) -> list[str]:
    """Sentences warning that `task` closes a sync loop with another task.

    A loop (A->B and B->A where one task reads topics the other writes) is allowed: the
    origin header makes each record cross once. Users still deserve to know they built
    one. Clusters are compared, not instances: two instances registered for one cluster are
    one to a record. Topics are compared by the names the tasks write (`target.topic_map`
    and the prefix rule): `orders -> orders-bak` one way and `orders-bak -> orders` the
    other is a loop, `orders -> orders-bak` against `payments -> payments` is not. A task
    selecting by regex may write any name, so it is taken to close the loop.
    """

    def clusters(t: TaskView) -> tuple[str | None, str | None]:
        src = instances.get(t.source_id)
        dst = instances.get(t.target_id)
        return (src.cluster_id if src else None, dst.cluster_id if dst else None)

    mine = clusters(task)
    out = []
    for other in tasks:
        if other.id == task.id or other.deleted:
            continue
        theirs = clusters(other)
        if None in mine or theirs != (mine[1], mine[0]):
            continue
        there, back = _read_back(task, other), _read_back(other, task)
        if there is None and back is None:
            continue
        over = sorted((there or set()) | (back or set()))
        topics = f" over topic{'s' if len(over) > 1 else ''} {', '.join(over)}" if over else ""
        out.append(
            f"this task and task {other.id} ({other.name}) sync in opposite directions "
            f"between the same two clusters{topics}: a sync loop; ksync copies each record "
            "once (the ksync-origin header stops it from coming back)"
        )
    return out


def _read_back(writer: TaskView, reader: TaskView) -> set[str] | None:
    """The topics `writer` writes that `reader` selects; an empty set when that cannot be
    known before the topics exist (`writer` selects by regex), None when there are none."""
    if writer.spec.source.topic_regex:
        return set()
    policy = ReplicationPolicy.of(writer.spec.target)
    written = {policy.target_topic(s) for s in writer.spec.source.topics}
    written |= {m.target for m in writer.topics}
    try:
        selects = TopicFilter.from_spec(reader.spec.source).should_replicate
    except PatternError:
        return set()  # a stored pattern that cannot run: it is reported on that task
    read = {t for t in written if selects(t)}
    return read or None
