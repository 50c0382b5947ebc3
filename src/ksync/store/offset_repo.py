"""Offset sync in the store: the offset pairs members record, the last sync of each
group's partition, and the resets users ask for (`ksync.replication.offset_translation`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ksync.domain.group_offsets import GroupOffsetView
from ksync.store.base import Repository, as_utc, rowcount, utcnow
from ksync.store.tables import GroupOffsetResetRow, GroupOffsetRow, OffsetPairRow

# (target topic, partition) -> [(source offset, target offset)]
PairsByPartition = dict[tuple[str, int], list[tuple[int, int]]]


def add_pairs(
    s: Session, task_id: str, pairs: Iterable[tuple[str, str, int, int, int]]
) -> None:
    """Add (source topic, target topic, partition, source offset, target offset) pairs in
    session `s` (the worker's heartbeat); one already there is kept."""
    for source_topic, target_topic, partition, source_offset, target_offset in pairs:
        s.merge(
            OffsetPairRow(
                task_id=task_id,
                target_topic=target_topic,
                partition=partition,
                target_offset=target_offset,
                source_topic=source_topic,
                source_offset=source_offset,
            )
        )


def forget_task(s: Session, task_id: str) -> None:
    """Remove a deleted task's pairs, syncs and resets, in session `s`."""
    s.execute(delete(OffsetPairRow).where(OffsetPairRow.task_id == task_id))
    s.execute(delete(GroupOffsetRow).where(GroupOffsetRow.task_id == task_id))
    s.execute(delete(GroupOffsetResetRow).where(GroupOffsetResetRow.task_id == task_id))


def _view(row: GroupOffsetRow) -> GroupOffsetView:
    return GroupOffsetView(
        group_id=row.group_id,
        topic=row.topic,
        partition=row.partition,
        target_topic=row.target_topic,
        source_offset=row.source_offset,
        target_offset=row.target_offset,
        target_committed=row.target_committed,
        synced_at=as_utc(row.synced_at) if row.synced_at is not None else None,
        checked_at=as_utc(row.checked_at),
        note=row.note,
    )


class OffsetRepo(Repository):
    """Offset pairs, group offset syncs and reset requests, per task."""

    def pairs(self, task_id: str) -> PairsByPartition:
        """Every pair recorded for the task, by target topic and partition."""
        out: PairsByPartition = defaultdict(list)
        with self.session() as s:
            for r in s.scalars(select(OffsetPairRow).where(OffsetPairRow.task_id == task_id)):
                out[(r.target_topic, r.partition)].append((r.source_offset, r.target_offset))
        return dict(out)

    def drop_pairs(self, task_id: str, target_topic: str, partition: int, targets: set[int]) -> int:
        """Drop the partition's pairs at these target offsets (superseded or pruned);
        returns how many went. Named one by one: pairs recorded meanwhile stay."""
        if not targets:
            return 0
        with self.session() as s:
            return rowcount(
                s.execute(
                    delete(OffsetPairRow).where(
                        OffsetPairRow.task_id == task_id,
                        OffsetPairRow.target_topic == target_topic,
                        OffsetPairRow.partition == partition,
                        OffsetPairRow.target_offset.in_(sorted(targets)),
                    )
                )
            )

    def record_syncs(self, task_id: str, views: Sequence[GroupOffsetView]) -> None:
        """Replace the task's group offset syncs with `views` (the latest look)."""
        with self.session() as s:
            s.execute(delete(GroupOffsetRow).where(GroupOffsetRow.task_id == task_id))
            for v in views:
                s.add(
                    GroupOffsetRow(
                        task_id=task_id,
                        group_id=v.group_id,
                        topic=v.topic,
                        partition=v.partition,
                        target_topic=v.target_topic,
                        source_offset=v.source_offset,
                        target_offset=v.target_offset,
                        target_committed=v.target_committed,
                        synced_at=v.synced_at,
                        checked_at=v.checked_at,
                        note=v.note,
                    )
                )

    def syncs(self, task_id: str) -> list[GroupOffsetView]:
        """The task's group offset syncs, by group, topic and partition."""
        with self.session() as s:
            rows = s.scalars(
                select(GroupOffsetRow)
                .where(GroupOffsetRow.task_id == task_id)
                .order_by(GroupOffsetRow.group_id, GroupOffsetRow.topic, GroupOffsetRow.partition)
            ).all()
            return [_view(r) for r in rows]

    def request_reset(self, task_id: str, group_id: str) -> None:
        """Ask the next sync to write `group_id`'s translated offsets even where that
        lowers the target group's."""
        with self.session() as s:
            s.merge(GroupOffsetResetRow(task_id=task_id, group_id=group_id, requested_at=utcnow()))

    def resets(self, task_id: str) -> set[str]:
        """The groups whose reset is pending."""
        with self.session() as s:
            return set(
                s.scalars(
                    select(GroupOffsetResetRow.group_id).where(
                        GroupOffsetResetRow.task_id == task_id
                    )
                )
            )

    def resets_done(self, task_id: str, groups: Iterable[str]) -> None:
        """The resets of `groups` were carried out."""
        names = list(groups)
        if not names:
            return
        with self.session() as s:
            s.execute(
                delete(GroupOffsetResetRow).where(
                    GroupOffsetResetRow.task_id == task_id,
                    GroupOffsetResetRow.group_id.in_(names),
                )
            )
