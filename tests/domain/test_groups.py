"""The consumer group naming rule (`ksync.domain.groups`): pure, no broker."""

from __future__ import annotations

from ksync.domain.groups import group_id, task_of_group


def test_a_task_group_is_named_after_the_task_and_read_back() -> None:
    assert group_id("task-ab12cd34") == "ksync-task-ab12cd34"
    assert task_of_group(group_id("task-ab12cd34")) == "task-ab12cd34"


def test_groups_ksync_did_not_name_belong_to_no_task() -> None:
    assert task_of_group("orders-consumers") is None
    assert task_of_group("ksync-") is None
    assert task_of_group("KSYNC-task-1") is None
