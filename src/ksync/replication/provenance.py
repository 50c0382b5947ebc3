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

ORIGIN_HEADER = "ksync-origin"
VIA_HEADER = "ksync-via"


def cycle_warnings(
    task: TaskView, tasks: Iterable[TaskView], instances: Mapping[str, InstanceView]
) -> list[str]:
    """Sentences warning that `task` closes a sync loop with another task.

    A loop (A->B and B->A over the same topic names) is allowed: the origin header makes
    each record cross once. Users still deserve to know they built one. Clusters are
    compared, not instances: two instances registered for one cluster are one to a record.
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
        if None not in mine and theirs == (mine[1], mine[0]):
            out.append(
                f"this task and task {other.id} ({other.name}) sync in opposite directions "
                "between the same two clusters: a sync loop; ksync copies each record once "
                "(the ksync-origin header stops it from coming back)"
            )
    return out
