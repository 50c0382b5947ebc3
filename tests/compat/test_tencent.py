"""The Tencent Cloud CKafka face, driven by the official SDK against a live server with API
keys and real brokers: connect resources for the two clusters, a DataHub task whose
records arrive on the target, describe and list (paging, SearchWord), pause -> 6,
resume -> 1, restart, group offsets, delete -> ResourceNotFound; the refusals of what
ksync cannot honour; and TC3 signature and key rejection over HTTP.

Every request and response goes through the SDK's own models (`from_json_string`, the
client's `_deserialize`); a response field the SDK does not know makes it warn "fileds
are useless", which these tests turn into an error, so the shapes are the SDK's.

Tests share one server and broker pair per module, use distinct topic and task names,
and delete what they create.
"""

from __future__ import annotations

import gc
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import KsyncServer, create_topic, producer, read_all, wait_until
from tencentcloud.ckafka.v20190819 import ckafka_client, models
from tencentcloud.common import credential
from tencentcloud.common.common_client import CommonClient
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile

from ksync.devkafka import KafkaCluster

from .tencent_tc3 import error_code, post, signed_headers

pytestmark = pytest.mark.filterwarnings("error:.*fileds are useless")

KEY_ID, KEY_SECRET = "AKIDksyncTencentFace01", "tencent-face-secret-0001"
REGION = "ap-guangzhou"
PARTITIONS = 3


@pytest.fixture(scope="module")
def tc_server(
    tmp_path_factory: pytest.TempPathFactory, brokers: tuple[KafkaCluster, KafkaCluster]
) -> Iterator[KsyncServer]:
    """A server that requires keys; depends on `brokers` so that it stops first."""
    data_dir = tmp_path_factory.mktemp("ksync-tencent")
    keys = Path(data_dir) / "keys.json"
    keys.write_text(json.dumps([{"id": KEY_ID, "secret": KEY_SECRET}]))
    srv = KsyncServer(str(data_dir), "--api-keys-file", str(keys)).start()
    try:
        yield srv
    finally:
        srv.stop()
        gc.collect()


def sdk(
    server: KsyncServer, secret_id: str = KEY_ID, secret_key: str = KEY_SECRET
) -> ckafka_client.CkafkaClient:
    """A CkafkaClient whose only change from Tencent Cloud is the endpoint."""
    profile = ClientProfile(
        httpProfile=HttpProfile(endpoint=f"127.0.0.1:{server.port}", protocol="http")
    )
    return ckafka_client.CkafkaClient(credential.Credential(secret_id, secret_key), REGION, profile)


@pytest.fixture(scope="module")
def tc(tc_server: KsyncServer) -> ckafka_client.CkafkaClient:
    return sdk(tc_server)


def call(client: ckafka_client.CkafkaClient, action: str, **params: Any) -> Any:
    """Run `action` through the SDK's request and response models."""
    request = getattr(models, f"{action}Request")()
    request.from_json_string(json.dumps(params))
    return getattr(client, action)(request)


def refused(
    client: ckafka_client.CkafkaClient, action: str, **params: Any
) -> TencentCloudSDKException:
    with pytest.raises(TencentCloudSDKException) as info:
        call(client, action, **params)
    exc = info.value
    assert exc.get_message() and exc.get_request_id(), exc
    assert KEY_SECRET not in exc.get_message()
    return exc


def produce(broker: KafkaCluster, topic: str, count: int, start: int = 0) -> None:
    p = producer(broker)
    for i in range(start, start + count):
        p.produce(topic, key=f"k{i}".encode(), value=f"v{i}".encode(), partition=i % PARTITIONS)
    assert p.flush(30) == 0


def kafka(resource_id: str, **param: Any) -> dict[str, Any]:
    return {"Type": "KAFKA", "KafkaParam": {"Resource": resource_id, **param}}


def describe(client: ckafka_client.CkafkaClient, task_id: str) -> Any:
    return call(client, "DescribeDatahubTask", TaskId=task_id).Result


