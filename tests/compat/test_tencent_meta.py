"""CKafka's instance-level sync actions through the official SDK against a live server
with API keys: CreateMetaSyncDatahubTask (topics kept in step, no record copied),
CreateMetaAndDataSyncDatahubTask (topics and records) and
CreateMetaDataAndOffsetSyncDatahubTask (the same, with consumer-group offset sync on).

A metadata-only task takes the whole source instance, so the source here is a one-node
cluster of this module's own, holding only this module's topics: copying "every topic"
of the shared source would put other tests' topics onto the shared target.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient
from helpers import KsyncServer, create_topic, producer, read_all, running_server, wait_until
from tencentcloud.ckafka.v20190819 import ckafka_client

from ksync.devkafka import KafkaCluster

from .tencent_sdk import KEY_ID, KEY_SECRET, REGION, call, refused, sdk, wait_gone, wait_task

pytestmark = pytest.mark.filterwarnings("error:.*fileds are useless")


@pytest.fixture(scope="module")
def own_source(brokers: tuple[KafkaCluster, KafkaCluster]) -> Iterator[KafkaCluster]:
    cluster = KafkaCluster("meta-source", heap_mb=384)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def tc_server(tmp_path_factory: pytest.TempPathFactory, own_source: KafkaCluster) -> Iterator[KsyncServer]:
    data_dir = tmp_path_factory.mktemp("ksync-tencent-meta")
    keys = Path(data_dir) / "keys.json"
    keys.write_text(json.dumps([{"id": KEY_ID, "secret": KEY_SECRET}]))
    with running_server(str(data_dir), "--api-keys-file", str(keys)) as srv:
        yield srv


def _resource(tc: ckafka_client.CkafkaClient, name: str, broker: KafkaCluster) -> str:
    response = call(
        tc, "CreateConnectResource", ResourceName=name, Type="KAFKA",
        KafkaConnectParam={"BrokerAddress": broker.bootstrap, "SelfBuilt": True, "Region": REGION},
    )
    return str(response.Result.ResourceId)


def _ends(broker: KafkaCluster, topic: str) -> int:
    """Records in `topic` (its partitions' high watermarks summed)."""
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "ends", "log_level": 3})
    try:
        md = consumer.list_topics(topic, timeout=10).topics[topic]
        return sum(
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in md.partitions
        )
    finally:
        consumer.close()


def _native(server: KsyncServer, path: str) -> dict:
    """A native API answer, with the server's key."""
    r = server.client().get(path, headers={"Authorization": f"Bearer {KEY_SECRET}"})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_the_instance_level_sync_actions_through_the_sdk(
    tc_server: KsyncServer, own_source: KafkaCluster, brokers: tuple[KafkaCluster, KafkaCluster]
) -> None:
    target = brokers[1]
    tc = sdk(f"127.0.0.1:{tc_server.port}")
    run = uuid.uuid4().hex[:6]
    src_id = _resource(tc, f"meta-src-{run}", own_source)
    dst_id = _resource(tc, f"meta-dst-{run}", target)
    topic = f"tcmeta-{run}"
    create_topic(own_source, topic, 2, configs={"retention.ms": "5400000"})
    p = producer(own_source)
    for i in range(6):
        p.produce(topic, value=f"v{i}".encode(), partition=i % 2)
    assert p.flush(30) == 0

    # Metadata only: every topic of the source instance, under its own name, no record.
    meta = call(tc, "CreateMetaSyncDatahubTask", TaskName=f"meta{run}", SourceResourceId=src_id,
                TargetResourceId=dst_id, Description="topics only",
                Tags=[{"TagKey": "team", "TagValue": "dr"}])
    meta_id = meta.Result.TaskId
    task = wait_task(tc, meta_id, 1, timeout_s=90)
    sp = task.SourceResource.KafkaParam
    assert (sp.Resource, sp.TopicRegularExpression, sp.ConnectorSyncType) == (
        src_id, ".*", "META_SYNC_INSTANCE_TYPE"
    )
    assert task.Description == "topics only" and [t.TagKey for t in task.Tags] == ["team"]
    wait_until(
        lambda: topic in target_topics(target), timeout_s=90, what=f"{topic} created on the target"
    )
    native = _native(tc_server, f"/api/v1/tasks/{meta_id}")
    assert native["options"]["mode"] == "metadata" and native["copies_records"] is False
    assert _ends(target, topic) == 0

    # Topics and records, under a prefix.
    both = call(tc, "CreateMetaAndDataSyncDatahubTask", TaskName=f"both{run}", SourceResourceId=src_id,
                TargetResourceId=dst_id, TopicList=[topic], OffsetType="earliest", Prefix="md",
                Separator="-")
    both_id = both.Result.TaskId
    copied = read_all(target, f"md-{topic}", 2, 6, timeout_s=90)
    assert sorted(m.value() for ms in copied.values() for m in ms) == [f"v{i}".encode() for i in range(6)]
    shown = wait_task(tc, both_id, 1, timeout_s=90).SourceResource.KafkaParam
    assert (shown.TopicList, shown.ConnectorSyncType) == ([topic], "META_AND_DATA_SYNC_INSTANCE_TYPE")

    # With offset sync: the option is on (the offset engine does the rest).
    offsets = call(tc, "CreateMetaDataAndOffsetSyncDatahubTask", TaskName=f"offs{run}",
                   SourceResourceId=src_id, TargetResourceId=dst_id,
                   TopicRegularExpression=f"tcmeta-{run}", OffsetType="latest", Prefix="os")
    spec = _native(tc_server, f"/api/v1/tasks/{offsets.Result.TaskId}")
    assert spec["options"]["sync_group_offsets"]["enabled"] is True and spec["options"]["mode"] == "data"
    assert spec["source"]["topic_regex"] == f"tcmeta-{run}" and spec["source"]["start"]["type"] == "latest"

    # A bad field is refused naming it, and nothing is created.
    before = len(_native(tc_server, "/api/v1/tasks")["tasks"])
    exc = refused(tc, "CreateMetaDataAndOffsetSyncDatahubTask", TaskName=f"bad{run}",
                  SourceResourceId=src_id, TargetResourceId=dst_id, OffsetType="timestamp")
    assert exc.code == "InvalidParameterValue" and "OffsetType" in exc.get_message()
    exc = refused(tc, "CreateMetaSyncDatahubTask", TaskName=f"bad{run}",
                  SourceResourceId="ins-nosuch00", TargetResourceId=dst_id)
    assert exc.code == "ResourceNotFound" and "SourceResourceId" in exc.get_message()
    assert len(_native(tc_server, "/api/v1/tasks")["tasks"]) == before

    for task_id in (meta_id, both_id, offsets.Result.TaskId):
        call(tc, "DeleteDatahubTask", TaskId=task_id)
        wait_gone(tc, task_id)


def target_topics(broker: KafkaCluster) -> set[str]:
    client = AdminClient({"bootstrap.servers": broker.bootstrap, "log_level": 3})
    return set(client.list_topics(timeout=10).topics)
