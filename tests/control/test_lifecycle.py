"""Lifecycle rules (`ksync.control.lifecycle`) over a real store, no broker: which
operation is allowed in which state (the API answers `Conflict` with 409), what each one
records, and the pause retention window that decides between resuming and resetting.

The controller is played by `observe`: it writes the status workers would have led to.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from ksync.control import lifecycle
from ksync.domain.errors import Conflict, NotFound
from ksync.domain.status import TaskStatus
from ksync.domain.task import TaskChange, TaskView
from ksync.spec import StartPoint, TaskSpec
from ksync.store.repo import Store, as_utc, utcnow

RETENTION = timedelta(hours=24)


def add_task(store: Store, start: dict[str, Any] | None = None) -> TaskView:
    spec = TaskSpec.model_validate(
        {
            "name": "orders-to-sh",
            "source": {
                "instance_id": "ins-src",
                "topics": ["orders"],
                "start": start or {"type": "earliest"},
            },
            "target": {"instance_id": "ins-dst"},
        }
    )
    return store.tasks.add(spec, [])


def observe(store: Store, task_id: str, status: str, error: str | None = None) -> TaskView:
    """What the controller writes once the workers converged."""
    row = store.tasks.observe(task_id, TaskChange(status=TaskStatus(status), error=error))
    assert row is not None
    return row


def events(store: Store, task_id: str) -> list[str]:
    return [e.message for e in reversed(store.tasks.events(task_id))]


def paused_for(store: Store, task_id: str, age: timedelta) -> TaskView:
    """A task that was paused `age` ago and whose members have stopped."""
    lifecycle.pause(store, task_id)
    store.tasks.change(task_id, lambda _task: TaskChange(paused_at=utcnow() - age))
    return observe(store, task_id, "Paused")


# ---- pause ------------------------------------------------------------------------------


def test_pause_records_the_wish_and_the_time_and_leaves_the_status_to_the_controller(
    store: Store,
) -> None:
    task = add_task(store)
    observe(store, task.id, "Running")
    before = utcnow()
    row = lifecycle.pause(store, task.id)
    assert row.desired == "paused"
    assert row.status == "Running"  # until every member committed and stopped
    assert row.paused_at is not None and before <= as_utc(row.paused_at) <= utcnow()


def test_a_pause_under_way_may_be_repeated_but_a_paused_task_refuses_another(store: Store) -> None:
    task = add_task(store)
    observe(store, task.id, "Running")
    first = lifecycle.pause(store, task.id)
    again = lifecycle.pause(store, task.id)  # members still stopping: harmless
    assert first.paused_at is not None and again.paused_at is not None
    assert (again.desired, as_utc(again.paused_at)) == (first.desired, as_utc(first.paused_at))
    observe(store, task.id, "Paused")
    with pytest.raises(Conflict, match=rf"task {task.id} is already paused; start it to resume"):
        lifecycle.pause(store, task.id)


def test_a_failed_task_cannot_be_paused(store: Store) -> None:
    task = add_task(store)
    observe(store, task.id, "Failed", "credentials refused")
    with pytest.raises(Conflict, match=rf"task {task.id} has failed and runs nothing to pause"):
        lifecycle.pause(store, task.id)
    assert store.tasks.get(task.id).desired == "running"


# ---- start ------------------------------------------------------------------------------


def test_start_on_a_running_task_is_a_conflict_and_on_a_starting_one_harmless(store: Store) -> None:
    task = add_task(store)
    before = store.tasks.get(task.id)
    assert lifecycle.start(store, task.id, None, RETENTION).generation == before.generation
    observe(store, task.id, "Running")
    with pytest.raises(Conflict, match=rf"task {task.id} is already running"):
        lifecycle.start(store, task.id, None, RETENTION)


def test_start_on_a_failed_task_tries_again_in_a_new_generation(store: Store) -> None:
    task = add_task(store)
    failed = observe(store, task.id, "Failed", "a record is larger than the target accepts")
    row = lifecycle.start(store, task.id, None, RETENTION)
    assert (row.status, row.error, row.generation) == ("Unassigned", None, failed.generation + 1)
    assert events(store, task.id)[-1] == "started again after failure"


def test_start_within_the_pause_retention_resumes_from_the_committed_progress(store: Store) -> None:
    task = add_task(store, start={"type": "earliest"})
    paused = paused_for(store, task.id, RETENTION - timedelta(minutes=1))
    row = lifecycle.start(store, task.id, StartPoint(type="latest"), RETENTION)
    assert (row.desired, row.status, row.paused_at) == ("running", "Unassigned", None)
    # The progress is kept: no reset, the spec's start point untouched, same generation.
    assert row.reset_start is None
    assert row.spec.source.start.model_dump() == {"type": "earliest", "timestamp_ms": None}
    assert row.generation == paused.generation
    assert events(store, task.id)[-1] == "start requested"


def test_start_after_the_pause_retention_resets_the_progress_to_latest_by_default(
    store: Store,
) -> None:
    task = add_task(store, start={"type": "earliest"})
    paused_for(store, task.id, RETENTION + timedelta(minutes=1))
    row = lifecycle.start(store, task.id, None, RETENTION)
    latest = {"type": "latest", "timestamp_ms": None}
    assert row.reset_start is not None and row.reset_start.model_dump() == latest
    assert row.spec.source.start.model_dump() == latest
    assert (row.desired, row.status, row.paused_at) == ("running", "Unassigned", None)
    assert events(store, task.id)[-1] == (
        "started after the pause retention (86400s): progress reset to latest"
    )


def test_start_after_the_pause_retention_resets_to_the_start_point_given(store: Store) -> None:
    task = add_task(store, start={"type": "latest"})
    paused_for(store, task.id, RETENTION * 3)
    point = StartPoint(type="timestamp", timestamp_ms=1_700_000_000_000)
    row = lifecycle.start(store, task.id, point, RETENTION)
    assert row.reset_start == row.spec.source.start == point
    assert events(store, task.id)[-1].endswith("progress reset to timestamp")


def test_the_retention_is_counted_from_paused_at_not_from_when_members_stopped(
    store: Store,
) -> None:
    """A short retention: paused 2 s ago is inside 10 s and outside 1 s."""
    inside = add_task(store)
    paused_for(store, inside.id, timedelta(seconds=2))
    assert lifecycle.start(store, inside.id, None, timedelta(seconds=10)).reset_start is None
    outside = store.tasks.add(store.tasks.get(inside.id).spec.model_copy(update={"name": "b"}), [])
    paused_for(store, outside.id, timedelta(seconds=2))
    assert lifecycle.start(store, outside.id, None, timedelta(seconds=1)).reset_start is not None


# ---- restart ----------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["Running", "Unassigned", "Failed"])
def test_restart_stops_and_starts_every_member_keeping_the_progress(
    store: Store, status: str
) -> None:
    task = add_task(store)
    before = observe(store, task.id, status, "boom" if status == "Failed" else None)
    row = lifecycle.restart(store, task.id)
    assert (row.status, row.error, row.generation) == ("Unassigned", None, before.generation + 1)
    assert row.reset_start is None and row.desired == "running"


def test_a_paused_task_is_started_not_restarted(store: Store) -> None:
    task = add_task(store)
    paused = paused_for(store, task.id, timedelta(0))
    with pytest.raises(Conflict, match=rf"task {task.id} is paused; start it instead of restarting"):
        lifecycle.restart(store, task.id)
    assert store.tasks.get(task.id).generation == paused.generation


# ---- delete -----------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["Running", "Paused", "Failed", "Unassigned"])
def test_delete_is_allowed_in_every_status_and_may_be_repeated(store: Store, status: str) -> None:
    task = add_task(store)
    observe(store, task.id, status)
    row = lifecycle.delete(store, task.id)
    assert (row.desired, row.status) == ("deleted", "Terminating")
    again = lifecycle.delete(store, task.id)
    assert (again.desired, again.status) == ("deleted", "Terminating")
    assert events(store, task.id).count("delete requested") == 1


@pytest.mark.parametrize(
    "operation",
    [
        lambda s, t: lifecycle.pause(s, t),
        lambda s, t: lifecycle.start(s, t, None, RETENTION),
        lambda s, t: lifecycle.restart(s, t),
        lambda s, t: lifecycle.reset_progress(s, t),
        lambda s, t: lifecycle.update_options(s, t, {"qps_limit": 10}),
    ],
    ids=["pause", "start", "restart", "reset_progress", "update_options"],
)
def test_a_terminating_task_refuses_every_other_operation(store: Store, operation: Any) -> None:
    task = add_task(store)
    lifecycle.delete(store, task.id)
    with pytest.raises(Conflict, match=rf"task {task.id} is being deleted \(Terminating\)"):
        operation(store, task.id)


def test_operations_on_an_unknown_task_say_it_does_not_exist(store: Store) -> None:
    for operation in (lifecycle.pause, lifecycle.restart, lifecycle.delete):
        with pytest.raises(NotFound, match="task task-nope does not exist"):
            operation(store, "task-nope")


# ---- progress reset ---------------------------------------------------------------------


def test_the_progress_is_reset_only_once_every_member_stopped(store: Store) -> None:
    task = add_task(store, start={"type": "latest"})
    observe(store, task.id, "Running")
    with pytest.raises(Conflict, match=rf"task {task.id} is not paused"):
        lifecycle.reset_progress(store, task.id)
    lifecycle.pause(store, task.id)  # members still committing
    with pytest.raises(Conflict, match=rf"task {task.id} is still stopping its members"):
        lifecycle.reset_progress(store, task.id)
    observe(store, task.id, "Paused")
    row = lifecycle.reset_progress(store, task.id)
    assert row.reset_start is not None
    assert row.reset_start.model_dump() == {"type": "latest", "timestamp_ms": None}


# ---- changes in place -------------------------------------------------------------------


def test_update_options_renames_and_keeps_faces_parts_without_a_restart(store: Store) -> None:
    task = add_task(store)
    running = observe(store, task.id, "Running")
    row = lifecycle.update_options(
        store, task.id, {"throttle_mb_s": 5}, name="orders-renamed", external={"tencent": {"Description": "d"}}
    )
    assert (row.name, row.spec.name, row.spec.options.throttle_mb_s) == ("orders-renamed", "orders-renamed", 5)
    assert row.external == {"tencent": {"Description": "d"}}
    assert (row.generation, row.status) == (running.generation, "Running")  # nothing restarts
    assert store.tasks.get(task.id).name == "orders-renamed"
    # Left out, the faces' parts stay.
    assert lifecycle.update_options(store, task.id, {"qps_limit": 7}).external == row.external


def test_update_options_refuses_a_taken_name_and_writes_nothing(store: Store) -> None:
    first, second = add_task(store), add_task(store)
    lifecycle.update_options(store, first.id, {}, name="taken-name")
    before = store.tasks.get(second.id)
    with pytest.raises(Conflict, match="taken-name"):
        lifecycle.update_options(store, second.id, {"throttle_mb_s": 9}, name="taken-name")
    assert store.tasks.get(second.id) == before


# ---- options that change only while paused (mode) ---------------------------------------


def test_mode_changes_only_while_the_task_is_paused_and_the_refusal_says_to_pause_first(
    store: Store,
) -> None:
    task = add_task(store)
    observe(store, task.id, "Running")
    with pytest.raises(Conflict, match="pause it first") as refused:
        lifecycle.update_options(store, task.id, {"mode": "metadata"})
    assert "options.mode" in str(refused.value)
    assert store.tasks.get(task.id).spec.options.mode == "data"  # nothing written
    # Other options still change in place on a running task.
    assert lifecycle.update_options(store, task.id, {"sync_topic_acls": True}).spec.options.sync_topic_acls

    lifecycle.pause(store, task.id)
    row = lifecycle.update_options(store, task.id, {"mode": "metadata"})
    assert row.spec.options.mode == "metadata" and not row.spec.options.copies_records
    observe(store, task.id, "Paused")
    lifecycle.start(store, task.id, None, RETENTION)
    with pytest.raises(Conflict, match="pause it first"):
        lifecycle.update_options(store, task.id, {"mode": "data"})


def test_a_failed_task_runs_nothing_so_its_mode_may_change(store: Store) -> None:
    task = add_task(store)
    observe(store, task.id, "Failed", error="credentials refused")
    assert lifecycle.update_options(store, task.id, {"mode": "metadata"}).spec.options.mode == "metadata"
# ---- delivery guarantee -------------------------------------------------------------------


def test_the_delivery_guarantee_changes_only_while_paused_and_keeps_the_progress(store: Store) -> None:
    task = add_task(store)
    with pytest.raises(Conflict, match="pause it before changing options.delivery"):
        lifecycle.update_options(store, task.id, {"delivery": "exactly_once"})
    assert store.tasks.get(task.id).spec.options.delivery == "at_least_once"
    lifecycle.pause(store, task.id)
    with pytest.raises(Conflict, match="still stopping its members"):
        lifecycle.update_options(store, task.id, {"delivery": "exactly_once"})
    observe(store, task.id, "Paused")
    row = lifecycle.update_options(store, task.id, {"delivery": "exactly_once"})
    assert row.spec.options.delivery == "exactly_once"
    assert (row.reset_start, row.generation) == (None, task.generation)  # progress kept
    # The same value again is no change, so a running task accepts it.
    lifecycle.start(store, task.id, None, RETENTION)
    assert lifecycle.update_options(store, task.id, {"delivery": "exactly_once", "qps_limit": 5})