def wait_task(
    client: ckafka_client.CkafkaClient, task_id: str, status: int, timeout_s: float = 60
) -> Any:
    def check() -> Any:
        result = describe(client, task_id)
        return result if result.Status == status else None

    return wait_until(check, timeout_s=timeout_s, what=f"task {task_id} status {status}")


def wait_gone(client: ckafka_client.CkafkaClient, task_id: str) -> None:
    def gone() -> bool:
        try:
            result = describe(client, task_id)
        except TencentCloudSDKException as exc:
            assert exc.code == "ResourceNotFound", exc
            return True
        assert result.Status == 2, result  # deleting
        return False

    wait_until(gone, timeout_s=60, what=f"task {task_id} to be gone")


@pytest.fixture(scope="module")
def resources(
    tc: ckafka_client.CkafkaClient, brokers: tuple[KafkaCluster, KafkaCluster]
) -> Iterator[tuple[str, str]]:
    """The module's brokers as connect resources: (source ResourceId, target ResourceId)."""
    ids = []
    for role, broker in zip(("src", "dst"), brokers, strict=True):
        response = call(
            tc,
            "CreateConnectResource",
            ResourceName=f"tc-{role}-{broker.cluster_id}",
            Type="KAFKA",
            Description=f"the {role} cluster",
            KafkaConnectParam={
                "BrokerAddress": broker.bootstrap,
                "SelfBuilt": True,
                "Region": REGION,
            },
        )
        ids.append(response.Result.ResourceId)
    yield ids[0], ids[1]
    for resource_id in ids:
        call(tc, "DeleteConnectResource", ResourceId=resource_id)


# ---- connect resources ----------------------------------------------------------------


def test_connect_resources_create_describe_list_modify_delete(
    tc: ckafka_client.CkafkaClient,
    resources: tuple[str, str],
    brokers: tuple[KafkaCluster, KafkaCluster],
) -> None:
    src_id, dst_id = resources
    one = call(tc, "DescribeConnectResource", ResourceId=src_id).Result
    assert (one.ResourceId, one.Type, one.Status) == (src_id, "KAFKA", 1)
    assert one.ResourceName.startswith("tc-src-") and one.Description == "the src cluster"
    assert one.KafkaConnectParam.BrokerAddress == brokers[0].bootstrap
    assert one.KafkaConnectParam.SelfBuilt is True and one.KafkaConnectParam.Region == REGION
    assert time.strptime(one.CreateTime, "%Y-%m-%d %H:%M:%S")

    listed = call(tc, "DescribeConnectResources", SearchWord="tc-dst-").Result
    assert listed.TotalCount == 1 and listed.ConnectResourceList[0].ResourceId == dst_id
    assert listed.ConnectResourceList[0].DatahubTaskCount == 0
    everything = call(tc, "DescribeConnectResources", SearchWord="tc-").Result
    assert everything.TotalCount == 2
    pages = [
        call(tc, "DescribeConnectResources", SearchWord="tc-", Limit=1, Offset=i).Result
        for i in (0, 1)
    ]
    assert [p.TotalCount for p in pages] == [2, 2]
    assert {p.ConnectResourceList[0].ResourceId for p in pages} == {src_id, dst_id}
    assert call(tc, "DescribeConnectResources", Type="MYSQL").Result.TotalCount == 0
    assert call(tc, "DescribeConnectResources", ResourceRegion="ap-beijing").Result.TotalCount == 0

    # Modify: a description alone, then a new name (checked against the cluster again).
    call(tc, "ModifyConnectResource", ResourceId=dst_id, Description="now described")
    call(
        tc, "ModifyConnectResource", ResourceId=dst_id, ResourceName="tc-dst-renamed", Type="KAFKA"
    )
    renamed = call(tc, "DescribeConnectResource", ResourceId=dst_id).Result
    assert (renamed.ResourceName, renamed.Description) == ("tc-dst-renamed", "now described")
    # Addresses of another cluster are refused: the resource is that cluster.
    exc = refused(
        tc,
        "ModifyConnectResource",
        ResourceId=dst_id,
        KafkaConnectParam={"BrokerAddress": brokers[0].bootstrap},
    )
    assert exc.code == "InvalidParameterValue" and "KafkaConnectParam.BrokerAddress" in exc.message

    # A third resource for the same cluster, deleted, is then not found.
    extra = call(
        tc,
        "CreateConnectResource",
        ResourceName="tc-extra",
        Type="KAFKA",
        KafkaConnectParam={"BrokerAddress": brokers[0].bootstrap},
    ).Result.ResourceId
    assert call(tc, "DeleteConnectResource", ResourceId=extra).Result.ResourceId == extra
    assert refused(tc, "DescribeConnectResource", ResourceId=extra).code == "ResourceNotFound"
    assert refused(tc, "DeleteConnectResource", ResourceId=extra).code == "ResourceNotFound"


