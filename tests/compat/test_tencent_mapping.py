"""The Tencent face's mapping without brokers: DataHub task parameters -> TaskSpec, and
ksync's lifecycle -> the SDK's status codes, over a real SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers import SEALER

from ksync.api.compat.tencent import datahub, meta_sync
from ksync.api.compat.tencent.context import Context
from ksync.api.compat.tencent.errors import TencentError
from ksync.api.compat.tencent.params import Params
from ksync.control import lifecycle
from ksync.domain.status import TaskStatus
from ksync.domain.task import TaskChange
from ksync.settings import Settings
from ksync.spec import InstanceSpec
from ksync.store.db import make_engine, migrate
from ksync.store.repo import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    engine = make_engine(Settings(data_dir=tmp_path).database_url)
    migrate(engine)
    yield Store(engine, SEALER)
    engine.dispose()


@pytest.fixture
def pair(store: Store) -> tuple[str, str]:
    ids = []
    for name, port in (("east", 9092), ("west", 9093)):
        spec = InstanceSpec(name=name, bootstrap_servers=f"127.0.0.1:{port}")
        ids.append(store.instances.add(spec, cluster_id=f"cluster-{name}", broker_count=1).id)
    return ids[0], ids[1]


def request(
    src: str,
    dst: str,
    source: dict[str, Any] | None = None,
    target: dict[str, Any] | None = None,
    **top: Any,
) -> Params:
    return Params(
        {
            "TaskName": "t1",
            "TaskType": "SOURCE",
            "SourceResource": {
                "Type": "KAFKA",
                "KafkaParam": {"Resource": src, **(source or {"Topic": "a"})},
            },
            "TargetResource": {"Type": "KAFKA", "KafkaParam": {"Resource": dst, **(target or {})}},
            **top,
        }
    )


def test_topics_start_point_naming_and_defaults(pair: tuple[str, str]) -> None:
    src, dst = pair
    spec, mine = datahub._spec(
        request(
            src,
            dst,
            source={
                "Topic": "a, b",
                "TopicList": ["b", "c"],
                "TopicRegularExpression": "^d.*",
                "OffsetType": "timestamp",
                "StartTime": 1_700_000_000,
                "Prefix": "bk",
                "Separator": "_",
            },
            target={"SelfBuilt": False},
            TaskMax=3,
        )
    )
    assert spec.source.topics == ["a", "b", "c"] and spec.source.topic_regex == "^d.*"
    assert (
        spec.source.start.type == "timestamp"
        and spec.source.start.timestamp_ms == 1_700_000_000_000
    )
    assert (spec.target.topic_prefix, spec.target.separator) == ("bk", "_")
    assert spec.target.keep_partition is False  # Tencent's default
    assert spec.options.task_max == 3
    assert mine["NamingOn"] == "SourceResource" and mine["Target"] == {"SelfBuilt": False}

    plain, _ = datahub._spec(request(src, dst))
    assert plain.source.start.type == "earliest" and plain.target.topic_prefix == ""
    kept, _ = datahub._spec(request(src, dst, target={"KeepPartition": True, "Topic": "a"}))
    assert kept.target.keep_partition is True


def test_traffic_limits_map_onto_task_options(pair: tuple[str, str]) -> None:
    spec, _ = datahub._spec(request(*pair, source={"Topic": "a", "QpsLimit": 500}, SyncThrottleLimit=3))
    assert (spec.options.qps_limit, spec.options.throttle_mb_s) == (500, 3)


@pytest.mark.parametrize(
    ("side", "given", "codec", "shown"),
    [
        ("target", "open", "lz4", "open"),
        ("source", "open", "lz4", "open"),
        ("target", "none", "none", "none"),
        ("target", "ZSTD", "zstd", "zstd"),
        ("target", "gzip", "gzip", "gzip"),
    ],
)
def test_compression_type_maps_onto_the_task_compression(
    store: Store, pair: tuple[str, str], side: str, given: str, codec: str, shown: str
) -> None:
    kafka_param = {"CompressionType": given}
    source = {"Topic": "a", **kafka_param} if side == "source" else None
    target = kafka_param if side == "target" else None
    spec, mine = datahub._spec(request(*pair, source=source, target=target))
    assert spec.options.compression == codec
    # Describe shows it on the target resource, where records are written, as given.
    row = lifecycle.create(store, spec, external={"tencent": mine}, max_tasks=10)
    info = datahub.task_info(store, row, {})
    assert info["TargetResource"]["KafkaParam"]["CompressionType"] == shown
    assert "CompressionType" not in info["SourceResource"]["KafkaParam"]


def test_a_task_without_compression_type_is_uncompressed_and_says_so(
    store: Store, pair: tuple[str, str]
) -> None:
    spec, mine = datahub._spec(request(*pair))
    assert spec.options.compression == "none"
    row = lifecycle.create(store, spec, external={"tencent": mine}, max_tasks=10)
    assert datahub.task_info(store, row, {})["TargetResource"]["KafkaParam"]["CompressionType"] == "none"


def test_a_bad_compression_type_names_the_field_and_the_values() -> None:
    with pytest.raises(TencentError) as info:
        datahub._spec(request("ins-a", "ins-b", target={"CompressionType": "brotli"}))
    message = str(info.value)
    assert "TargetResource.KafkaParam.CompressionType" in message, message
    assert "none or open (lz4)" in message and "zstd, snappy, gzip" in message, message


@pytest.mark.parametrize(
    ("source", "target", "top", "code"),
    [
        ({"Topic": "a", "StartTime": 5}, {}, {}, "InvalidParameterValue"),
        ({"Topic": "a"}, {}, {"TransformsParam": {"FieldChain": []}}, "UnsupportedOperation"),
        ({"Topic": "a"}, {}, {"TransformsParam": {"FailureParam": {"Type": "IGNORE_ERROR"}}},
         "UnsupportedOperation"),
        ({"Topic": "a"}, {}, {"TransformsParam": {"FailureParam": {"Type": "DLQ", "DlqType": "TOPIC"}}},
         "UnsupportedOperation"),
        ({"Topic": "a", "EnableToleration": False}, {},
         {"TransformsParam": {"FailureParam": {"Type": "DROP"}}}, "InvalidParameterValue"),
        ({"Topic": "a", "EnableToleration": True}, {"EnableToleration": False}, {}, "InvalidParameterValue"),
        ({"Topic": "a", "UseAutoCreateTopic": False}, {}, {}, "UnsupportedOperation"),
        ({"Topic": "a", "CompressionType": "brotli"}, {}, {}, "InvalidParameterValue"),
        ({"Topic": "a", "CompressionType": "open"}, {"CompressionType": "none"}, {}, "InvalidParameterValue"),
        ({"Topic": "a"}, {"OffsetType": "latest"}, {}, "UnsupportedOperation"),
        ({"Topic": "a"}, {}, {"SyncThrottleLimit": 0}, "InvalidParameterValue"),
        ({"Topic": "a", "QpsLimit": -5}, {}, {}, "InvalidParameterValue"),
        ({"Topic": "a"}, {}, {"Unheard": 1}, "UnknownParameter"),
        ({"Topic": 5}, {}, {}, "InvalidParameter"),
        ({"Topic": "a"}, {}, {"TaskMax": 0}, "InvalidParameterValue"),
        ({"Topic": "a"}, {"KeepPartition": "yes"}, {}, "InvalidParameter"),
    ],
)
def test_refusals(
    pair: tuple[str, str],
    source: dict[str, Any],
    target: dict[str, Any],
    top: dict[str, Any],
    code: str,
) -> None:
    with pytest.raises(TencentError) as info:
        datahub._spec(request(*pair, source=source, target=target, **top))
    assert info.value.code == code, info.value


def test_status_codes_follow_the_lifecycle(store: Store, pair: tuple[str, str]) -> None:
    spec, mine = datahub._spec(request(*pair, target={"Prefix": "x"}))
    row = lifecycle.create(store, spec, external={"tencent": mine}, max_tasks=10)
    tid = row.id

    def code() -> int:
        return datahub.status_code(store, store.tasks.get(tid))

    assert code() == 0  # creating
    store.tasks.observe(tid, TaskChange(status=TaskStatus.RUNNING))
    assert code() == 1
    store.tasks.observe(tid, TaskChange(status=TaskStatus.UNASSIGNED))  # a rebalance after it ran
    assert code() == 8
    store.tasks.observe(tid, TaskChange(status=TaskStatus.RUNNING))
    lifecycle.pause(store, tid)
    assert code() == 5  # pausing: members still committing
    store.tasks.observe(tid, TaskChange(status=TaskStatus.PAUSED))
    assert code() == 6
    lifecycle.start(store, tid, None, timedelta(hours=24))
    assert code() == 8  # resuming
    store.tasks.observe(tid, TaskChange(status=TaskStatus.FAILED, error="target unwritable"))
    assert code() == -1
    ctx = Context(store, Settings())
    info = datahub.task_info(
        store, store.tasks.get(tid), {i.id: i for i in store.instances.all()}, detailed=True
    )
    assert (info["Status"], info["ErrorMessage"]) == (-1, "target unwritable")
    assert info["TargetResource"]["KafkaParam"]["Prefix"] == "x"
    assert info["SourceResource"]["KafkaParam"]["ResourceName"] == "east"
    datahub.delete(ctx, Params({"TaskId": tid}))
    assert code() == 2  # deleting


# ---- target topics by name (TargetResource.KafkaParam.Topic/TopicList) --------------------


def test_target_topics_pair_with_source_topics_by_position(pair: tuple[str, str]) -> None:
    src, dst = pair
    spec, _ = datahub._spec(
        request(src, dst, source={"TopicList": ["a", "b", "c"]}, target={"TopicList": ["a-bak", "b", "x.c"], "Prefix": "x"})
    )
    # b -> b differs from the prefix name x.b: mapped; c -> x.c is the prefix name anyway.
    assert spec.target.topic_map == {"a": "a-bak", "b": "b"}
    same, _ = datahub._spec(request(src, dst, source={"Topic": "a,b"}, target={"Topic": "b,a"}))
    assert same.target.topic_map == {}  # the derived names, in any order: nothing to map


def test_one_target_topic_for_several_sources_is_a_merge_without_keep_partition(
    store: Store, pair: tuple[str, str]
) -> None:
    src, dst = pair
    spec, _ = datahub._spec(
        request(src, dst, source={"Topic": "eu,us,asia"}, target={"Topic": "all"})
    )
    assert spec.target.topic_map == {"eu": "all", "us": "all", "asia": "all"}
    assert spec.target.keep_partition is False  # Tencent's default
    ctx = Context(store, Settings())
    kept = request(src, dst, source={"Topic": "eu,us"}, target={"Topic": "all", "KeepPartition": True})
    with pytest.raises(TencentError) as info:
        datahub.create(ctx, kept)
    assert info.value.code == "InvalidParameterValue"
    assert "TargetResource.KafkaParam.TopicList" in info.value.message
    assert "cannot keep their numbers in one target topic" in info.value.message
    created = datahub.create(ctx, request(src, dst, source={"Topic": "eu,us,asia"}, target={"Topic": "all"}))
    row = store.tasks.get(created["Result"]["TaskId"])
    assert row.spec.target.topic_map == {"eu": "all", "us": "all", "asia": "all"}


@pytest.mark.parametrize(
    ("source", "target", "message"),
    [
        ({"Topic": "a,b,c"}, {"Topic": "x,y"}, "names 2 topics for 3 source topics"),
        ({"TopicRegularExpression": "a.*"}, {"Topic": "x"}, "not for a TopicRegularExpression"),
    ],
)
def test_target_topics_that_cannot_be_paired_are_refused(
    pair: tuple[str, str], source: dict[str, Any], target: dict[str, Any], message: str
) -> None:
    with pytest.raises(TencentError) as info:
        datahub._spec(request(*pair, source=source, target=target))
    assert info.value.code == "UnsupportedOperation"
    assert message in info.value.message


def _dlq(resource: str, topic: str = "dlq-a") -> dict[str, Any]:
    return {
        "TransformsParam": {
            "FailureParam": {
                "Type": "DLQ",
                "DlqType": "CKAFKA",
                "KafkaParam": {"Resource": resource, "Topic": topic},
            }
        }
    }


def test_enable_toleration_and_the_failure_params_dead_letter_queue_become_options_errors(
    store: Store, pair: tuple[str, str]
) -> None:
    src, dst = pair
    spec, _ = datahub._spec(request(src, dst, target={"EnableToleration": True}))
    errors = spec.options.errors
    assert (errors.tolerance, errors.dead_letter_topic) == ("all", None)
    for resource, side in ((src, "source"), (dst, "target")):
        spec, mine = datahub._spec(request(src, dst, target={"EnableToleration": True}, **_dlq(resource)))
        errors = spec.options.errors
        assert (errors.tolerance, errors.dead_letter_topic, errors.dead_letter_instance) == (
            "all", "dlq-a", side
        )
        # Described back as it was given.
        row = lifecycle.create(
            store, spec.model_copy(update={"name": f"t-{side}"}), external={"tencent": mine}, max_tasks=10
        )
        info = datahub.task_info(store, row, {}, detailed=True)
        assert info["TargetResource"]["KafkaParam"]["EnableToleration"] is True
        assert info["TransformsParam"] == _dlq(resource)["TransformsParam"]
    spec, _ = datahub._spec(request(src, dst, TransformsParam={"FailureParam": {"Type": "DROP"}}))
    assert (spec.options.errors.tolerance, spec.options.errors.dead_letter_topic) == ("all", None)
    # Without either, a refused record blocks its topic (ksync's default).
    spec, _ = datahub._spec(request(src, dst))
    assert spec.options.errors.tolerance == "none"


def test_a_dead_letter_queue_on_another_instance_is_refused_naming_the_field(
    pair: tuple[str, str]
) -> None:
    with pytest.raises(TencentError) as info:
        datahub._spec(request(*pair, **_dlq("ins-elsewhere")))
    assert info.value.code == "InvalidParameterValue"
    assert "TransformsParam.FailureParam.KafkaParam.Resource" in str(info.value), info.value
    assert "ins-elsewhere" in str(info.value)


# ---- the instance-level sync actions (meta_sync) ----------------------------------------


def _created(store: Store, result: dict[str, Any]) -> Any:
    return store.tasks.get(result["Result"]["TaskId"])


def test_the_three_sync_actions_map_onto_mode_selection_and_offset_sync(
    store: Store, pair: tuple[str, str]
) -> None:
    src, dst = pair
    ctx = Context(store, Settings())
    base = {"SourceResourceId": src, "TargetResourceId": dst, "Prefix": "bk"}
    meta = _created(store, meta_sync.create_meta(ctx, Params(
        {"TaskName": "m1", "SourceResourceId": src, "TargetResourceId": dst, "Description": "only topics"}
    )))
    assert meta.spec.options.mode == "metadata" and not meta.spec.options.copies_records
    assert (meta.spec.source.topics, meta.spec.source.topic_regex) == ([], ".*")
    assert meta.spec.target.topic_prefix == "" and meta.spec.target.keep_partition is True
    assert meta.spec.options.sync_group_offsets.enabled is False

    data = _created(store, meta_sync.create_meta_and_data(
        ctx, Params({"TaskName": "m2", **base, "TopicList": ["a", "b"], "OffsetType": "latest", "Separator": "-"})
    ))
    assert data.spec.options.mode == "data" and data.spec.source.topics == ["a", "b"]
    assert data.spec.source.topic_regex is None and data.spec.source.start.type == "latest"
    assert (data.spec.target.topic_prefix, data.spec.target.separator) == ("bk", "-")

    offsets = _created(store, meta_sync.create_meta_data_and_offsets(
        ctx, Params({"TaskName": "m3", **base, "TopicRegularExpression": "^ord.*"})
    ))
    assert offsets.spec.options.mode == "data" and offsets.spec.source.topic_regex == "^ord.*"
    assert offsets.spec.options.sync_group_offsets.enabled is True
    assert offsets.spec.options.sync_group_offsets.groups == []  # every group

    shown = {
        t.name: datahub.task_info(store, t, {})["SourceResource"]["KafkaParam"]["ConnectorSyncType"]
        for t in (meta, data, offsets)
    }
    assert shown == {
        "m1": "META_SYNC_INSTANCE_TYPE",
        "m2": "META_AND_DATA_SYNC_INSTANCE_TYPE",
        "m3": "META_AND_DATA_SYNC_INSTANCE_TYPE",
    }


@pytest.mark.parametrize(
    ("action", "params", "field"),
    [
        ("create_meta", {"TopicList": ["a"]}, "TopicList"),  # no selection in this action
        ("create_meta_and_data", {"TopicList": ["a"], "TopicRegularExpression": "a.*"}, "TopicRegularExpression"),
        ("create_meta_data_and_offsets", {"OffsetType": "timestamp"}, "OffsetType"),
        ("create_meta_and_data", {"Prefix": "bad prefix"}, "Prefix"),
        ("create_meta", {"TaskName": "9starts-with-a-digit"}, "TaskName"),
    ],
)
def test_the_sync_actions_refuse_bad_fields_naming_them_and_write_nothing(
    store: Store, pair: tuple[str, str], action: str, params: dict[str, Any], field: str
) -> None:
    src, dst = pair
    body = {"TaskName": "bad", "SourceResourceId": src, "TargetResourceId": dst, **params}
    with pytest.raises(TencentError) as refused:
        getattr(meta_sync, action)(Context(store, Settings()), Params(body))
    assert field in refused.value.message, refused.value.message
    assert store.tasks.all() == []


def test_create_datahub_task_takes_the_instance_level_sync_types(pair: tuple[str, str]) -> None:
    src, dst = pair
    meta, mine = datahub._spec(
        request(src, dst, source={"ConnectorSyncType": "META_SYNC_INSTANCE_TYPE"})
    )
    assert meta.options.mode == "metadata" and meta.source.topic_regex == ".*"
    assert mine["SyncType"] == "META_SYNC_INSTANCE_TYPE"
    both, _ = datahub._spec(
        request(src, dst, source={"Topic": "a", "ConnectorSyncType": "META_AND_DATA_SYNC_INSTANCE_TYPE"})
    )
    assert both.options.mode == "data" and both.source.topics == ["a"]
    with pytest.raises(TencentError, match="ConnectorSyncType"):
        datahub._spec(request(src, dst, source={"Topic": "a", "ConnectorSyncType": "NOPE"}))
