"""The commit rule and the progress it reads: what may be committed, given what was
produced, acknowledged, held and lost. Pure, no broker (the Kafka side of the protocol is
in test_member.py and test_rebalance_callbacks.py)."""

from __future__ import annotations

from ksync.replication.commit import Progress, committable

A0, A1, B0 = ("a", 0), ("a", 1), ("b", 0)


def test_positions_past_the_commit_of_held_partitions_are_committed() -> None:
    got = committable({A0: 10, A1: 7}, {A0: 4, A1: 2}, {A0, A1}, unacked=0, delivery_failed=False)
    assert got == {A0: 10, A1: 7}


def test_nothing_is_committed_while_a_record_is_unacknowledged() -> None:
    assert committable({A0: 10}, {A0: 4}, {A0}, unacked=1, delivery_failed=False) == {}


def test_nothing_is_committed_after_a_delivery_error() -> None:
    assert committable({A0: 10}, {A0: 4}, {A0}, unacked=0, delivery_failed=True) == {}


def test_a_partition_not_held_is_never_committed() -> None:
    # Lost (session expired) or revoked and given up: another member may own it now.
    got = committable({A0: 10, B0: 9}, {A0: 4, B0: 3}, {A0}, unacked=0, delivery_failed=False)
    assert got == {A0: 10}


def test_an_offset_never_moves_back_and_unchanged_ones_are_not_sent() -> None:
    got = committable(
        {A0: 3, A1: 5, B0: 8}, {A0: 4, A1: 5, B0: 2}, {A0, A1, B0}, unacked=0, delivery_failed=False
    )
    assert got == {B0: 8}


def test_a_position_not_known_yet_is_not_committed() -> None:
    # librdkafka's -1001 (OFFSET_INVALID): nothing consumed from the partition yet.
    assert committable({A0: -1001}, {}, {A0}, unacked=0, delivery_failed=False) == {}


def test_progress_commits_only_what_it_holds_and_forgets_lost_partitions() -> None:
    progress = Progress()
    progress.take_up({A0: 0, A1: 5})
    progress.forget([A1])  # lost
    assert progress.plan({A0: 3, A1: 9}, unacked=0, delivery_failed=False) == {A0: 3}


def test_progress_counts_the_records_each_commit_covers_and_never_goes_back() -> None:
    progress = Progress()
    progress.take_up({A0: 10})
    progress.advance({A0: 15})
    progress.advance({A0: 12})  # late or stale: ignored
    progress.advance({B0: 4})  # not held: ignored
    partitions, committed, _, records = progress.view()
    assert partitions == [A0]
    assert committed == {A0: 15}
    assert records == {A0: 5}
    # What was committed is the new floor: only a later position is sent again.
    assert progress.plan({A0: 15}, unacked=0, delivery_failed=False) == {}
    assert progress.plan({A0: 16}, unacked=0, delivery_failed=False) == {A0: 16}


def test_end_offsets_are_kept_for_held_partitions_only() -> None:
    progress = Progress()
    progress.take_up({A0: 0})
    progress.set_ends({A0: 40, B0: 7})
    assert progress.view()[2] == {A0: 40}
    progress.forget([A0])
    assert progress.view()[1:3] == ({}, {})


# ---- records the source deleted before they were copied ---------------------------------------


def test_a_gap_the_source_deleted_is_counted_as_lost_and_not_as_delivered() -> None:
    progress = Progress()
    progress.take_up({A0: 10})
    progress.advance({A0: 15})  # 5 copied
    lost = progress.lose(A0, 20, 50)  # copied up to 20 (not committed yet), 20..49 deleted
    assert lost is not None and (lost.records, lost.first, lost.earliest) == (30, 20, 50)
    progress.advance({A0: 60})  # the commit after the gap: 5 before it, 10 after it
    assert progress.view()[3] == {A0: 5 + 5 + 10}
    assert progress.lost() == {A0: lost}


def test_gaps_add_up_and_a_commit_short_of_the_gap_counts_only_what_it_covers() -> None:
    progress = Progress()
    progress.take_up({A0: 0})
    progress.lose(A0, 0, 10)
    progress.advance({A0: 5})  # cannot be past the gap's end, but if it were short: no gap
    assert progress.view()[3] == {A0: 5}
    second = progress.lose(A0, 12, 20)
    assert second is not None and (second.records, second.first, second.earliest) == (18, 12, 20)
    progress.advance({A0: 25})
    # 5 + (25 - 5 - 18 pending lost) = 7 delivered
    assert progress.view()[3] == {A0: 7}


def test_nothing_is_lost_for_a_partition_not_held_or_a_position_at_the_earliest() -> None:
    progress = Progress()
    progress.take_up({A0: 0})
    assert progress.lose(B0, 0, 10) is None
    assert progress.lose(A0, 10, 10) is None
    assert progress.lost() == {}


def test_a_partition_that_resumed_after_a_gap_and_read_nothing_commits_where_it_resumed() -> None:
    # Everything up to the end was deleted: the consumer has no position until a record
    # arrives, and without this a restart would meet and count the same gap again.
    progress = Progress()
    progress.take_up({A0: 3, A1: 0})
    progress.lose(A0, 3, 40)
    assert progress.plan({A0: -1001, A1: 4}, unacked=0, delivery_failed=False) == {A0: 40, A1: 4}
    assert progress.plan({A0: -1001}, unacked=1, delivery_failed=False) == {}
    progress.advance({A0: 40})
    assert progress.view()[3] == {A0: 0}
    assert progress.plan({A0: -1001}, unacked=0, delivery_failed=False) == {}
