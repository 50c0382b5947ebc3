"""The Tencent Cloud CKafka face against the shared Kafka clusters, driven by the official
SDK against a live server with API keys: connect resources for the two clusters (each
registration connects), and a DataHub task whose records arrive on the target: describe,
pause -> 6, resume -> 1, restart, group offsets, delete -> ResourceNotFound; and a running
task modified (name, TasksMax, SyncThrottleLimit), followed with DescribeTaskStatus.

What the face answers without a cluster (refusals, listing and paging, signatures) is in
test_tencent_rules.py. Topic and task names are the test's own: the clusters are shared.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import KsyncServer, create_topic, producer, read_all, running_server, wait_until
from tencentcloud.ckafka.v20190819 import ckafka_client

from ksync.api.compat.tencent.flows import flow_id
from ksync.devkafka import KafkaCluster

from .tencent_sdk import (
    KEY_ID,
    KEY_SECRET,
    REGION,
    call,
    describe,
    kafka,
    refused,
    sdk,
    wait_gone,
    wait_task,
)

pytestmark = pytest.mark.filterwarnings("error:.*fileds are useless")

PARTITIONS = 3


@pytest.fixture(scope="module")
def tc_server(
    tmp_path_factory: pytest.TempPathFactory, brokers: tuple[KafkaCluster, KafkaCluster]
) -> Iterator[KsyncServer]:
    """A server that requires keys."""
    data_dir = tmp_path_factory.mktemp("ksync-tencent")
    keys = Path(data_dir) / "keys.json"
    keys.write_text(json.dumps([{"id": KEY_ID, "secret": KEY_SECRET}]))
    with running_server(str(data_dir), "--api-keys-file", str(keys)) as srv:
        yield srv


@pytest.fixture(scope="module")
def tc(tc_server: KsyncServer) -> ckafka_client.CkafkaClient:
    return sdk(f"127.0.0.1:{tc_server.port}")


def produce(broker: KafkaCluster, topic: str, count: int, start: int = 0) -> None:
    p = producer(broker)
    for i in range(start, start + count):
        p.produce(topic, key=f"k{i}".encode(), value=f"v{i}".encode(), partition=i % PARTITIONS)
    assert p.flush(30) == 0


def new_topic(broker: KafkaCluster, prefix: str, count: int) -> str:
    """A topic of the test's own (PARTITIONS partitions) holding `count` records."""
    topic = f"{prefix}.{uuid.uuid4().hex[:6]}"
    create_topic(broker, topic, PARTITIONS)
    produce(broker, topic, count)
    return topic


@pytest.fixture(scope="module")
def resources(
    tc: ckafka_client.CkafkaClient, brokers: tuple[KafkaCluster, KafkaCluster]
) -> Iterator[tuple[str, str]]:
    """The shared clusters as connect resources: (source ResourceId, target ResourceId)."""
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


# ---- DataHub tasks --------------------------------------------------------------------


def test_datahub_task_end_to_end(
    tc: ckafka_client.CkafkaClient,
    resources: tuple[str, str],
    brokers: tuple[KafkaCluster, KafkaCluster],
) -> None:
    source, target = brokers
    src_id, dst_id = resources
    topic = new_topic(source, "tc.orders", 300)

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
            dst_id,
            SelfBuilt=True,
            Prefix="bak",
            Separator=".",
            KeepPartition=True,
            CompressionType="open",
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
    assert tp.CompressionType == "open"  # compressed on the way to the target, records intact
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


def test_modify_datahub_task_and_follow_its_flow(
    tc: ckafka_client.CkafkaClient,
    resources: tuple[str, str],
    brokers: tuple[KafkaCluster, KafkaCluster],
) -> None:
    source, target = brokers
    src_id, dst_id = resources
    topic = new_topic(source, "tc.modify", 90)
    name = f"tcmod-{uuid.uuid4().hex[:6]}"
    task_id = call(
        tc,
        "CreateDatahubTask",
        TaskName=name,
        TaskType="SOURCE",
        SourceResource=kafka(src_id, Topic=topic, OffsetType="earliest"),
        TargetResource=kafka(dst_id, Prefix="mod", KeepPartition=True),
    ).Result.TaskId
    flow = flow_id(task_id)

    def flow_done() -> Any:
        result = call(tc, "DescribeTaskStatus", FlowId=flow).Result
        assert result.Status in (0, 2) and task_id in result.Output, result.Output
        return result if result.Status == 0 else None

    wait_until(flow_done, timeout_s=60, what=f"the flow of task {task_id} to be done")
    assert sum(map(len, read_all(target, f"mod.{topic}", PARTITIONS, 90).values())) >= 90

    # Parallelism, throttle, name and description in one call; the flow is done once the
    # new generation's three members run, and nothing is lost on the way.
    renamed = f"{name}-x3"
    call(
        tc,
        "ModifyDatahubTask",
        TaskId=task_id,
        TaskName=renamed,
        Description="three members",
        TasksMax=3,
        SyncThrottleLimit=50,
    )
    produce(source, topic, 30, start=90)
    wait_until(flow_done, timeout_s=90, what=f"task {task_id} to run with 3 members")
    task = wait_task(tc, task_id, 1)
    assert (task.TaskName, task.Description, task.TaskMax, task.SyncThrottleLimit) == (
        renamed,
        "three members",
        3,
        50,
    )
    # Every record in the partition it came from (a restart may repeat some, never lose one).
    expected = {p: {f"v{i}".encode() for i in range(120) if i % PARTITIONS == p} for p in range(PARTITIONS)}

    def all_copied() -> bool:
        copied = read_all(target, f"mod.{topic}", PARTITIONS, 120)
        return {p: {m.value() for m in msgs} for p, msgs in copied.items()} == expected

    wait_until(all_copied, timeout_s=90, what=f"all 120 records on mod.{topic}")

    # A refused value changes nothing on the running task.
    exc = refused(tc, "ModifyDatahubTask", TaskId=task_id, TasksMax=0, TaskName="tc-never")
    assert exc.code == "InvalidParameterValue" and "TasksMax" in exc.message
    assert (describe(tc, task_id).TaskName, describe(tc, task_id).TaskMax) == (renamed, 3)

    call(tc, "DeleteDatahubTask", TaskId=task_id)
    wait_gone(tc, task_id)
    assert refused(tc, "DescribeTaskStatus", FlowId=flow).code == "ResourceNotFound"
