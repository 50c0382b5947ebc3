"""`target.topic_map` at the edge, no broker: names Kafka accepts on both sides, several
source topics onto one target topic only without keep_partition, no mapped name taking
the prefix name of another selected topic, nothing mapped onto itself within one
cluster. Each refusal is a 422 (`InvalidField` / a pydantic error) naming
`target.topic_map` and what is allowed, and writes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from ksync.control import lifecycle
from ksync.domain.errors import InvalidField
from ksync.spec import InstanceSpec, TaskSpec
from ksync.store.repo import Store

MAX_TASKS = 100  # the task cap is not what these tests are about


def instances(store: Store, same_cluster: bool = False) -> tuple[str, str]:
    src = store.instances.add(
        InstanceSpec(name="src", bootstrap_servers="127.0.0.1:9092"), "cluster-src", 1
    )
    dst = store.instances.add(
        InstanceSpec(name="dst", bootstrap_servers="127.0.0.1:9093"),
        "cluster-src" if same_cluster else "cluster-dst",
        1,
    )
    return src.id, dst.id


def spec(src: str, dst: str, source: dict[str, Any], **target: Any) -> TaskSpec:
    return TaskSpec.model_validate(
        {
            "name": "mapped",
            "source": {"instance_id": src, **source},
            "target": {"instance_id": dst, **target},
        }
    )


def refused(store: Store, task: TaskSpec) -> str:
    with pytest.raises(InvalidField) as info:
        lifecycle.create(store, task, max_tasks=MAX_TASKS)
    assert info.value.field == "target.topic_map"
    assert store.tasks.all() == []  # nothing written
    return info.value.reason


@pytest.mark.parametrize(
    ("topic_map", "bad"),
    [
        ({"orders": "orders bak"}, "'orders bak' is not a valid topic name"),
        ({"orders": ""}, "'' is not a valid topic name"),
        ({"orders/x": "orders-bak"}, "'orders/x' is not a valid topic name"),
        ({"orders": "x" * 250}, "is not a valid topic name"),
        ({"orders": ".."}, "'..' is not a valid topic name"),
    ],
)
def test_both_sides_must_be_kafka_topic_names(topic_map: dict[str, str], bad: str) -> None:
    with pytest.raises(ValidationError) as info:
        spec("ins-a", "ins-b", {"topics": ["orders"]}, topic_map=topic_map)
    (error,) = info.value.errors()
    assert error["loc"] == ("target", "topic_map")
    assert bad in error["msg"]
    assert "use 1 to 249 of [A-Za-z0-9._-]" in error["msg"]


def test_a_merge_needs_keep_partition_false(store: Store) -> None:
    src, dst = instances(store)
    merge = {"eu": "all", "us": "all", "asia": "all"}
    reason = refused(store, spec(src, dst, {"topics": ["eu", "us", "asia"]}, topic_map=merge))
    assert reason == (
        "source topics asia, eu, us would all be copied to target topic all with "
        "keep_partition true; partitions of different source topics cannot keep their "
        "numbers in one target topic: set target.keep_partition to false (records are then "
        "spread by key), or give each source topic a target topic of its own"
    )
    task = lifecycle.create(
        store,
        spec(src, dst, {"topics": ["eu", "us", "asia"]}, topic_map=merge, keep_partition=False),
        max_tasks=MAX_TASKS,
    )
    assert dict(task.spec.target.topic_map) == merge


def test_a_mapped_name_must_not_take_another_topics_prefix_name(store: Store) -> None:
    """With prefix `bak`, `orders -> bak.payments` collides with where `payments` (listed,
    or matched by the regex) goes under the prefix rule."""
    src, dst = instances(store)
    collide = {"orders": "bak.payments"}
    for source in ({"topics": ["orders", "payments"]}, {"topic_regex": "orders|pay.*"}):
        reason = refused(store, spec(src, dst, source, topic_prefix="bak", topic_map=collide))
        assert reason.startswith(
            "source topics orders, payments would all be copied to target topic bak.payments"
        )
    # Not selected: no collision. Mapped itself: its prefix name is free.
    lifecycle.create(
        store, spec(src, dst, {"topics": ["orders"]}, topic_prefix="bak", topic_map=collide),
        max_tasks=MAX_TASKS,
    )
    both = {"orders": "bak.payments", "payments": "pay-bak"}
    lifecycle.create(
        store,
        spec(
            src, dst, {"topics": ["orders", "payments"]}, topic_prefix="bak", topic_map=both
        ).model_copy(update={"name": "swapped"}),
        max_tasks=MAX_TASKS,
    )


def test_a_patch_is_checked_the_same_way(store: Store) -> None:
    src, dst = instances(store)
    task = lifecycle.create(store, spec(src, dst, {"topics": ["eu", "us"]}), max_tasks=MAX_TASKS)
    with pytest.raises(InvalidField) as info:
        lifecycle.reconfigure(
            store, task.id, spec(src, dst, {"topics": ["eu", "us"]}, topic_map={"eu": "us"})
        )
    assert info.value.field == "target.topic_map"
    assert "source topics eu, us would all be copied to target topic us" in info.value.reason
    assert store.tasks.get(task.id).spec.target.topic_map == {}


def test_within_one_cluster_nothing_is_mapped_onto_itself(store: Store) -> None:
    src, dst = instances(store, same_cluster=True)
    reason = refused(
        store,
        spec(src, dst, {"topics": ["orders"]}, topic_prefix="p", topic_map={"orders": "orders"}),
    )
    assert reason == (
        "source and target are the same Kafka cluster: orders would be synced onto itself; "
        "map it to another name"
    )


def test_within_one_cluster_nothing_is_mapped_onto_a_topic_the_task_reads(store: Store) -> None:
    src, dst = instances(store, same_cluster=True)
    task = spec(src, dst, {"topics": ["a", "b"]}, topic_prefix="p", topic_map={"a": "b"})
    assert refused(store, task) == (
        "source and target are the same Kafka cluster: b would be both read and written by "
        "this task; map to a topic the task does not read"
    )
