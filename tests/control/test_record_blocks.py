"""How the controller shows a topic a member blocked because the target refuses one of its
records (`Controller._overlay_record_blocks`, `_store_topics`): reported by a live member
of the current generation, it is blocked by "record" with the member's sentence; once no
member reports it and a member has committed past the refused record, it syncs again (a
restarted member that has not read up to the record yet leaves it blocked); a topic
refresh does not clear it, and a member's report never hides what the controller itself
blocked."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ksync.control.controller import Controller, ControllerSettings
from ksync.domain.status import MemberState
from ksync.domain.task import TaskChange, TaskView
from ksync.domain.topics import TopicMapping
from ksync.domain.workers import MemberView
from ksync.spec import TaskSpec
from ksync.store.repo import Store

WHY = "the target refuses the record at offset 5 of orders[0]: it is too large"


def task_with_topics(store: Store) -> TaskView:
    spec = TaskSpec.model_validate(
        {
            "name": "orders-to-sh",
            "source": {"instance_id": "ins-src", "topics": ["orders", "audit", "wide"]},
            "target": {"instance_id": "ins-dst"},
        }
    )
    task = store.tasks.add(spec, [])
    topics = (
        TopicMapping("orders", "orders", 2, 2),
        TopicMapping("audit", "audit", 1, 1),
        TopicMapping("wide", "wide", 4, 4).blocked("target topic wide has 1 partition"),
    )
    observed = store.tasks.observe(task.id, TaskChange(topics=topics))
    assert observed is not None
    return observed


def member(task: TaskView, blocked: dict[str, str], generation: int | None = None,
           worker: str = "w1", blocked_at: dict[str, list[int]] | None = None,
           committed: dict[tuple[str, int], int] | None = None) -> MemberView:
    metrics: dict[str, Any] = {"run_id": "r1", "blocked": blocked, "blocked_at": blocked_at or {}}
    return MemberView(
        task_id=task.id,
        slot=0,
        worker_id=worker,
        generation=task.generation if generation is None else generation,
        state=MemberState.RUNNING,
        partitions=(("orders", 0), ("orders", 1), ("audit", 0)),
        progress=tuple(
            {"topic": t, "partition": p, "committed_offset": off, "end_offset": None}
            for (t, p), off in (committed or {}).items()
        ),
        error=None,
        warnings=(),
        records_total=0,
        metrics=metrics,
        updated_at=datetime.now(UTC),
    )


def states(task: TaskView) -> dict[str, tuple[str, str | None, str | None]]:
    return {t.source: (t.state, t.blocked_by, t.error) for t in task.topics}


def test_a_reported_block_shows_on_its_topic_and_goes_when_no_member_reports_it(
    store: Store,
) -> None:
    controller = Controller(store, ControllerSettings(holder_id="test"))
    task = task_with_topics(store)

    shown = controller._overlay_record_blocks(task, [member(task, {"orders": WHY, "wide": WHY})], ["w1"])
    assert states(shown)["orders"] == ("blocked", "record", WHY)
    assert states(shown)["audit"] == ("syncing", None, None)
    # What the controller blocked stays the controller's, with its own sentence.
    assert states(shown)["wide"] == ("blocked", "topic", "target topic wide has 1 partition")
    assert states(store.tasks.get(task.id)) == states(shown)
    # A record-blocked topic is still the members': they hold and retry it.
    assert next(t for t in shown.topics if t.source == "orders").copied

    # A topic refresh (the selection resolved again: every topic syncing) keeps the block.
    refreshed = controller._store_topics(
        shown, [TopicMapping("orders", "orders", 2), TopicMapping("audit", "audit", 1)]
    )
    assert states(refreshed)["orders"] == ("blocked", "record", WHY)

    again = controller._overlay_record_blocks(refreshed, [member(task, {})], ["w1"])
    assert states(again)["orders"] == ("syncing", None, None)
    assert states(store.tasks.get(task.id))["orders"] == ("syncing", None, None)


def test_only_live_members_of_the_current_generation_count(store: Store) -> None:
    controller = Controller(store, ControllerSettings(holder_id="test"))
    task = task_with_topics(store)
    stale = [
        member(task, {"orders": WHY}, generation=task.generation - 1),
        member(task, {"orders": WHY}, worker="gone"),
    ]
    shown = controller._overlay_record_blocks(task, stale, ["w1"])
    assert states(shown)["orders"] == ("syncing", None, None)


def test_a_block_outlives_a_member_restart_until_a_member_copies_past_the_record(
    store: Store,
) -> None:
    """A restart (here: a new generation) starts members that report nothing until they
    read the refused record again: the topic stays blocked, with the record's position,
    and syncs only once the progress of its partition is past that record."""
    controller = Controller(store, ControllerSettings(holder_id="test"))
    task = task_with_topics(store)
    at = {"orders": [0, 5]}
    shown = controller._overlay_record_blocks(
        task, [member(task, {"orders": WHY}, blocked_at=at, committed={("orders", 0): 5})], ["w1"]
    )
    orders = next(t for t in shown.topics if t.source == "orders")
    assert (orders.state, orders.blocked_at) == ("blocked", (0, 5))
    stored = next(t for t in store.tasks.get(task.id).topics if t.source == "orders")
    assert stored.blocked_at == (0, 5)  # kept with the task, so a new controller knows it

    # The task restarts: the members of the new generation have not reported yet, then
    # report positions up to the record but no block.
    restarted = store.tasks.observe(task.id, TaskChange(generation=task.generation + 1))
    assert restarted is not None
    # A topic refresh meanwhile keeps the record's position too.
    restarted = controller._store_topics(
        restarted, [TopicMapping("orders", "orders", 2), TopicMapping("audit", "audit", 1)]
    )
    for members in ([], [member(restarted, {}, committed={("orders", 0): 5, ("orders", 1): 9})]):
        held = controller._overlay_record_blocks(restarted, members, ["w1"])
        assert states(held)["orders"] == ("blocked", "record", WHY), members

    # The new member finds the record again: still blocked, same place.
    again = controller._overlay_record_blocks(
        restarted, [member(restarted, {"orders": WHY}, blocked_at=at, committed={("orders", 0): 5})],
        ["w1"],
    )
    assert states(again)["orders"] == ("blocked", "record", WHY)

    # Fixed on the target: the member resumes (no block reported) and commits past it.
    past = controller._overlay_record_blocks(
        again, [member(again, {}, committed={("orders", 0): 6})], ["w1"]
    )
    assert states(past)["orders"] == ("syncing", None, None)
    assert next(t for t in past.topics if t.source == "orders").blocked_at is None
