"""The translation rule and its chain of pairs, without a broker
(`ksync.replication.offset_translation`)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from ksync.domain.group_offsets import GroupOffsetView
from ksync.replication.group_sync import (
    NO_PAIRS_WITHOUT_COPYING,
    GroupFilter,
    _exact_kept,
    _why_not,
)
from ksync.replication.offset_translation import OffsetPair, chain, prune, reread_bound, translate
from ksync.spec import GroupOffsetSync


def test_an_exact_pair_gives_its_target_offset_and_a_lower_one_the_next() -> None:
    pairs = chain([(0, 50), (100, 150), (200, 250)])
    assert translate(pairs, 100) == 150
    assert translate(pairs, 101) == 151  # record 100 was read: the next one on
    assert translate(pairs, 199) == 151  # re-reads 101..198, skips none
    assert translate(pairs, 10_000) == 251


def test_no_pair_at_or_below_the_offset_gives_nothing() -> None:
    assert translate(chain([(100, 3)]), 99) is None
    assert translate([], 0) is None


def test_offset_gaps_and_foreign_records_translate_exactly() -> None:
    # Source offsets with gaps (markers, compaction); the target held 777 records first.
    pairs = chain([(0, 777), (9, 784), (23, 791)])
    assert translate(pairs, 9) == 784
    assert translate(pairs, 23) == 791
    assert translate(pairs, 10) == 785


def test_a_later_copy_supersedes_the_pairs_it_repeats() -> None:
    # First copy 0..300 at 0..300; the member restarts from 150 and copies again at 301...
    first = [(0, 0), (100, 100), (200, 200), (300, 300)]
    again = [(150, 301), (250, 401)]
    pairs = chain(first + again)
    assert pairs == [OffsetPair(0, 0), OffsetPair(100, 100), OffsetPair(150, 301), OffsetPair(250, 401)]
    assert all(a.source < b.source and a.target < b.target for a, b in itertools.pairwise(pairs))
    # A group at 260 goes to the later copy (never to the first copy's tail).
    assert translate(pairs, 260) == 402
    assert translate(pairs, 120) == 101


def test_pruning_keeps_the_pair_that_translates_the_floor() -> None:
    pairs = chain([(0, 0), (100, 100), (200, 200), (300, 300)])
    kept = prune(pairs, 250)
    assert kept == [OffsetPair(200, 200), OffsetPair(300, 300)]
    assert translate(kept, 250) == translate(pairs, 250)
    assert prune(pairs, -1) == pairs


def test_the_bound_covers_the_spacing_and_a_batch() -> None:
    assert reread_bound(500) == 598


def test_group_selection() -> None:
    every = GroupFilter.from_spec(GroupOffsetSync(enabled=True))
    assert every.selects("orders-app")
    assert not every.selects("ksync-task-abc12345"), "ksync's own groups are never synced"
    some = GroupFilter.from_spec(
        GroupOffsetSync(enabled=True, groups=["billing"], groups_regex="app-.*", groups_exclude_regex="app-test.*")
    )
    assert some.selects("billing") and some.selects("app-1")
    assert not some.selects("app-test-1") and not some.selects("other")


def test_a_task_that_copies_nothing_says_why_it_never_translates() -> None:
    """A metadata task (a Connect checkpoint connector) records no pairs: its note says
    to sync offsets on the data task instead of promising a sync once copied."""
    assert _why_not(None, None, 0, False, copies=False) == NO_PAIRS_WITHOUT_COPYING
    assert "once its position has been copied" in (_why_not(None, None, 0, False) or "")
    assert _why_not(120, 100, 0, False, copies=False) is None


def test_a_translation_waits_until_the_copy_has_passed_the_group() -> None:
    """Pairs that end short of the group's offset would send a failover back to where
    the copy stands: the note says so and nothing is written."""
    assert "copied up to source offset 2001, short of the group's offset" in (
        _why_not(2002, None, 0, False, short_of=2001) or ""
    )
    assert "copied nothing yet" in (_why_not(2002, None, 0, False, short_of=-1) or "")
    assert _why_not(6000, None, 0, False, short_of=None) is None


def test_an_exact_resume_point_a_cutover_wrote_stands() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)

    def seen(source: int, target: int) -> GroupOffsetView:
        return GroupOffsetView("app", "t", 0, "t", source, target, target, now, now)

    # The cutover recorded 981 for source offset 205; the translation says 978.
    assert _exact_kept(978, 981, 205, seen(205, 981))
    assert not _exact_kept(978, 981, 206, seen(205, 981)), "the group moved on the source"
    assert not _exact_kept(978, 990, 205, seen(205, 981)), "someone else wrote 990"
    assert not _exact_kept(978, 981, 205, None)
    assert not _exact_kept(None, 981, 205, seen(205, 981))
