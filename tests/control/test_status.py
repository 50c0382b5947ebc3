"""Status derivation (`derive_status`): the pure rule that turns desired state, slots and
member reports into the status a task shows. No store, no broker."""

from __future__ import annotations

import pytest
from factories import member_view

from ksync.control.status import Derived, derive_status
from ksync.domain.status import Desired, TaskStatus
from ksync.domain.workers import MemberView

TOPIC_PARTITIONS = {("orders", 0), ("orders", 1), ("audit", 0)}
LIVE = {"w1", "w2"}


def member(
    slot: int,
    worker: str = "w1",
    state: str = "running",
    partitions: list[tuple[str, int]] | None = None,
    generation: int = 1,
    error: str | None = None,
) -> MemberView:
    return member_view(slot, worker, state, partitions, generation, error)


def derive(
    members: list[MemberView],
    slots: dict[int, str | None] | None = None,
    desired: str = "running",
    current: str = "Unassigned",
    generation: int = 1,
    live: set[str] = LIVE,
    expected: set[tuple[str, int]] | None = TOPIC_PARTITIONS,
) -> Derived:
    slots = {0: "w1"} if slots is None else slots
    return derive_status(
        Desired(desired), TaskStatus(current), generation, slots, members, live, expected
    )


EVERYTHING = sorted(TOPIC_PARTITIONS)


def test_running_when_every_slot_runs_on_its_live_worker_and_owns_every_partition() -> None:
    assert derive([member(0, partitions=EVERYTHING)]) == Derived("Running")


def test_running_needs_the_union_of_the_members_partitions_to_cover_the_topics() -> None:
    two = {0: "w1", 1: "w2"}
    halves = [member(0, "w1", partitions=EVERYTHING[:2]), member(1, "w2", partitions=EVERYTHING[2:])]
    assert derive(halves, two) == Derived("Running")
    short = [member(0, "w1", partitions=EVERYTHING[:2]), member(1, "w2", partitions=[])]
    assert derive(short, two) == Derived("Unassigned")  # a rebalance under way


def test_a_member_left_without_partitions_while_there_are_enough_keeps_the_task_unassigned() -> None:
    # The first member to join owns everything; the second's join is still moving half.
    two = {0: "w1", 1: "w2"}
    first_owns_all = [member(0, "w1", partitions=EVERYTHING), member(1, "w2", partitions=[])]
    assert derive(first_owns_all, two) == Derived("Unassigned")
    # With more members than partitions, Kafka leaves some idle for good: that is Running.
    one_partition = {("orders", 0)}
    idle_by_design = [member(0, "w1", partitions=[("orders", 0)]), member(1, "w2", partitions=[])]
    assert derive(idle_by_design, two, expected=one_partition) == Derived("Running")


def test_unassigned_before_the_topics_resolve_or_while_a_slot_has_no_worker() -> None:
    running = [member(0, partitions=EVERYTHING)]
    assert derive(running, expected=None) == Derived("Unassigned")
    assert derive(running, {0: "w1", 1: None}) == Derived("Unassigned")
    assert derive(running, {}) == Derived("Unassigned")


@pytest.mark.parametrize(
    "reported",
    [
        pytest.param([], id="no member reported yet"),
        pytest.param([member(0, state="starting", partitions=EVERYTHING)], id="still starting"),
        pytest.param([member(0, generation=0, partitions=EVERYTHING)], id="an older generation"),
        pytest.param([member(0, worker="w2", partitions=EVERYTHING)], id="on another worker than its slot"),
        pytest.param([member(0, worker="gone", partitions=EVERYTHING)], id="on a dead worker"),
    ],
)
def test_a_slot_whose_member_is_not_running_there_now_keeps_the_task_unassigned(
    reported: list[MemberView],
) -> None:
    assert derive(reported, {0: "w1"}, live=LIVE) == Derived("Unassigned")


def test_a_failed_member_of_the_current_generation_on_a_live_worker_fails_the_task() -> None:
    failed = member(0, state="failed", error="credentials refused by ins-a")
    assert derive([failed]) == Derived("Failed", "member 0: credentials refused by ins-a")


@pytest.mark.parametrize(
    "failed",
    [
        pytest.param(member(0, state="failed", error="old", generation=0), id="older generation"),
        pytest.param(member(0, worker="gone", state="failed", error="dead"), id="dead worker"),
        pytest.param(member(0, state="failed"), id="no error given"),
    ],
)
def test_a_failure_that_is_stale_or_unexplained_does_not_fail_the_task(failed: MemberView) -> None:
    assert derive([failed]).status == "Unassigned"


def test_failed_stays_failed_whatever_the_members_report_until_the_user_starts_the_task() -> None:
    assert derive([member(0, partitions=EVERYTHING)], current="Failed") == Derived("Failed")


def test_paused_only_once_no_member_runs_on_a_live_worker() -> None:
    still_running = [member(0, partitions=EVERYTHING)]
    # While members commit and stop, the task shows what it was.
    assert derive(still_running, desired="paused", current="Running") == Derived("Running")
    assert derive([member(0, state="stopping")], desired="paused", current="Running") == Derived(
        "Running"
    )
    assert derive([member(0, state="stopped")], desired="paused", current="Running") == Derived(
        "Paused"
    )
    assert derive([], desired="paused", current="Running") == Derived("Paused")
    # A member on a dead worker runs nothing: it does not hold the pause up.
    dead = [member(0, worker="gone", partitions=EVERYTHING)]
    assert derive(dead, desired="paused", current="Running") == Derived("Paused")


def test_a_deleted_task_is_terminating_whatever_runs() -> None:
    for current in ("Running", "Paused", "Failed", "Unassigned"):
        assert derive([member(0, partitions=EVERYTHING)], desired="deleted", current=current) == (
            Derived("Terminating")
        )


# ---- a metadata-only task (options.mode: metadata) runs no member ------------------------


def metadata(
    members: list[MemberView],
    expected: set[tuple[str, int]] | None = TOPIC_PARTITIONS,
    desired: str = "running",
    current: str = "Unassigned",
) -> Derived:
    return derive_status(
        Desired(desired), TaskStatus(current), 1, {}, members, LIVE, expected, copies_records=False
    )


def test_a_metadata_task_is_running_once_its_topics_are_resolved_without_any_slot() -> None:
    assert metadata([]) == Derived("Running")
    assert metadata([], expected=None) == Derived("Unassigned")  # selection not resolved yet
    # The same task copying records would wait for a member forever.
    assert derive([], slots={}) == Derived("Unassigned")


def test_a_metadata_task_pauses_and_stays_failed_like_any_other() -> None:
    assert metadata([], desired="paused", current="Running") == Derived("Paused")
    assert metadata([], current="Failed") == Derived("Failed")
