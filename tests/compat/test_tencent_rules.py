"""The Tencent Cloud CKafka face's own answers, in process (no broker), driven by the
official SDK over HTTP against the app served from a thread: connect resources and DataHub
tasks it refuses (with Tencent's error codes), listing with paging and SearchWord, start
points, ModifyDatahubTask (what it changes and refuses) and DescribeTaskStatus (statuses a
controller would write are written into the store), unknown actions and versions, and TC3
signature and key checks. The resources are
instances already in the store (rows), never connected to; only the unreachable case
connects, to a closed port.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from inprocess import add_instance_row, app_on_store, serving
from tencentcloud.ckafka.v20190819 import ckafka_client
from tencentcloud.common import credential
from tencentcloud.common.common_client import CommonClient
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile

from ksync.api.auth import ApiKey, KeyRing
from ksync.api.compat.tencent.flows import flow_id
from ksync.control import instances as instance_service
from ksync.control import lifecycle
from ksync.domain.group_offsets import GroupOffsetView
from ksync.domain.status import MemberState, TaskStatus
from ksync.domain.task import TaskChange
from ksync.domain.workers import MemberReport
from ksync.spec import TaskSpec
from ksync.store.repo import Store

from .tencent_sdk import KEY_ID, KEY_SECRET, REGION, call, describe, kafka, refused, sdk
from .tencent_tc3 import error_code, post, signed_headers

pytestmark = pytest.mark.filterwarnings("error:.*fileds are useless")


@dataclass(frozen=True)
class Local:
    url: str  # http://127.0.0.1:PORT
    host: str  # 127.0.0.1:PORT, the SDK's endpoint
    src_id: str  # two connect resources (instance rows)
    dst_id: str
    store: Store  # to write the statuses a controller would


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    keys = KeyRing([ApiKey(KEY_ID, KEY_SECRET)])
    with app_on_store(tmp_path_factory.mktemp("tencent-inprocess"), keys) as app, serving(app) as url:
        store = app.state.store
        src = add_instance_row(store, "tc-src", region=REGION)
        dst = add_instance_row(store, "tc-dst", region=REGION)
        yield Local(url, url.removeprefix("http://"), src, dst, store)


@pytest.fixture(scope="module")
def tc(local: Local) -> ckafka_client.CkafkaClient:
    return sdk(local.host)


@pytest.fixture(scope="module")
def resources(local: Local) -> tuple[str, str]:
    return local.src_id, local.dst_id


# ---- connect resources ----------------------------------------------------------------


def test_connect_resource_refusals(tc: ckafka_client.CkafkaClient, monkeypatch: pytest.MonkeyPatch) -> None:
    # The refusal of a closed port comes at once from the client; the check then waits
    # out its timeout, which is not what is under test here.
    monkeypatch.setattr(instance_service, "CONNECT_TIMEOUT_S", 1.0)
    bootstrap = "127.0.0.1:9092"
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"Type": "MYSQL", "MySQLConnectParam": {"Port": 3306}}, "UnsupportedOperation", "KAFKA"),
        ({"Type": "KAFKA"}, "MissingParameter", "KafkaConnectParam"),
        (
            {"Type": "KAFKA", "KafkaConnectParam": {"Resource": "ckafka-abc", "SelfBuilt": False}},
            "UnsupportedOperation",
            "BrokerAddress",
        ),
        (
            {
                "Type": "KAFKA",
                "KafkaConnectParam": {"BrokerAddress": bootstrap, "NetworkType": "VPC"},
            },
            "UnsupportedOperation",
            "VPC",
        ),
        (
            {"Type": "KAFKA", "KafkaConnectParam": {"BrokerAddress": "no-port"}},
            "InvalidParameterValue",
            "KafkaConnectParam.BrokerAddress",
        ),
        (
            {"Type": "KAFKA", "KafkaConnectParam": {"BrokerAddress": "127.0.0.1:1"}},
            "ResourceUnavailable",
            "127.0.0.1:1",
        ),
    ]
    for params, code, word in cases:
        exc = refused(tc, "CreateConnectResource", ResourceName="tc-refused", **params)
        assert exc.code == code and word in exc.message, (params, exc)
    assert call(tc, "DescribeConnectResources", SearchWord="tc-refused").Result.TotalCount == 0


# ---- DataHub tasks --------------------------------------------------------------------


def test_list_paging_search_word_and_start_points(
    tc: ckafka_client.CkafkaClient, local: Local, resources: tuple[str, str]
) -> None:
    src_id, dst_id = resources
    topic = f"tc.list.{uuid.uuid4().hex[:6]}"
    word = f"pg{uuid.uuid4().hex[:6]}"
    start_s = int(time.time()) - 3600
    specs = {
        f"{word}-latest": kafka(src_id, TopicList=[topic], OffsetType="latest"),
        f"{word}-stamp": kafka(
            src_id, TopicRegularExpression=f"^{topic}$", OffsetType="timestamp", StartTime=start_s
        ),
    }
    ids = {}
    for name, source_param in specs.items():
        ids[name] = call(
            tc,
            "CreateDatahubTask",
            TaskName=name,
            TaskType="SOURCE",
            SourceResource=source_param,
            TargetResource=kafka(dst_id, Prefix=name),
        ).Result.TaskId
    try:
        both = call(tc, "DescribeDatahubTasks", SearchWord=word).Result
        assert both.TotalCount == 2 and {t.TaskId for t in both.TaskList} == set(ids.values())
        pages = [
            call(tc, "DescribeDatahubTasks", SearchWord=word, Limit=1, Offset=i).Result
            for i in (0, 1, 2)
        ]
        assert [p.TotalCount for p in pages] == [2, 2, 2]
        assert [len(p.TaskList) for p in pages] == [1, 1, 0]
        assert {pages[0].TaskList[0].TaskId, pages[1].TaskList[0].TaskId} == set(ids.values())
        one = call(tc, "DescribeDatahubTasks", SearchWord=f"{word}-STAMP").Result  # fuzzy, any case
        assert [t.TaskId for t in one.TaskList] == [ids[f"{word}-stamp"]]
        assert (
            call(tc, "DescribeDatahubTasks", SearchWord=word, TaskType="SINK").Result.TotalCount
            == 0
        )
        assert (
            call(tc, "DescribeDatahubTasks", SearchWord=word, Resource=dst_id).Result.TotalCount
            == 2
        )

        stamp = describe(tc, ids[f"{word}-stamp"]).SourceResource.KafkaParam
        assert (stamp.OffsetType, stamp.StartTime, stamp.TopicRegularExpression) == (
            "timestamp",
            start_s,
            f"^{topic}$",
        )
        # Seconds in the Tencent face, milliseconds in the task spec.
        with httpx.Client(
            base_url=local.url, headers={"Authorization": f"Bearer {KEY_SECRET}"}
        ) as native:
            spec = native.get(f"/api/v1/tasks/{ids[f'{word}-stamp']}").json()
        assert spec["source"]["start"] == {"type": "timestamp", "timestamp_ms": start_s * 1000}
        assert spec["target"]["keep_partition"] is False  # Tencent's default
        latest = describe(tc, ids[f"{word}-latest"]).SourceResource.KafkaParam
        assert (latest.OffsetType, latest.TopicList) == ("latest", [topic])
    finally:
        for task_id in ids.values():
            call(tc, "DeleteDatahubTask", TaskId=task_id)
            assert describe(tc, task_id).Status == 2  # deleting: the controller finishes it


def test_create_datahub_task_refusals(
    tc: ckafka_client.CkafkaClient, resources: tuple[str, str]
) -> None:
    src_id, dst_id = resources
    ok_source, ok_target = kafka(src_id, Topic="tc.refused"), kafka(dst_id, Prefix="r")

    def create(**over: Any) -> TencentCloudSDKException:
        params = {
            "TaskName": "tc-refused",
            "TaskType": "SOURCE",
            "SourceResource": ok_source,
            "TargetResource": ok_target,
        }
        return refused(tc, "CreateDatahubTask", **{**params, **over})

    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"TaskType": "SINK"}, "UnsupportedOperation", "TaskType"),
        (
            {"SourceResource": {"Type": "MYSQL", "MySQLParam": {"Database": "d"}}},
            "UnsupportedOperation",
            "KAFKA",
        ),
        (
            {"SourceResource": kafka(src_id, Topic="t", QpsLimit=0)},
            "InvalidParameterValue",
            "QpsLimit",
        ),
        (
            {
                "SourceResource": kafka(
                    src_id, Topic="t", ConnectorSyncType="TOPIC_AND_GROUP_TYPE"
                )
            },
            "UnsupportedOperation",
            "ConnectorSyncType",
        ),
        ({"TransformParam": {"AnalysisFormat": "JSON"}}, "UnsupportedOperation", "TransformParam"),
        (
            {"SourceResource": kafka("ins-nosuch00", Topic="t")},
            "ResourceNotFound",
            "SourceResource.KafkaParam.Resource",
        ),
        (
            {"TargetResource": kafka("ins-nosuch00")},
            "ResourceNotFound",
            "TargetResource.KafkaParam.Resource",
        ),
        (
            {"SourceResource": kafka(src_id, Topic="t", OffsetType="timestamp")},
            "MissingParameter",
            "StartTime",
        ),
        (
            {"SourceResource": kafka(src_id, Topic="t", OffsetType="oldest")},
            "InvalidParameterValue",
            "OffsetType",
        ),
        ({"SourceResource": kafka(src_id)}, "MissingParameter", "TopicRegularExpression"),
        (
            {"SourceResource": kafka(src_id, TopicRegularExpression="(")},
            "InvalidParameterValue",
            "TopicRegularExpression",
        ),
        (
            # One source topic, two target topics: nothing to pair them by (a target
            # topic of another name, one per source topic, is a topic_map).
            {"TargetResource": kafka(dst_id, Topic="other-name,second-name")},
            "UnsupportedOperation",
            "names 2 topics for 1 source topics",
        ),
        (
            {
                "SourceResource": kafka(src_id, Topic="t", Prefix="a"),
                "TargetResource": kafka(dst_id, Prefix="b"),
            },
            "InvalidParameterValue",
            "Prefix",
        ),
        (
            {"TargetResource": kafka(src_id)},
            "InvalidParameterValue",
            "Prefix",
        ),  # same cluster, no prefix
        ({"TaskName": "9-starts-with-a-digit"}, "InvalidParameterValue", "TaskName"),
        ({"TaskName": None}, "MissingParameter", "TaskName"),
    ]
    for over, code, word in cases:
        exc = create(**over)
        assert exc.code == code and word in exc.message, (over, exc.code, exc.message)
    assert call(tc, "DescribeDatahubTasks", SearchWord="tc-refused").Result.TotalCount == 0

    # A name already taken.
    task_id = call(
        tc,
        "CreateDatahubTask",
        TaskName="tc-taken",
        TaskType="SOURCE",
        SourceResource=ok_source,
        TargetResource=ok_target,
    ).Result.TaskId
    try:
        exc = create(TaskName="tc-taken")
        assert exc.code == "InvalidParameterValue" and "tc-taken" in exc.message
    finally:
        call(tc, "DeleteDatahubTask", TaskId=task_id)


def test_unknown_action_version_and_parameter(local: Local) -> None:
    profile = ClientProfile(httpProfile=HttpProfile(endpoint=local.host, protocol="http"))
    cred = credential.Credential(KEY_ID, KEY_SECRET)
    common = CommonClient("ckafka", "2019-08-19", cred, REGION, profile)
    with pytest.raises(TencentCloudSDKException) as info:
        common.call_json("DescribeInstances", {})
    assert info.value.code == "InvalidAction"
    with pytest.raises(TencentCloudSDKException) as info:
        common.call_json("DescribeDatahubTasks", {"NoSuchField": 1})
    assert info.value.code == "UnknownParameter" and "NoSuchField" in info.value.message
    with pytest.raises(TencentCloudSDKException) as info:
        CommonClient("ckafka", "2017-03-12", cred, REGION, profile).call_json(
            "DescribeDatahubTasks", {}
        )
    assert info.value.code == "NoSuchVersion"
    # Also at /ckafka.
    body = b"{}"
    headers = signed_headers("DescribeDatahubTasks", body, local.host, KEY_ID, KEY_SECRET)
    assert error_code(post(local.url, headers, body, path="/ckafka")) is None


# ---- keys and signatures over HTTP ----------------------------------------------------


def test_signature_and_key_rejections(local: Local) -> None:
    # The official SDK with a wrong secret, and with an unknown SecretId.
    wrong_secret = refused(
        sdk(local.host, secret_key="not-the-secret-at-all"), "DescribeDatahubTasks"
    )
    assert wrong_secret.code == "AuthFailure.SignatureFailure"
    unknown = refused(sdk(local.host, secret_id="AKIDnobodyKnowsThis"), "DescribeDatahubTasks")
    assert unknown.code == "AuthFailure.SignatureFailure"  # alike: ids are not revealed

    host = local.host
    body = json.dumps({"Limit": 1}).encode()
    # A correctly signed request from the test's own signer is accepted ...
    good = signed_headers("DescribeDatahubTasks", body, host, KEY_ID, KEY_SECRET)
    assert error_code(post(local.url, good, body)) is None
    # ... but not once its body is changed, nor ten minutes early or late.
    assert error_code(post(local.url, good, b'{"Limit": 2}')) == "AuthFailure.SignatureFailure"
    for offset_s in (-600, 600):
        stale = signed_headers(
            "DescribeDatahubTasks",
            body,
            host,
            KEY_ID,
            KEY_SECRET,
            timestamp=int(time.time()) + offset_s,
        )
        assert error_code(post(local.url, stale, body)) == "AuthFailure.SignatureExpire"
    # No signature at all, or a malformed one.
    unsigned = {k: v for k, v in good.items() if k != "Authorization"}
    assert error_code(post(local.url, unsigned, body)) == "AuthFailure.InvalidAuthorization"
    bearer = {**unsigned, "Authorization": f"Bearer {KEY_SECRET}"}
    assert error_code(post(local.url, bearer, body)) == "AuthFailure.InvalidAuthorization"
    # A refused call changes nothing: the create below is never run.
    create = json.dumps({"TaskName": "never", "TaskType": "SOURCE"}).encode()
    forged = signed_headers("CreateDatahubTask", create, host, KEY_ID, "forged-secret-0000")
    assert error_code(post(local.url, forged, create)) == "AuthFailure.SignatureFailure"


def test_without_keys_any_request_is_accepted(tmp_path: Path) -> None:
    """No --api-keys-file: the server listens on loopback only and checks no signature."""
    with app_on_store(tmp_path) as app, serving(app) as url:
        unsigned_call(url)


def unsigned_call(url: str) -> None:
    body = b"{}"
    unsigned = {
        "Content-Type": "application/json",
        "X-TC-Action": "DescribeDatahubTasks",
        "X-TC-Version": "2019-08-19",
    }
    response = post(url, unsigned, body)
    assert error_code(response) is None and response["Result"] == {"TotalCount": 0, "TaskList": []}
    anyone = sdk(url.removeprefix("http://"), secret_id="AKIDwhoever", secret_key="whatever-secret")
    assert call(anyone, "DescribeConnectResources").Result.TotalCount == 0


# ---- ModifyDatahubTask and DescribeTaskStatus ------------------------------------------


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


def report(store: Store, task_id: str, state: MemberState, slots: int = 1) -> None:
    """A worker's heartbeat: `slots` members of the task's current generation in `state`."""
    generation = store.tasks.get(task_id).generation
    store.workers.heartbeat(
        "w-tencent-rules",
        "127.0.0.1",
        1,
        [
            MemberReport(task_id, slot, generation, state, [], [], None, [], 0)
            for slot in range(slots)
        ],
    )


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
    code, output = status()
    assert code == 2 and "members starting" in output  # no member reports running yet
    report(local.store, task, MemberState.RUNNING)
    assert status()[0] == 0
    # A new parallelism is done once the new generation's members all run.
    call(tc, "ModifyDatahubTask", TaskId=task, TasksMax=2)
    assert status()[0] == 2
    report(local.store, task, MemberState.RUNNING, slots=2)
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


# ---- offset sync ---------------------------------------------------------------------


def test_group_offsets_of_a_synced_group(local: Local) -> None:
    """DescribeDatahubGroupOffsets for a group a task syncs the offsets of: by TaskId or
    either connect resource, with the translation beside the source offset."""
    spec = TaskSpec.model_validate(
        {
            "name": f"tc-sync-{uuid.uuid4().hex[:6]}",
            "source": {"instance_id": local.src_id, "topics": ["orders"]},
            "target": {"instance_id": local.dst_id},
            "options": {"sync_group_offsets": {"enabled": True}},
        }
    )
    task = lifecycle.create(local.store, spec, max_tasks=1000)
    now = datetime.now(UTC)
    local.store.offsets.record_syncs(
        task.id,
        [GroupOffsetView("billing", "orders", 0, "orders", 1200, 1302, 1290, now, now)],
    )

    def ask(name: str, group: str) -> dict[str, Any]:
        body = json.dumps({"Name": name, "Group": group}).encode()
        headers = signed_headers("DescribeDatahubGroupOffsets", body, local.host, KEY_ID, KEY_SECRET)
        return post(local.url, headers, body)

    for name in (task.id, local.src_id, local.dst_id):
        result = ask(name, "billing")["Result"]
        assert result["TotalCount"] == 1, result
        (part,) = result["TopicList"][0]["Partitions"]
        assert (part["Offset"], part["TargetOffset"], part["TargetCommitted"], part["Lag"]) == (
            1200,
            1302,
            1290,
            12,
        )
    assert error_code(ask(task.id, "someone-else")) == "ResourceNotFound"