def test_connect_resource_refusals(
    tc: ckafka_client.CkafkaClient, brokers: tuple[KafkaCluster, KafkaCluster]
) -> None:
    bootstrap = brokers[0].bootstrap
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


def test_datahub_task_end_to_end(
    tc: ckafka_client.CkafkaClient,
    resources: tuple[str, str],
    brokers: tuple[KafkaCluster, KafkaCluster],
) -> None:
    source, target = brokers
    src_id, dst_id = resources
    topic = f"tc.orders.{uuid.uuid4().hex[:6]}"
    create_topic(source, topic, PARTITIONS)
    produce(source, topic, 300)

    name = f"tcsync-{uuid.uuid4().hex[:6]}"
    created = call(
        tc,
        "CreateDatahubTask",
        TaskName=name,
        TaskType="SOURCE",
        Description="orders to the backup cluster",
        SourceResource=kafka(
            src_id,
            SelfBuilt=True,
            Topic=topic,
            OffsetType="earliest",
            ConnectorSyncType="DATA_SYNC_TYPE",
        ),
        TargetResource=kafka(
            dst_id, SelfBuilt=True, Prefix="bak", Separator=".", KeepPartition=True
        ),
    )
    task_id = created.Result.TaskId
    assert task_id.startswith("task-")
    assert describe(tc, task_id).Status in (0, 1)  # creating, or already running

    task = wait_task(tc, task_id, 1)
    assert (task.TaskName, task.TaskType, task.Description) == (
        name,
        "SOURCE",
        "orders to the backup cluster",
    )
    assert task.ErrorMessage == "" and task.TaskMax == 1
    sp, tp = task.SourceResource.KafkaParam, task.TargetResource.KafkaParam
    assert task.SourceResource.Type == task.TargetResource.Type == "KAFKA"
    assert (sp.Resource, sp.Topic, sp.OffsetType, sp.ConnectorSyncType) == (
        src_id,
        topic,
        "earliest",
        "DATA_SYNC_TYPE",
    )
    assert (tp.Resource, tp.Prefix, tp.Separator, tp.KeepPartition) == (dst_id, "bak", ".", True)
    assert tp.Topic == f"bak.{topic}"
    assert (
        tp.ResourceName
        == call(tc, "DescribeConnectResource", ResourceId=dst_id).Result.ResourceName
    )
    assert [(c.TopicName, c.GroupId) for c in task.Connections] == [(topic, f"ksync-{task_id}")]

    # Records arrive, each in the partition it came from.
    copied = read_all(target, f"bak.{topic}", PARTITIONS, 300)
    assert sorted(len(msgs) for msgs in copied.values()) == [100, 100, 100]
    assert {m.value() for m in copied[1]} >= {b"v1", b"v4"}

    # Group offsets: the task's committed progress, all 300 records.
    def committed() -> Any:
        result = call(
            tc, "DescribeDatahubGroupOffsets", Name=src_id, Group=f"ksync-{task_id}"
        ).Result
        offsets = [p.Offset for t in result.TopicList for p in t.Partitions]
        return result if result.TotalCount == 1 and sum(offsets) == 300 else None

    offsets = wait_until(committed, timeout_s=30, what="300 committed offsets")
    assert offsets.TopicList[0].Topic == topic
    assert sorted(p.Partition for p in offsets.TopicList[0].Partitions) == [0, 1, 2]
    assert all(p.ErrorCode == 0 and p.Lag == 0 for p in offsets.TopicList[0].Partitions)
    by_task_id = call(
        tc,
        "DescribeDatahubGroupOffsets",
        Name=task_id,
        Group=f"ksync-{task_id}",
        SearchWord="nomatch",
    )
    assert by_task_id.Result.TotalCount == 0
    assert (
        refused(tc, "DescribeDatahubGroupOffsets", Name=src_id, Group="someone-else").code
        == "ResourceNotFound"
    )
    assert (
        refused(tc, "DescribeDatahubGroupOffsets", Name=dst_id, Group=f"ksync-{task_id}").code
        == "ResourceNotFound"
    )

    # The resources count the task; one in use cannot be deleted.
    listed = call(tc, "DescribeConnectResources", SearchWord="tc-src-").Result
    assert listed.ConnectResourceList[0].DatahubTaskCount == 1
    assert refused(tc, "DeleteConnectResource", ResourceId=src_id).code == "ResourceInUse"

    # Pause -> 5 pausing, then 6 paused; records produced meanwhile wait.
    assert call(tc, "PauseDatahubTask", TaskId=task_id).Result.TaskId == task_id
    assert describe(tc, task_id).Status in (5, 6)
    wait_task(tc, task_id, 6)
    produce(source, topic, 30, start=300)
    assert refused(tc, "PauseDatahubTask", TaskId=task_id).code == "FailedOperation"
    assert refused(tc, "RestartDatahubTask", TaskId=task_id).code == "FailedOperation"

    # Resume -> 8 resuming, then 1; the paused records arrive.
    assert call(tc, "ResumeDatahubTask", TaskId=task_id).Result.TaskId == task_id
    assert describe(tc, task_id).Status in (8, 1)
    wait_task(tc, task_id, 1)
    assert sum(map(len, read_all(target, f"bak.{topic}", PARTITIONS, 330).values())) >= 330

    # Restart: every member stops and starts; the task runs again.
    assert call(tc, "RestartDatahubTask", TaskId=task_id).Result.TaskId == task_id
    assert describe(tc, task_id).Status in (8, 1)
    wait_task(tc, task_id, 1)

    # Delete -> 2 deleting, then ResourceNotFound; the copied data stays.
    assert call(tc, "DeleteDatahubTask", TaskId=task_id).Result.TaskId == task_id
    wait_gone(tc, task_id)
    for action in (
        "DescribeDatahubTask",
        "PauseDatahubTask",
        "ResumeDatahubTask",
        "DeleteDatahubTask",
    ):
        assert refused(tc, action, TaskId=task_id).code == "ResourceNotFound"
    assert sum(map(len, read_all(target, f"bak.{topic}", PARTITIONS, 330).values())) >= 330


