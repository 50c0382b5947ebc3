"""Consumer-group offset sync: one pass for one task (`options.sync_group_offsets`).

The controller runs `GroupSync.run` every `interval_s` on its job pool. A pass

1. lists the source's consumer groups and selects them (`GroupFilter`; ksync's own
   groups, `ksync-<task id>`, never);
2. reads each selected group's committed offsets on the task's copied topics;
3. translates each with the offset pairs members recorded (`offset_translation`);
4. writes the translations to the same group on the target, for the target topic names,
   only once the task's committed progress on the partition has reached the group's
   offset (before that, the pairs end short of it and the translation would make a
   failover re-read everything still to be copied, far past the bound), only while that
   group has no active member there (a running consumer owns its offsets), and only
   forward: a translation below what the target group committed is written only after
   the user asked for a reset of that group;
5. records what it saw per group and partition (the API's `group-offsets`), and drops
   the pairs no selected group needs any more: those superseded by a later copy, and
   those below the lowest selected group's offset or the source's log start.

Offset pairs are kept per target topic and partition, so a renamed target topic starts
a fresh record of pairs rather than mixing two topics' offsets.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from ksync.domain.group_offsets import GroupOffsetView
from ksync.domain.groups import group_id, task_of_group
from ksync.domain.task import TaskView
from ksync.kafka.admin import InstanceAdmin
from ksync.patterns import NameSelection
from ksync.replication.offset_translation import OffsetPair, chain, prune, translate
from ksync.spec import GroupOffsetSync
from ksync.store.repo import Store, utcnow

log = logging.getLogger(__name__)

Partition = tuple[str, int]


@dataclass(frozen=True)
class GroupFilter:
    """Answers one question: is this source group's progress synced?

    Listed in `groups` or matching `groups_regex` (whole name, linear time), and not
    matching `groups_exclude_regex`; with neither list nor regex every group is. ksync's
    own groups never are: their offsets are a task's progress on the source.
    """

    selection: NameSelection

    @classmethod
    def from_spec(cls, spec: GroupOffsetSync) -> GroupFilter:
        """The filter of `options.sync_group_offsets`."""
        field = "options.sync_group_offsets."
        return cls(
            NameSelection.of(
                spec.groups,
                (field + "groups_regex", spec.groups_regex),
                (field + "groups_exclude_regex", spec.groups_exclude_regex),
            )
        )

    def selects(self, group: str) -> bool:
        if task_of_group(group) is not None:
            return False
        selection = self.selection
        if selection.empty:  # every group, but the excluded
            return selection.exclude is None or not selection.exclude.fullmatch(group)
        return selection.selects(group)


class GroupSync:
    """One offset sync pass of `task` from `source` to `target` (see the module)."""

    def __init__(self, task: TaskView, source: InstanceAdmin, target: InstanceAdmin, store: Store):
        self.task = task
        self.source = source
        self.target = target
        self.store = store

    def run(self) -> list[GroupOffsetView]:
        """Sync every selected group once; returns what it recorded."""
        task = self.task
        targets = {t.source: t.target for t in task.topics if t.copied}
        partitions = [
            (t.source, p) for t in task.topics if t.copied for p in range(t.partitions)
        ]
        wanted = GroupFilter.from_spec(task.spec.options.sync_group_offsets)
        copies = task.spec.options.copies_records
        groups = [g for g in self.source.group_ids() if wanted.selects(g)]
        committed = {g: self.source.group_offsets(g, partitions) for g in groups}
        committed = {g: offsets for g, offsets in committed.items() if offsets}
        # What the task has copied: its own group's commits on the source (its progress).
        progress = self.source.group_offsets(group_id(task.id), partitions) if copies else {}
        recorded = self.store.offsets.pairs(task.id)
        chains = {key: chain(pairs) for key, pairs in recorded.items()}
        active = self.target.active_members(sorted(committed))
        resets = self.store.offsets.resets(task.id)
        before = {(v.group_id, v.topic, v.partition): v for v in self.store.offsets.syncs(task.id)}
        now = utcnow()
        views: list[GroupOffsetView] = []
        done_resets = []
        for group, offsets in sorted(committed.items()):
            on_target = self.target.group_offsets(
                group, [(targets[t], p) for t, p in offsets if t in targets]
            )
            writes: dict[Partition, int] = {}
            rows = []
            for (topic, p), g in sorted(offsets.items()):
                target_topic = targets[topic]
                x = translate(chains.get((target_topic, p), []), g)
                have = on_target.get((target_topic, p))
                last = before.get((group, topic, p))
                if _exact_kept(x, have, g, last):
                    x = have
                copied = progress.get((topic, p), -1)
                note = _why_not(
                    x,
                    have,
                    active.get(group, 0),
                    group in resets,
                    copies,
                    short_of=copied if copies and copied < g else None,
                )
                if note is None and x is not None and x != have:
                    writes[(target_topic, p)] = x
                rows.append((topic, p, target_topic, g, x, have, note))
            if writes:
                self.target.alter_group_offsets(group, writes)
                log.info(
                    "task %s: group %s offsets written on the target for %d partitions",
                    task.id,
                    group,
                    len(writes),
                )
            if group in resets and active.get(group, 0) == 0:
                done_resets.append(group)
            for topic, p, target_topic, g, x, have, note in rows:
                written = (target_topic, p) in writes
                last = before.get((group, topic, p))
                synced_at = _synced_at(written, x, have, now, last)
                views.append(
                    GroupOffsetView(
                        group_id=group,
                        topic=topic,
                        partition=p,
                        target_topic=target_topic,
                        source_offset=g,
                        target_offset=x,
                        target_committed=writes.get((target_topic, p), have),
                        synced_at=synced_at,
                        checked_at=now,
                        note=note,
                    )
                )
        self.store.offsets.record_syncs(task.id, views)
        self.store.offsets.resets_done(task.id, done_resets)
        self._prune(recorded, chains, committed, targets)
        return views

    def _prune(
        self,
        recorded: dict[Partition, list[tuple[int, int]]],
        chains: dict[Partition, list[OffsetPair]],
        committed: dict[str, dict[Partition, int]],
        targets: dict[str, str],
    ) -> None:
        """Drop superseded pairs, and those below every selected group's offset and the
        source's log start (a group cannot go back before the log start)."""
        lowest: dict[Partition, int] = defaultdict(lambda: -1)
        for offsets in committed.values():
            for key, g in offsets.items():
                lowest[key] = g if lowest[key] < 0 else min(lowest[key], g)
        sources = {target: source for source, target in targets.items()}
        keys = [(sources[t], p) for t, p in chains if t in sources]
        starts = self.source.earliest_offsets(keys)
        for (target_topic, p), pairs in chains.items():
            source_topic = sources.get(target_topic)
            kept = list(pairs)
            if source_topic is not None:
                floor = max(starts.get((source_topic, p), 0), lowest[(source_topic, p)])
                kept = prune(pairs, floor)
            # Only pairs this pass read are judged: those recorded meanwhile stay.
            gone = {t for _, t in recorded[(target_topic, p)]} - {t for _, t in kept}
            dropped = self.store.offsets.drop_pairs(self.task.id, target_topic, p, gone)
            if dropped:
                log.debug("task %s: %d offset pairs of %s[%d] dropped", self.task.id, dropped, target_topic, p)


