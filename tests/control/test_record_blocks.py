"""How the controller shows a topic a member blocked because the target refuses one of its
records (`Controller._overlay_record_blocks`, `_store_topics`): reported by a live member
of the current generation, it is blocked by "record" with the member's sentence; once no
member reports it, it syncs again; a topic refresh does not clear it, and a member's
report never hides what the controller itself blocked."""

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
           worker: str = "w1") -> MemberView:
    metrics: dict[str, Any] = {"run_id": "r1", "blocked": blocked}
    return MemberView(
        task_id=task.id,
        slot=0,
        worker_id=worker,
        generation=task.generation if generation is None else generation,
        state=MemberState.RUNNING,
        partitions=(("orders", 0), ("orders", 1), ("audit", 0)),
        progress=(),
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
