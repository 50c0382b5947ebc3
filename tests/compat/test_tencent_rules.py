"""The Tencent Cloud CKafka face's own answers, in process (no broker), driven by the
official SDK over HTTP against the app served from a thread: connect resources and DataHub
tasks it refuses (with Tencent's error codes), listing with paging and SearchWord, start
points, unknown actions and versions, and TC3 signature and key checks. The resources are
instances already in the store (rows), never connected to; only the unreachable case
connects, to a closed port.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
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
from ksync.control import instances as instance_service

from .tencent_sdk import KEY_ID, KEY_SECRET, REGION, call, describe, kafka, refused, sdk
from .tencent_tc3 import error_code, post, signed_headers

pytestmark = pytest.mark.filterwarnings("error:.*fileds are useless")


@dataclass(frozen=True)
class Local:
    url: str  # http://127.0.0.1:PORT
    host: str  # 127.0.0.1:PORT, the SDK's endpoint
    src_id: str  # two connect resources (instance rows)
    dst_id: str


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    keys = KeyRing([ApiKey(KEY_ID, KEY_SECRET)])
    with app_on_store(tmp_path_factory.mktemp("tencent-inprocess"), keys) as app, serving(app) as url:
        store = app.state.store
        src = add_instance_row(store, "tc-src", region=REGION)
        dst = add_instance_row(store, "tc-dst", region=REGION)
        yield Local(url, url.removeprefix("http://"), src, dst)


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