# Translation needs the pairs a task's own members record as they copy; one that copies
# nothing (mode metadata, a Connect MirrorCheckpointConnector) has none, and borrows none
# from another task: that task prunes its pairs to its own groups, so a borrowed pair
# could be missing for another group and the re-read bound would not hold.
NO_PAIRS_WITHOUT_COPYING = (
    "this task copies no records (options.mode: metadata), so it records no offset pairs "
    "and cannot translate offsets: turn offset sync on for the data task that copies "
    "these topics (options.sync_group_offsets; Connect: the same keys on its "
    "MirrorSourceConnector; CKafka: CreateMetaDataAndOffsetSyncDatahubTask)"
)


def _why_not(
    x: int | None,
    have: int | None,
    members: int,
    reset: bool,
    copies: bool = True,
    short_of: int | None = None,
) -> str | None:
    """Why a translated offset `x` is not written over the target group's `have`; None
    when it may be. `short_of`: the task's committed progress on the partition when it
    is below the group's offset (-1: none committed yet)."""
    if x is None and not copies:
        return NO_PAIRS_WITHOUT_COPYING
    if x is None:
        return (
            "no offset pair at or below the group's offset yet: ksync records them as it "
            "copies, so the group is synced once its position has been copied"
        )
    if short_of is not None:
        copied = "nothing yet" if short_of < 0 else f"up to source offset {short_of}"
        return (
            f"the task has copied {copied}, short of the group's offset: its translation "
            "is written once the copy has passed it, so that a failover re-reads at most "
            "the stated bound"
        )
    if members:
        return (
            f"the group has {members} active member(s) on the target: its offsets are "
            "written only while it has none"
        )
    if have is not None and x < have and not reset:
        return (
            f"the target group is ahead ({have}): offsets only move forward unless you "
            "ask for a reset of this group"
        )
    return None


def _exact_kept(x: int | None, have: int | None, g: int, last: GroupOffsetView | None) -> bool:
    """Whether the target group holds, above the translation `x`, the exact resume point
    a cutover wrote for this same source offset `g` (`ksync.control.cutover` records it
    as that partition's translation): it stands, rather than reading as a group ahead
    that needs a reset. Translations of one source offset never fall (pairs below a
    selected group's offset are kept), so only a cutover leaves such a record."""
    return (
        x is not None
        and have is not None
        and x < have
        and last is not None
        and last.source_offset == g
        and last.target_offset == have
    )


def _synced_at(
    written: bool,
    x: int | None,
    have: int | None,
    now: datetime,
    last: GroupOffsetView | None,
) -> datetime | None:
    """When the target group last held the translation: now if written or already
    there, else as before."""
    if written or (x is not None and x == have):
        return now
    return last.synced_at if last is not None else None