def test_list_paging_search_word_and_start_points(
    tc: ckafka_client.CkafkaClient,
    tc_server: KsyncServer,
    resources: tuple[str, str],
    brokers: tuple[KafkaCluster, KafkaCluster],
) -> None:
    source = brokers[0]
    src_id, dst_id = resources
    topic = f"tc.list.{uuid.uuid4().hex[:6]}"
    create_topic(source, topic, PARTITIONS)
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
            base_url=tc_server.url, headers={"Authorization": f"Bearer {KEY_SECRET}"}
        ) as native:
            spec = native.get(f"/api/v1/tasks/{ids[f'{word}-stamp']}").json()
        assert spec["source"]["start"] == {"type": "timestamp", "timestamp_ms": start_s * 1000}
        assert spec["target"]["keep_partition"] is False  # Tencent's default
        latest = describe(tc, ids[f"{word}-latest"]).SourceResource.KafkaParam
        assert (latest.OffsetType, latest.TopicList) == ("latest", [topic])
    finally:
        for task_id in ids.values():
            call(tc, "DeleteDatahubTask", TaskId=task_id)
        for task_id in ids.values():
            wait_gone(tc, task_id)


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
                    src_id, Topic="t", ConnectorSyncType="META_SYNC_INSTANCE_TYPE"
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
            {"TargetResource": kafka(dst_id, Topic="other-name")},
            "UnsupportedOperation",
            "TargetResource",
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
        wait_gone(tc, task_id)


