"""Offset translation: where a consumer group's source position is on the target.

Members record *offset pairs* as they copy: `(s, t)` says that the record at source
offset `s` of a partition was written at target offset `t` of the same partition number
(offset sync requires `keep_partition`). A member marks the first record of each run of a
partition in a batch, at most one every `MARK_SPACING` source offsets, and only marked
records carry a delivery callback, which reports the exact target offset
(`ksync.replication.member`).

Invariant (the translation never skips a record). For a committed source offset `g` (the
next record the group would read), `translate` answers a target offset `x` such that
every record the task copied from source offset `g` onwards sits at target offset `x` or
later: the pair with the largest `s` not above `g`, from the latest copy, answers `t`
when `s == g` and `t + 1` when `s < g` (records `s+1 .. g-1` are re-read, never those at
or after `g` skipped). Foreign records already on the target partition and gaps in the
source's offsets (compaction, transaction markers) change nothing: pairs name real
offsets on both sides.

Re-copies. A member that restarts copies again from its last commit: the new copy's
pairs have lower source offsets and higher target offsets than pairs of the old copy.
`chain` keeps, of every pair, only those not superseded by a later copy (a later pair has
a higher target offset), so a chain rises in both offsets and bisects.

Bound. Between two kept pairs of a partition lie at most `MARK_SPACING - 1` source
offsets of unmarked run starts plus one run (at most a batch); so a consumer that fails
over re-reads at most `reread_bound(batch_size)` records of a partition, for a group at
the head as for one far behind, as long as the pairs below its offset are kept (`prune`
drops only those below the lowest selected group and below the source's log start) and
the copy has passed its offset (`group_sync` writes a translation only then: before,
the last pair may lie thousands of records below it).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from typing import NamedTuple

# A member marks a partition's run start at most once per this many source offsets: the
# re-read bound grows with it, the pairs kept shrink with it.
MARK_SPACING = 100


class OffsetPair(NamedTuple):
    """The record at source offset `source` is at target offset `target`."""

    source: int
    target: int


def reread_bound(batch_size: int) -> int:
    """The most records a consumer re-reads per partition after a translated failover:
    the source offsets between two kept pairs (see the module's docstring)."""
    return MARK_SPACING + batch_size - 2


def chain(pairs: Iterable[tuple[int, int]]) -> list[OffsetPair]:
    """The pairs of the latest copy, ascending in both offsets.

    Walking down from the highest target offset (the latest write), a pair is kept only
    if its source offset is below every pair kept so far: a pair with a lower target
    offset and a source offset at or above a later one belongs to a copy the later one
    repeated.
    """
    kept: list[OffsetPair] = []
    for s, t in sorted(set(pairs), key=lambda p: (p[1], p[0]), reverse=True):
        if not kept or s < kept[-1].source:
            kept.append(OffsetPair(s, t))
    kept.reverse()
    return kept


def translate(pairs: Sequence[OffsetPair], committed: int) -> int | None:
    """The target offset for a group whose committed source offset is `committed`, from
    a `chain`; None when no pair lies at or below it (ksync has no record of where the
    records before its first pair went, so it will not guess)."""
    i = bisect.bisect_right(pairs, committed, key=lambda p: p.source) - 1
    if i < 0:
        return None
    s, t = pairs[i]
    return t if s == committed else t + 1


def prune(pairs: Sequence[OffsetPair], floor: int) -> list[OffsetPair]:
    """`pairs` (a chain) without those no offset at or above `floor` needs: the last pair
    at or below `floor` stays, for it translates every offset up to the next one."""
    i = bisect.bisect_right(pairs, floor, key=lambda p: p.source) - 1
    return list(pairs[max(i, 0) :])
