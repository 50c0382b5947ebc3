"""Member slot assignment (`assign_slots`): which live worker runs each slot. Pure."""

from __future__ import annotations

from collections import Counter

from ksync.control.assignment import assign_slots, no_room_warning


def test_a_slot_on_a_live_worker_never_moves_even_when_the_load_is_uneven() -> None:
    load = Counter({"w1": 9, "w2": 0})
    assert assign_slots("t", 2, {0: "w1", 1: "w1"}, ["w1", "w2"], load) == {0: "w1", 1: "w1"}
    assert load == Counter({"w1": 9, "w2": 0})  # nothing was placed


def test_the_slots_of_a_dead_worker_go_to_live_ones() -> None:
    load: Counter[str] = Counter({"w1": 1, "w3": 0})
    got = assign_slots("t", 2, {0: "w1", 1: "w2"}, ["w1", "w3"], load)
    assert got == {0: "w1", 1: "w3"}
    assert load == Counter({"w1": 1, "w3": 1})


def test_with_no_live_worker_every_slot_is_unassigned() -> None:
    assert assign_slots("t", 3, {0: "w1"}, [], Counter()) == {0: None, 1: None, 2: None}


def test_free_slots_spread_over_workers_before_filling_the_least_loaded() -> None:
    # w2 carries other tasks' slots, yet the second slot of this task goes there: two
    # members on one worker would die together.
    load = Counter({"w1": 0, "w2": 5})
    assert assign_slots("t", 2, {}, ["w1", "w2"], load) == {0: "w1", 1: "w2"}
    assert assign_slots("u", 2, {0: "w2"}, ["w1", "w2"], Counter({"w1": 50})) == {0: "w2", 1: "w1"}


def test_beyond_one_slot_per_worker_the_least_loaded_worker_gets_the_next() -> None:
    load = Counter({"w1": 3, "w2": 1})
    assert assign_slots("t", 4, {}, ["w1", "w2"], load) == {0: "w2", 1: "w1", 2: "w2", 3: "w1"}
    assert load == Counter({"w1": 5, "w2": 3})


def test_ties_break_on_the_worker_id_so_every_controller_decides_alike() -> None:
    assert assign_slots("t", 1, {}, ["w3", "w1", "w2"], Counter()) == {0: "w1"}


def test_the_load_is_updated_in_place_so_successive_tasks_spread_too() -> None:
    load: Counter[str] = Counter()
    workers = ["w1", "w2", "w3"]
    placed = [assign_slots(task, 1, {}, workers, load)[0] for task in ("a", "b", "c", "d")]
    assert placed == ["w1", "w2", "w3", "w1"]
    assert load == Counter({"w1": 2, "w2": 1, "w3": 1})


def test_a_lower_task_max_drops_the_slots_above_it() -> None:
    got = assign_slots("t", 1, {0: "w1", 1: "w2", 2: "w3"}, ["w1", "w2", "w3"], Counter())
    assert got == {0: "w1"}


# ---- --max-members ----------------------------------------------------------------------


def test_a_worker_is_never_given_more_slots_than_its_cap() -> None:
    load = Counter({"w1": 1, "w2": 0})
    got = assign_slots("t", 4, {}, ["w1", "w2"], load, {"w1": 2, "w2": 1})
    assert got == {0: "w2", 1: "w1", 2: None, 3: None}
    assert load == Counter({"w1": 2, "w2": 1})


def test_a_worker_without_a_cap_takes_what_the_capped_ones_cannot() -> None:
    got = assign_slots("t", 3, {}, ["w1", "w2"], Counter(), {"w1": 1, "w2": None})
    assert got == {0: "w1", 1: "w2", 2: "w2"}


def test_a_worker_over_its_cap_gives_up_slots_until_it_is_not() -> None:
    # Restarted under the same id with a lower --max-members: 3 slots, room for 2.
    load = Counter({"w1": 3, "w2": 0})
    got = assign_slots("t", 3, {0: "w1", 1: "w1", 2: "w1"}, ["w1", "w2"], load, {"w1": 2})
    assert got == {0: "w2", 1: "w1", 2: "w1"}
    assert load == Counter({"w1": 2, "w2": 1})


def test_the_warning_names_the_waiting_slots_the_full_workers_and_the_option() -> None:
    load = Counter({"w1": 2, "w2": 1})
    message = no_room_warning({0: "w1", 1: None, 2: None}, {"w1": 2, "w2": 1}, load)
    assert message is not None
    assert "slots 1, 2 not assigned" in message
    assert "w1 2 of 2, w2 1 of 1" in message
    assert "raise --max-members" in message and "add a worker" in message


def test_no_warning_when_every_slot_has_a_worker_or_no_worker_is_alive() -> None:
    assert no_room_warning({0: "w1"}, {"w1": 1}, Counter({"w1": 1})) is None
    assert no_room_warning({0: None}, {}, Counter()) is None
