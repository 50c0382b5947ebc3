"""Partition shares: every partition has exactly one slot, shares are even, and growth
never moves a partition. Pure, no broker."""

from __future__ import annotations

from collections import Counter

import pytest

from ksync.replication.shares import share, slot_of


@pytest.mark.parametrize("task_max", [1, 2, 3, 5, 8])
def test_every_partition_belongs_to_exactly_one_slot(task_max: int) -> None:
    partitions = {"orders": 12, "users": 3, "audit.log": 1}
    shares = [share(partitions, slot, task_max) for slot in range(task_max)]
    everything = {(t, p) for t, n in partitions.items() for p in range(n)}
    assert set().union(*shares) == everything
    assert sum(len(s) for s in shares) == len(everything), "a partition in two shares"


def test_eight_partitions_over_two_slots_are_four_and_four() -> None:
    for topic in ("orders", "t", "bench.200b", "x" * 200):
        assert [len(share({topic: 8}, slot, 2)) for slot in range(2)] == [4, 4], topic


def test_twelve_partitions_over_three_slots_are_four_each() -> None:
    assert [len(share({"rebalance.t": 12}, slot, 3)) for slot in range(3)] == [4, 4, 4]


def test_many_one_partition_topics_spread_about_evenly() -> None:
    topics = {f"tenant-{i}.events": 1 for i in range(400)}
    counts = Counter(slot_of(t, 0, 4) for t in topics)
    assert sorted(counts) == [0, 1, 2, 3]
    assert min(counts.values()) >= 70 and max(counts.values()) <= 130, counts


def test_added_partitions_and_topics_never_move_an_existing_partition() -> None:
    before = {"orders": 6, "users": 2}
    after = {"orders": 10, "users": 2, "new-topic": 4}
    for slot in range(3):
        old, new = share(before, slot, 3), share(after, slot, 3)
        assert old <= new, f"slot {slot} lost {old - new}"


def test_with_more_slots_than_partitions_some_shares_are_empty() -> None:
    shares = [share({"only": 2}, slot, 5) for slot in range(5)]
    assert sorted(len(s) for s in shares) == [0, 0, 0, 1, 1]


def test_the_slot_is_the_standard_crc32_of_the_name_plus_the_partition() -> None:
    # A reference value (CRC-32 of b"orders" is 3845127662): a hash that changed between
    # processes or releases would move partitions between members of one task running in
    # different processes, or across an upgrade.
    assert slot_of("orders", 0, 7) == 3845127662 % 7 == 5
    assert [slot_of("orders", p, 7) for p in range(3)] == [5, 6, 0]