def test_unknown_action_version_and_parameter(tc_server: KsyncServer) -> None:
    profile = ClientProfile(
        httpProfile=HttpProfile(endpoint=f"127.0.0.1:{tc_server.port}", protocol="http")
    )
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
    headers = signed_headers(
        "DescribeDatahubTasks", body, f"127.0.0.1:{tc_server.port}", KEY_ID, KEY_SECRET
    )
    assert error_code(post(tc_server.url, headers, body, path="/ckafka")) is None


# ---- keys and signatures over HTTP ----------------------------------------------------


def test_signature_and_key_rejections(tc_server: KsyncServer) -> None:
    # The official SDK with a wrong secret, and with an unknown SecretId.
    wrong_secret = refused(
        sdk(tc_server, secret_key="not-the-secret-at-all"), "DescribeDatahubTasks"
    )
    assert wrong_secret.code == "AuthFailure.SignatureFailure"
    unknown = refused(sdk(tc_server, secret_id="AKIDnobodyKnowsThis"), "DescribeDatahubTasks")
    assert unknown.code == "AuthFailure.SignatureFailure"  # alike: ids are not revealed

    host = f"127.0.0.1:{tc_server.port}"
    body = json.dumps({"Limit": 1}).encode()
    # A correctly signed request from the test's own signer is accepted ...
    good = signed_headers("DescribeDatahubTasks", body, host, KEY_ID, KEY_SECRET)
    assert error_code(post(tc_server.url, good, body)) is None
    # ... but not once its body is changed, nor ten minutes early or late.
    assert error_code(post(tc_server.url, good, b'{"Limit": 2}')) == "AuthFailure.SignatureFailure"
    for offset_s in (-600, 600):
        stale = signed_headers(
            "DescribeDatahubTasks",
            body,
            host,
            KEY_ID,
            KEY_SECRET,
            timestamp=int(time.time()) + offset_s,
        )
        assert error_code(post(tc_server.url, stale, body)) == "AuthFailure.SignatureExpire"
    # No signature at all, or a malformed one.
    unsigned = {k: v for k, v in good.items() if k != "Authorization"}
    assert error_code(post(tc_server.url, unsigned, body)) == "AuthFailure.InvalidAuthorization"
    bearer = {**unsigned, "Authorization": f"Bearer {KEY_SECRET}"}
    assert error_code(post(tc_server.url, bearer, body)) == "AuthFailure.InvalidAuthorization"
    # A refused call changes nothing: the create below is never run.
    create = json.dumps({"TaskName": "never", "TaskType": "SOURCE"}).encode()
    forged = signed_headers("CreateDatahubTask", create, host, KEY_ID, "forged-secret-0000")
    assert error_code(post(tc_server.url, forged, create)) == "AuthFailure.SignatureFailure"


def test_without_keys_any_request_is_accepted(server: KsyncServer) -> None:
    """No --api-keys-file: the server listens on loopback only and checks no signature."""
    body = b"{}"
    unsigned = {
        "Content-Type": "application/json",
        "X-TC-Action": "DescribeDatahubTasks",
        "X-TC-Version": "2019-08-19",
    }
    response = post(server.url, unsigned, body)
    assert error_code(response) is None and response["Result"] == {"TotalCount": 0, "TaskList": []}
    anyone = sdk(server, secret_id="AKIDwhoever", secret_key="whatever-secret")
    assert call(anyone, "DescribeConnectResources").Result.TotalCount == 0
