"""ModifyDatahubTask and DescribeTaskStatus through the official SDK, in process (no
broker): what a modify changes (name, description, parallelism, limits), what it refuses
(each naming the field, writing nothing), and how a task's flow reads as its status
moves. The statuses a controller would write are written into the store here; the run
against real clusters is in test_tencent.py."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from inprocess import add_instance_row, app_on_store, serving
from tencentcloud.ckafka.v20190819 import ckafka_client
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

from ksync.api.auth import ApiKey, KeyRing
from ksync.api.compat.tencent.datahub import flow_id
from ksync.domain.status import TaskStatus
from ksync.domain.task import TaskChange
from ksync.store.repo import Store

from .tencent_sdk import KEY_ID, KEY_SECRET, REGION, call, describe, kafka, refused, sdk

pytestmark = pytest.mark.filterwarnings("error:.*fileds are useless")


@dataclass(frozen=True)
class Local:
    url: str
    host: str
    store: Store
    src_id: str
    dst_id: str


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    keys = KeyRing([ApiKey(KEY_ID, KEY_SECRET)])
    with app_on_store(tmp_path_factory.mktemp("tencent-modify"), keys) as app, serving(app) as url:
        store = app.state.store
        src = add_instance_row(store, "tm-src", region=REGION)
        dst = add_instance_row(store, "tm-dst", region=REGION)
        yield Local(url, url.removeprefix("http://"), store, src, dst)


@pytest.fixture(scope="module")
def tc(local: Local) -> ckafka_client.CkafkaClient:
    return sdk(local.host)


def native(local: Local, task_id: str) -> dict[str, Any]:
    with httpx.Client(base_url=local.url, headers={"Authorization": f"Bearer {KEY_SECRET}"}) as c:
        r = c.get(f"/api/v1/tasks/{task_id}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


@pytest.fixture
def task(tc: ckafka_client.CkafkaClient, local: Local) -> Iterator[str]:
    name = f"tm-{uuid.uuid4().hex[:6]}"
    task_id = call(
        tc,
        "CreateDatahubTask",
        TaskName=name,
        TaskType="SOURCE",
        Description="before",
        SourceResource=kafka(local.src_id, Topic="orders"),
        TargetResource=kafka(local.dst_id, Prefix=name),
    ).Result.TaskId
    yield task_id
    call(tc, "DeleteDatahubTask", TaskId=task_id)


def test_modify_changes_name_description_parallelism_and_limits(
    tc: ckafka_client.CkafkaClient, local: Local, task: str
) -> None:
    before = native(local, task)
    new_name = f"tm-renamed-{uuid.uuid4().hex[:6]}"
    result = call(
        tc,
        "ModifyDatahubTask",
        TaskId=task,
        TaskName=new_name,
        Description="after",
        TasksMax=3,
        SyncThrottleLimit=20,
        AutoExpandFlag=False,
    ).Result
    assert result.TaskId == task

    shown = describe(tc, task)
    assert (shown.TaskName, shown.Description, shown.TaskMax, shown.SyncThrottleLimit) == (
        new_name,
        "after",
        3,
        20,
    )
    after = native(local, task)
    assert after["name"] == new_name
    assert after["options"]["task_max"] == 3 and after["options"]["throttle_mb_s"] == 20
    # A new parallelism moves the task to a new generation; the rest of the spec stays.
    assert after["source"] == before["source"] and after["target"] == before["target"]

    # QpsLimit is ksync's addition to the action: the SDK sends it with call_json.
    answer = tc.call_json("ModifyDatahubTask", {"TaskId": task, "QpsLimit": 500})
    assert answer["Response"]["Result"]["TaskId"] == task
    assert native(local, task)["options"]["qps_limit"] == 500
    assert describe(tc, task).SourceResource.KafkaParam.QpsLimit == 500
    # Only what is given changes.
    call(tc, "ModifyDatahubTask", TaskId=task, SyncThrottleLimit=5)
    again = describe(tc, task)
    assert (again.TaskName, again.Description, again.TaskMax, again.SyncThrottleLimit) == (
        new_name,
        "after",
        3,
        5,
    )


def test_modify_refusals_name_the_field_and_write_nothing(
    tc: ckafka_client.CkafkaClient, local: Local, task: str
) -> None:
    other = f"tm-other-{uuid.uuid4().hex[:6]}"
    other_id = call(
        tc,
        "CreateDatahubTask",
        TaskName=other,
        TaskType="SOURCE",
        SourceResource=kafka(local.src_id, Topic="orders"),
        TargetResource=kafka(local.dst_id, Prefix=other),
    ).Result.TaskId
    try:
        before = native(local, task)
        described = describe(tc, task)
        cases: list[tuple[dict[str, Any], str, str]] = [
            ({"TasksMax": 0}, "InvalidParameterValue", "TasksMax"),
            ({"TasksMax": 65}, "InvalidParameterValue", "TasksMax"),
            ({"SyncThrottleLimit": 0}, "InvalidParameterValue", "SyncThrottleLimit"),
            ({"SyncThrottleLimit": -3, "TaskName": "tm-fine"}, "InvalidParameterValue", "SyncThrottleLimit"),
            ({"TaskName": "9-starts-with-a-digit"}, "InvalidParameterValue", "TaskName"),
            ({"TaskName": other}, "InvalidParameterValue", "TaskName"),
            ({"AutoExpandFlag": True}, "UnsupportedOperation", "AutoExpandFlag"),
            ({"TasksMax": "two"}, "InvalidParameter", "TasksMax"),
        ]
        for over, code, word in cases:
            exc = refused(tc, "ModifyDatahubTask", TaskId=task, **over)
            assert exc.code == code and word in exc.message, (over, exc.code, exc.message)
        # A bad Description-with-limit pair writes neither.
        exc = refused(tc, "ModifyDatahubTask", TaskId=task, Description="changed", TasksMax=0)
        assert exc.code == "InvalidParameterValue" and "TasksMax" in exc.message
        exc = refused(tc, "ModifyDatahubTask", TaskId="task-nosuch00", TasksMax=2)
        assert exc.code == "ResourceNotFound" and "task-nosuch00" in exc.message
        exc = refused(tc, "ModifyDatahubTask", TasksMax=2)
        assert exc.code == "MissingParameter" and "TaskId" in exc.message
        with pytest.raises(TencentCloudSDKException) as info:  # a field the action has not
            tc.call_json("ModifyDatahubTask", {"TaskId": task, "Partitions": 3})
        assert info.value.code == "UnknownParameter" and "Partitions" in info.value.message
        assert native(local, task) == before
        assert describe(tc, task).Description == described.Description == "before"
    finally:
        call(tc, "DeleteDatahubTask", TaskId=other_id)


def test_task_status_follows_the_latest_operation(
    tc: ckafka_client.CkafkaClient, local: Local, task: str
) -> None:
    flow = flow_id(task)
    assert isinstance(flow, int) and flow >= 0

    def status() -> tuple[int, str]:
        result = call(tc, "DescribeTaskStatus", FlowId=flow).Result
        assert task in result.Output, result.Output
        return result.Status, result.Output

    assert status()[0] == 2  # created, not yet running
    local.store.tasks.observe(task, TaskChange(status=TaskStatus.RUNNING))
    assert status()[0] == 0
    call(tc, "PauseDatahubTask", TaskId=task)
    code, output = status()
    assert code == 2 and "pause under way" in output
    local.store.tasks.observe(task, TaskChange(status=TaskStatus.PAUSED))
    assert status()[0] == 0
    call(tc, "ResumeDatahubTask", TaskId=task)
    assert status()[0] == 2
    local.store.tasks.observe(
        task, TaskChange(status=TaskStatus.FAILED, error="topic orders: authorization refused")
    )
    code, output = status()
    assert code == 1 and "authorization refused" in output
    call(tc, "DeleteDatahubTask", TaskId=task)
    code, output = status()
    assert code == 2 and "deletion under way" in output


def test_task_status_refusals(tc: ckafka_client.CkafkaClient) -> None:
    exc = refused(tc, "DescribeTaskStatus", FlowId=flow_id("task-nosuch00"))
    assert exc.code == "ResourceNotFound" and "task-nosuch00" in exc.message
    exc = refused(tc, "DescribeTaskStatus", FlowId=-1)
    assert exc.code == "InvalidParameterValue" and "FlowId" in exc.message
    exc = refused(tc, "DescribeTaskStatus")
    assert exc.code == "MissingParameter" and "FlowId" in exc.message
