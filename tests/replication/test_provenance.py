"""The loop check (`cycle_warnings`): a task that syncs the opposite way of another task
between the same two Kafka clusters gets a warning naming that task. Pure: task and
instance views built in memory, no store, no broker.

The check compares Kafka cluster ids, not instance ids: two instances registered for one
cluster are the same cluster to a record.
"""

from __future__ import annotations

from dataclasses import replace

from factories import instance_view, task_view

from ksync.domain.task import TaskView
from ksync.replication.provenance import cycle_warnings
from ksync.spec import TaskSpec

INSTANCES = {
    "ins-a": instance_view("ins-a", cluster_id="cluster-A"),
    "ins-b": instance_view("ins-b", cluster_id="cluster-B"),
    "ins-c": instance_view("ins-c", cluster_id="cluster-C"),
    "ins-a2": instance_view("ins-a2", cluster_id="cluster-A"),  # cluster A registered twice
}


def task(task_id: str, source: str, target: str, desired: str = "running") -> TaskView:
    return task_view(task_id, source, target, name=f"{task_id}-name", desired=desired)


def warnings_for(mine: TaskView, *others: TaskView) -> list[str]:
    return cycle_warnings(mine, [mine, *others], INSTANCES)


def test_opposite_directions_between_two_clusters_warn_naming_the_other_task() -> None:
    a_to_b, b_to_a = task("task-ab", "ins-a", "ins-b"), task("task-ba", "ins-b", "ins-a")
    (warning,) = warnings_for(b_to_a, a_to_b)
    assert warning == (
        "this task and task task-ab (task-ab-name) sync in opposite directions between the "
        "same two clusters over topic orders: a sync loop; ksync copies each record once (the ksync-origin "
        "header stops it from coming back)"
    )
    assert "task task-ba (task-ba-name)" in warnings_for(a_to_b, b_to_a)[0]


def test_the_same_cluster_under_another_instance_id_still_closes_the_loop() -> None:
    (warning,) = warnings_for(task("task-ba", "ins-b", "ins-a2"), task("task-ab", "ins-a", "ins-b"))
    assert "task task-ab" in warning


def test_tasks_that_do_not_close_a_loop_give_no_warning() -> None:
    mine = task("task-ab", "ins-a", "ins-b")
    assert warnings_for(mine) == []  # alone (it is in the list itself)
    assert warnings_for(mine, task("task-ab2", "ins-a", "ins-b")) == []  # the same direction
    assert warnings_for(mine, task("task-bc", "ins-b", "ins-c")) == []  # onward, not back
    assert warnings_for(mine, task("task-ca", "ins-c", "ins-a")) == []  # into its source


def test_a_deleted_task_closes_no_loop() -> None:
    mine = task("task-ab", "ins-a", "ins-b")
    assert warnings_for(mine, task("task-ba", "ins-b", "ins-a", desired="deleted")) == []
    assert warnings_for(mine, task("task-ba", "ins-b", "ins-a", desired="paused")) != []


def test_an_instance_that_no_longer_exists_closes_no_loop() -> None:
    assert warnings_for(task("task-xb", "ins-gone", "ins-b"), task("task-bx", "ins-b", "ins-gone")) == []


def test_each_task_in_the_opposite_direction_gets_its_own_warning() -> None:
    mine = task("task-ab", "ins-a", "ins-b")
    got = warnings_for(mine, task("task-ba1", "ins-b", "ins-a"), task("task-ba2", "ins-b", "ins-a2"))
    assert [w.split(" (")[0] for w in got] == [
        "this task and task task-ba1",
        "this task and task task-ba2",
    ]


def named(task_id: str, source: str, target: str, topics: list[str], **target_spec: object) -> TaskView:
    """A task over `topics` with the given target naming (`topic_map`, `topic_prefix`...)."""
    spec = TaskSpec.model_validate(
        {
            "name": f"{task_id}-name",
            "source": {"instance_id": source, "topics": topics},
            "target": {"instance_id": target, **target_spec},
        }
    )
    return replace(task(task_id, source, target), spec=spec)


def test_a_mapped_name_read_back_by_the_opposite_task_is_a_loop() -> None:
    """orders -> orders-bak one way and orders-bak -> orders the other: the warning names
    the topic by its mapped name, which the prefix rule alone would not give."""
    there = named("task-ab", "ins-a", "ins-b", ["orders"], topic_map={"orders": "orders-bak"})
    back = named("task-ba", "ins-b", "ins-a", ["orders-bak"])
    (warning,) = warnings_for(back, there)
    assert "task task-ab (task-ab-name)" in warning
    assert "over topic orders-bak:" in warning


def test_opposite_tasks_over_unrelated_topics_close_no_loop() -> None:
    """A map sends orders elsewhere, so the task reading `orders` back on B reads nothing
    the first one writes; nor does the first read what the second writes."""
    there = named("task-ab", "ins-a", "ins-b", ["orders"], topic_map={"orders": "orders-bak"})
    back = named("task-ba", "ins-b", "ins-a", ["orders"], topic_prefix="b")
    assert warnings_for(back, there) == []
    assert warnings_for(there, back) == []


def test_a_regex_task_may_write_any_name_so_it_closes_the_loop() -> None:
    there = replace(
        task("task-ab", "ins-a", "ins-b"),
        spec=TaskSpec.model_validate(
            {
                "name": "task-ab-name",
                "source": {"instance_id": "ins-a", "topic_regex": "orders-.*"},
                "target": {"instance_id": "ins-b"},
            }
        ),
    )
    back = named("task-ba", "ins-b", "ins-a", ["payments"])
    (warning,) = warnings_for(back, there)
    assert "task task-ab" in warning and "over topic" not in warning
