"""DataHub tasks (`*DatahubTask*`): Tencent's name for a ksync sync task.

A task of TaskType `SOURCE` whose SourceResource and TargetResource are both `KAFKA`
resources (ksync instances) is a ksync TaskSpec:

| Tencent (KafkaParam)                              | ksync                               |
|---------------------------------------------------|-------------------------------------|
| SourceResource.KafkaParam.Resource                | source.instance_id                  |
| Topic ("a,b") / TopicList                         | source.topics                       |
| TopicRegularExpression                            | source.topic_regex                  |
| OffsetType earliest/latest/timestamp + StartTime s| source.start (timestamp in ms)      |
| TargetResource.KafkaParam.Resource                | target.instance_id                  |
| Prefix, Separator, KeepPartition (either side)    | target.topic_prefix/separator/keep_partition |
| TargetResource.KafkaParam.Topic / TopicList       | target.topic_map (paired by position) |
| TaskMax (top level, when a client sends it)       | options.task_max                    |
| CompressionType none/open (either side)           | options.compression none/lz4        |
| EnableToleration true (either side)               | options.errors.tolerance all        |
| TransformsParam.FailureParam Type DLQ, DlqType    | options.errors.dead_letter_topic,   |
|   CKAFKA, KafkaParam.Resource + Topic             |   dead_letter_instance source/target|
| TransformsParam.FailureParam Type DROP            | tolerance all, no dead-letter topic |
| ConnectorSyncType DATA_SYNC_TYPE (default)        | options.mode data                   |
| ConnectorSyncType META_AND_DATA_SYNC_INSTANCE_TYPE| mode data; no topic named: every one|
| ConnectorSyncType META_SYNC_INSTANCE_TYPE         | options.mode metadata (no records); |
|                                                   |   no topic named: every topic       |

Tencent documents CompressionType as "none" or "open" without naming the codec; ksync
compresses with lz4 for "open" (fast, and the order CKafka recommends: LZ4 > GZIP >
Snappy) and also takes a codec by name (lz4, zstd, snappy, gzip). A DataHub task has no
fields for linger, batch size or fetch size: set those with the native API
(`PATCH /api/v1/tasks/{id}`).

Defaults are Tencent's where Tencent documents one (KeepPartition false), ksync's
otherwise (OffsetType earliest, Separator "."). Operations go through
`ksync.control.lifecycle`, like the native API's. Status codes (the SDK's): 0 creating
(Unassigned since creation), 1 running, 2 deleting (Terminating), 5 pausing (pause asked,
members still committing), 6 paused, 8 resuming (Unassigned after having been started
before: resume, restart, rebalance), -1 failed (ErrorMessage says why).

The instance-level actions (`CreateMetaSyncDatahubTask` and its siblings) are mapped in
`meta_sync` onto the same `create_task`.

`ModifyDatahubTask` changes TaskName, Description, TasksMax, SyncThrottleLimit and
(ksync's addition) QpsLimit in place, through the same service as the native API's
`PATCH /api/v1/tasks/{id}`. `DescribeTaskStatus` follows a task's latest operation
(`flows`).

The members of a task form the consumer group `ksync-<TaskId>` on the source cluster;
`DescribeDatahubGroupOffsets` with that Group shows its committed progress.
"""

from __future__ import annotations

import re
from typing import Any, get_args

from pydantic import ValidationError

from ksync.api.compat.tencent.context import (
    Context,
    own_external,
    paging,
    tags,
    tencent_time,
    validation_error,
    with_own_external,
)
from ksync.api.compat.tencent.errors import (
    FAILED_OPERATION,
    INVALID_PARAMETER_VALUE,
    LIMIT_EXCEEDED,
    RESOURCE_NOT_FOUND,
    TencentError,
    bad_value,
    missing,
    unsupported,
)
from ksync.api.compat.tencent.params import Params
from ksync.api.compat.tencent.resources import KAFKA, get_instance
from ksync.api.schemas import progress_of
from ksync.control import lifecycle
from ksync.domain.errors import Conflict, InvalidField, LimitExceeded, NotFound
from ksync.domain.groups import group_id, task_of_group
from ksync.domain.instance import InstanceView
from ksync.domain.status import Desired, TaskStatus
from ksync.domain.task import TaskView
from ksync.replication.policy import ReplicationPolicy
from ksync.spec import Compression, TaskSpec
from ksync.store.repo import Store

SOURCE = "SOURCE"
# KafkaParam.ConnectorSyncType: the selected topics' records (topic level), or the whole
# instance's topics (instance level), with their records or without.
DATA_SYNC_TYPE = "DATA_SYNC_TYPE"
META_SYNC_TYPE = "META_SYNC_INSTANCE_TYPE"
META_AND_DATA_SYNC_TYPE = "META_AND_DATA_SYNC_INSTANCE_TYPE"
SYNC_TYPES = (DATA_SYNC_TYPE, META_SYNC_TYPE, META_AND_DATA_SYNC_TYPE)
# An instance-level task with no topic named selects every topic (internal ones never).
EVERY_TOPIC = ".*"

# Tencent's rule for TaskName.
_TASK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9._-]{0,63}")

_ONLY_KAFKA = "ksync syncs Kafka to Kafka: both resources must be Type KAFKA with a KafkaParam"
_UNCHANGED = "ksync copies every record unchanged (key, value, headers, timestamp)"

TASK_UNSUPPORTED = {
    "TransformParam": _UNCHANGED,
    "SchemaId": _UNCHANGED,
    "PrivateLinkParam": "ksync reaches clusters at their BrokerAddress; there is no private link",
    "TaskId": "ksync chooses the task id (task-…) and returns it in Result.TaskId",
}
RESOURCE_UNSUPPORTED = {
    name: _ONLY_KAFKA
    for name in (
        "EventBusParam",
        "MongoDBParam",
        "EsParam",
        "TdwParam",
        "DtsParam",
        "ClickHouseParam",
        "ClsParam",
        "CosParam",
        "MySQLParam",
        "PostgreSQLParam",
        "TopicParam",
        "MariaDBParam",
        "SQLServerParam",
        "CtsdbParam",
        "ScfParam",
        "MqttParam",
        "IcebergParam",
    )
}
KAFKA_PARAM_UNSUPPORTED = {
    "ZoneId": "ksync reaches the cluster at its connect resource's BrokerAddress, in any zone",
    "TopicId": "name topics by Topic, TopicList or TopicRegularExpression",
    "PartitionNum": "ksync creates a missing target topic with the source topic's partitions",
    "TableMappings": "ksync maps each source topic to one target topic by Prefix and Separator",
    "UseTableMapping": "ksync maps each source topic to one target topic by Prefix and Separator",
    "MsgMultiple": _UNCHANGED + ", each exactly once",
}
# ksync's TaskSpec fields -> the request's names, for validation messages.
_FIELD_NAMES = {
    "name": "TaskName",
    "source.instance_id": "SourceResource.KafkaParam.Resource",
    "source.topics": "SourceResource.KafkaParam.TopicList",
    "source.topic_regex": "SourceResource.KafkaParam.TopicRegularExpression",
    "source.start": "SourceResource.KafkaParam.StartTime",
    "source": "SourceResource.KafkaParam",
    "target.instance_id": "TargetResource.KafkaParam.Resource",
    "target.topic_prefix": "Prefix",
    "target.separator": "Separator",
    "target.keep_partition": "KeepPartition",
    "target.topic_map": "TargetResource.KafkaParam.TopicList",
    "target": "TargetResource.KafkaParam",
    "options.task_max": "TaskMax",
    "options.qps_limit": "QpsLimit",
    "options.throttle_mb_s": "SyncThrottleLimit",
    "options.compression": "CompressionType",
    "options.errors": "TransformsParam.FailureParam",
}


def check_task_name(name: str) -> None:
    """Tencent's rule for TaskName (InvalidParameterValue naming it otherwise)."""
    if not _TASK_NAME.fullmatch(name):
        raise bad_value(
            "TaskName",
            "must start with a letter and hold at most 64 letters, digits, '-', '.' and '_'",
        )


# ---- reading a CreateDatahubTask request ----------------------------------------------


def _kafka_param(p: Params, side: str) -> Params:
    """`<side>` (a DatahubResource) -> its KafkaParam, refusing other resource types."""
    resource = p.nested(side, required=True)
    kind = resource.text("Type", required=True)
    if kind != KAFKA:
        raise unsupported(f"{resource.name('Type')} {kind} is not supported: {_ONLY_KAFKA}")
    kp = resource.nested("KafkaParam")
    resource.done(RESOURCE_UNSUPPORTED)
    if kp is None:
        raise missing(resource.name("KafkaParam"))
    return kp


def _common_kafka_fields(kp: Params, naming: dict[str, tuple[str, Any]]) -> dict[str, Any]:
    """Fields either side may carry; naming options are collected into `naming`. Returns
    what Describe shows back as given (SelfBuilt)."""
    out: dict[str, Any] = {"SelfBuilt": kp.flag("SelfBuilt")}
    kp.text("ResourceName")  # descriptive: the resource's name is shown from the instance
    sync_type = kp.text("ConnectorSyncType")
    if sync_type not in (None, "", *SYNC_TYPES):
        raise unsupported(
            f"{kp.name('ConnectorSyncType')} {sync_type} is not supported: use "
            f"{DATA_SYNC_TYPE} (the selected topics' records), {META_AND_DATA_SYNC_TYPE} "
            f"(topics and records) or {META_SYNC_TYPE} (topics, partitions and configs, no "
            "records)"
        )
    if sync_type:
        if "ConnectorSyncType" in naming and naming["ConnectorSyncType"][1] != sync_type:
            raise TencentError(
                INVALID_PARAMETER_VALUE,
                f"ConnectorSyncType is {naming['ConnectorSyncType'][1]!r} in "
                f"{naming['ConnectorSyncType'][0]} but {sync_type!r} in "
                f"{kp.name('ConnectorSyncType')}: give it once",
            )
        naming["ConnectorSyncType"] = (kp.name("ConnectorSyncType"), sync_type)
    if kp.flag("UseAutoCreateTopic") is False:
        raise unsupported(
            f"{kp.name('UseAutoCreateTopic')} false is not supported: ksync always creates a "
            "missing target topic with the source topic's partitions and configs"
        )
    for key, reader in (
        ("Prefix", kp.text),
        ("Separator", kp.text),
        ("KeepPartition", kp.flag),
        ("QpsLimit", kp.integer),  # records per second for the whole task
        # A record the target refuses goes to the dead-letter queue (or is dropped).
        ("EnableToleration", kp.flag),
        # How the target producer compresses batches.
        ("CompressionType", lambda key: _compression(kp, key)),
    ):
        value = reader(key)
        if value is None:
            continue
        if key in naming and naming[key][1] != value:
            raise TencentError(
                INVALID_PARAMETER_VALUE,
                f"{key} is {naming[key][1]!r} in {naming[key][0]} but {value!r} in "
                f"{kp.name(key)}: give it once",
            )
        naming[key] = (kp.name(key), value)
    return out


# TransformsParam's fields other than FailureParam: data processing ksync does not do.
_TRANSFORMS_UNSUPPORTED = {
    name: _UNCHANGED
    for name in (
        "Content",
        "FieldChain",
        "FilterParam",
        "Result",
        "SourceType",
        "OutputFormat",
        "RowParam",
        "KeepMetadata",
        "BatchAnalyse",
    )
}
_FAILURE_UNSUPPORTED = {
    "RetryInterval": "ksync retries transient errors itself, with backoff",
    "MaxRetryAttempts": "ksync retries transient errors itself, with backoff",
    "TopicParam": "the dead-letter queue is a topic of the task's source or target "
    "instance: give DlqType CKAFKA and KafkaParam",
}


def _failure(p: Params, source_id: str, target_id: str) -> dict[str, Any] | None:
    """TransformsParam.FailureParam -> options.errors (None when not given): only the
    failure handling of a transform applies to a copy, which changes nothing else."""
    transforms = p.nested("TransformsParam")
    if transforms is None:
        return None
    failure = transforms.nested("FailureParam")
    transforms.done(_TRANSFORMS_UNSUPPORTED)
    if failure is None:
        raise missing(transforms.name("FailureParam"))
    kind = failure.text("Type", required=True)
    dlq_type = failure.text("DlqType")
    kafka = failure.nested("KafkaParam")
    resource = kafka.text("Resource", required=True) if kafka is not None else None
    topic = kafka.text("Topic", required=True) if kafka is not None else None
    if kafka is not None:
        kafka.done()
    failure.done(_FAILURE_UNSUPPORTED)
    if kind == "DROP":
        return {"tolerance": "all"}
    if kind != "DLQ":
        raise unsupported(
            f"{failure.name('Type')} {kind} is not supported: a record the target refuses "
            "goes to a dead-letter queue (DLQ) or is dropped (DROP)"
        )
    if dlq_type not in (None, "CKAFKA"):
        raise unsupported(f"{failure.name('DlqType')} {dlq_type} is not supported: use CKAFKA")
    if kafka is None:
        raise missing(failure.name("KafkaParam"))
    sides = {source_id: "source", target_id: "target"}
    if resource not in sides:
        raise bad_value(
            kafka.name("Resource"),
            f"the dead-letter queue must be on the task's source ({source_id}) or target "
            f"({target_id}) instance, not {resource}",
        )
    return {"tolerance": "all", "dead_letter_topic": topic, "dead_letter_instance": sides[resource]}


# CompressionType's "open" (compress, codec unnamed) -> the codec ksync uses.
_OPEN_CODEC = "lz4"


def _compression(kp: Params, key: str) -> str | None:
    """CompressionType -> options.compression: "open" is lz4, a codec name is itself."""
    value = kp.text(key)
    if value is None:
        return None
    codec = value.strip().lower()
    if codec == "open":
        return _OPEN_CODEC
    if codec not in get_args(Compression):
        raise bad_value(
            kp.name(key),
            f"'{value}' is not allowed: use none or open (lz4), or a codec: "
            + ", ".join(get_args(Compression)[1:]),
        )
    return codec


def _source(
    kp: Params, naming: dict[str, tuple[str, Any]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The source KafkaParam -> (SourceSpec fields, what to keep for Describe)."""
    resource = kp.text("Resource", required=True)
    topics: list[str] = []
    topic = kp.text("Topic")
    if topic:
        topics += [t.strip() for t in topic.split(",") if t.strip()]
    topics += kp.texts("TopicList") or []
    regex = kp.text("TopicRegularExpression") or None
    offset_type = kp.text("OffsetType")
    start_time = kp.integer("StartTime")
    kept = _common_kafka_fields(kp, naming)
    kp.done(KAFKA_PARAM_UNSUPPORTED)
    instance_level = naming.get("ConnectorSyncType", ("", DATA_SYNC_TYPE))[1] != DATA_SYNC_TYPE
    if not topics and not regex and instance_level:
        regex = EVERY_TOPIC
    if not topics and not regex:
        raise missing(
            f"{kp.name('Topic')}, {kp.name('TopicList')} or {kp.name('TopicRegularExpression')}"
        )
    if offset_type not in (None, "earliest", "latest", "timestamp"):
        raise bad_value(
            kp.name("OffsetType"), f"'{offset_type}' is not one of earliest, latest, timestamp"
        )
    if offset_type == "timestamp":
        if start_time is None:
            raise missing(kp.name("StartTime") + " (OffsetType is timestamp)")
        if start_time < 0:
            raise bad_value(kp.name("StartTime"), "must be a Unix time in seconds")
        start = {"type": "timestamp", "timestamp_ms": start_time * 1000}
    else:
        if start_time is not None:
            raise bad_value(kp.name("StartTime"), "is only allowed with OffsetType timestamp")
        start = {"type": offset_type or "earliest"}
    return (
        {"instance_id": resource, "topics": topics, "topic_regex": regex, "start": start},
        kept,
    )


def _target(
    kp: Params, naming: dict[str, tuple[str, Any]]
) -> tuple[str, list[str] | None, dict[str, Any]]:
    """The target KafkaParam -> (instance id, target topic names if given, what to keep)."""
    resource = kp.text("Resource", required=True)
    named: list[str] | None = None
    topic = kp.text("Topic")
    topic_list = kp.texts("TopicList")
    if topic or topic_list:
        named = [t.strip() for t in (topic or "").split(",") if t.strip()] + (topic_list or [])
    for key in ("TopicRegularExpression", "OffsetType", "StartTime"):
        if kp.has(key):
            kp.raw(key)
            raise unsupported(
                f"{kp.name(key)} is not supported: the topic selection and the start point "
                "belong to SourceResource.KafkaParam"
            )
    kept = _common_kafka_fields(kp, naming)
    kp.done(KAFKA_PARAM_UNSUPPORTED)
    return resource, named, kept


def _spec(p: Params) -> tuple[TaskSpec, dict[str, Any]]:
    """A CreateDatahubTask request -> (TaskSpec, this face's external fields)."""
    name = p.text("TaskName", required=True)
    task_type = p.text("TaskType", required=True)
    if task_type != SOURCE:
        raise unsupported(
            f"TaskType {task_type} is not supported: a ksync task reads a Kafka source "
            f"and writes a Kafka target, which is TaskType {SOURCE}"
        )
    naming: dict[str, tuple[str, Any]] = {}
    source, source_kept = _source(_kafka_param(p, "SourceResource"), naming)
    target_id, target_topics, target_kept = _target(_kafka_param(p, "TargetResource"), naming)
    description = p.text("Description")
    tag_list = tags(p)
    task_max = p.integer("TaskMax")
    throttle = p.integer("SyncThrottleLimit")  # MB/s for the whole task
    errors = _failure(p, source["instance_id"], target_id)
    p.done(TASK_UNSUPPORTED)
    check_task_name(name)
    target = {
        "instance_id": target_id,
        "topic_prefix": naming.get("Prefix", ("", ""))[1],
        "separator": naming.get("Separator", ("", "."))[1],
        # Tencent's default: partitions are not kept unless asked for.
        "keep_partition": naming.get("KeepPartition", ("", False))[1],
    }
    options: dict[str, Any] = {}
    if task_max is not None:
        options["task_max"] = task_max
    if "QpsLimit" in naming:
        options["qps_limit"] = naming["QpsLimit"][1]
    if throttle is not None:
        options["throttle_mb_s"] = throttle
    if "CompressionType" in naming:
        options["compression"] = naming["CompressionType"][1]
    tolerant = naming.get("EnableToleration", ("", None))[1]
    if errors is not None and tolerant is False:
        raise bad_value(
            naming["EnableToleration"][0],
            "is false while TransformsParam.FailureParam says what to do with refused "
            "records: set it true, or leave out FailureParam",
        )
    if errors is not None:
        options["errors"] = errors
    elif tolerant:
        options["errors"] = {"tolerance": "all"}
    if naming.get("ConnectorSyncType", ("", None))[1] == META_SYNC_TYPE:
        options["mode"] = "metadata"
    body = {"name": name, "source": source, "target": target, "options": options}
    try:
        spec = TaskSpec.model_validate(body)
    except ValidationError as exc:
        raise validation_error(exc, _FIELD_NAMES) from None
    if target_topics is not None:
        spec = _with_target_topics(spec, target_topics)
    sides = {
        k: v[0].split(".")[0]
        for k, v in naming.items()
        if k not in ("QpsLimit", "CompressionType", "EnableToleration", "ConnectorSyncType")
    }
    mine = {
        "TaskType": SOURCE,
        "Description": description,
        "Tags": tag_list,
        "Source": {k: v for k, v in source_kept.items() if v is not None},
        "SyncType": naming.get("ConnectorSyncType", ("", DATA_SYNC_TYPE))[1],
        "Target": {k: v for k, v in target_kept.items() if v is not None},
        # Which resource carried Prefix/Separator/KeepPartition, to show them there.
        "NamingOn": "SourceResource" if "SourceResource" in sides.values() else "TargetResource",
    }
    return spec, mine


def _with_target_topics(spec: TaskSpec, target_topics: list[str]) -> TaskSpec:
    """The task with the target topics the request names, as the CKafka console pairs
    them: the n-th target topic for the n-th source topic, or one target topic for all
    (a merge, which needs KeepPartition false). Names the prefix rule gives anyway stay
    out of `target.topic_map`."""
    policy = ReplicationPolicy.of(spec.target)
    sources = list(spec.source.topics)
    derived = [policy.target_topic(t) for t in sources]
    if sorted(set(target_topics)) == sorted(set(derived)):
        return spec
    if spec.source.topic_regex or not sources:
        raise unsupported(
            "TargetResource.KafkaParam.Topic/TopicList can name target topics only for the "
            "source topics listed in SourceResource.KafkaParam.Topic/TopicList, not for a "
            "TopicRegularExpression"
        )
    if len(target_topics) != len(sources):  # Topic and TopicList may both name them
        target_topics = list(dict.fromkeys(target_topics))
    if len(target_topics) == 1:
        targets = target_topics * len(sources)
    elif len(target_topics) == len(sources):
        targets = list(target_topics)
    else:
        raise unsupported(
            f"TargetResource.KafkaParam.Topic/TopicList names {len(target_topics)} topics for "
            f"{len(sources)} source topics: give one target topic per source topic, in the "
            "same order, or a single one for all of them"
        )
    topic_map = {s: t for s, t in zip(sources, targets, strict=True) if policy.prefixed(s) != t}
    target = spec.target.model_copy(update={"topic_map": topic_map})
    try:
        return TaskSpec.model_validate({**spec.model_dump(mode="json"), "target": target.model_dump()})
    except ValidationError as exc:
        raise validation_error(exc, _FIELD_NAMES) from None


# ---- describing a task ----------------------------------------------------------------


def status_code(store: Store, row: TaskView) -> int:
    """The SDK's status code for a task (see the module docstring)."""
    if row.deleted or row.status == TaskStatus.TERMINATING:
        return 2
    if row.desired == Desired.PAUSED:
        return 6 if row.status == TaskStatus.PAUSED else 5
    if row.status == TaskStatus.RUNNING:
        return 1
    if row.status == TaskStatus.FAILED:
        return -1
    # Unassigned: "creating" until the task first ran, "resuming" after that.
    latest = store.tasks.events(row.id, limit=1)
    return 0 if latest and latest[0].message == "task created" else 8


def sync_type_of(spec: TaskSpec, mine: dict[str, Any]) -> str:
    """The ConnectorSyncType a task shows: metadata only when it copies no records, else
    the instance-level or topic-level type it was created as."""
    if not spec.options.copies_records:
        return META_SYNC_TYPE
    given = mine.get("SyncType")
    return META_AND_DATA_SYNC_TYPE if given in (META_SYNC_TYPE, META_AND_DATA_SYNC_TYPE) else DATA_SYNC_TYPE


def _resource_name(instances: dict[str, InstanceView], instance_id: str) -> str | None:
    row = instances.get(instance_id)
    return row.name if row is not None else None


def task_info(
    store: Store, row: TaskView, instances: dict[str, InstanceView], detailed: bool = False
) -> dict[str, Any]:
    """A DatahubTaskInfo (list) or, `detailed`, a DescribeDatahubTaskRes."""
    spec = row.spec
    mine = own_external(row.external)
    src, dst = spec.source, spec.target
    source_param: dict[str, Any] = {
        "SelfBuilt": True,
        "Resource": src.instance_id,
        "ResourceName": _resource_name(instances, src.instance_id),
        "Topic": ",".join(src.topics) or None,
        "TopicList": list(src.topics) or None,
        "TopicRegularExpression": src.topic_regex,
        "OffsetType": src.start.type,
        "StartTime": src.start.timestamp_ms // 1000 if src.start.timestamp_ms is not None else None,
        "QpsLimit": spec.options.qps_limit,
        **mine.get("Source", {}),
        # From the spec: the mode may have changed since (the native API, while paused).
        "ConnectorSyncType": sync_type_of(spec, mine),
    }
    targets = [t.target for t in row.topics]
    compression = spec.options.compression
    target_param: dict[str, Any] = {
        "SelfBuilt": True,
        "Resource": dst.instance_id,
        "ResourceName": _resource_name(instances, dst.instance_id),
        "Topic": ",".join(targets) or None,
        "TopicList": targets or None,
        # The request's spelling: "open" for the codec it stands for, else the codec.
        "CompressionType": "open" if compression == _OPEN_CODEC else compression,
        "EnableToleration": spec.options.errors.tolerance == "all",
        **mine.get("Target", {}),
    }
    naming = {
        "Prefix": dst.topic_prefix,
        "Separator": dst.separator,
        "KeepPartition": dst.keep_partition,
    }
    (source_param if mine.get("NamingOn") == "SourceResource" else target_param).update(naming)
    info: dict[str, Any] = {
        "TaskId": row.id,
        "TaskName": row.name,
        "TaskType": SOURCE,
        "Status": status_code(store, row),
        "SourceResource": {"Type": KAFKA, "KafkaParam": source_param},
        "TargetResource": {"Type": KAFKA, "KafkaParam": target_param},
        "CreateTime": tencent_time(row.created_at),
        "ErrorMessage": row.error or "",
        "DatahubId": None,
        "Description": mine.get("Description") or "",
        "TaskMax": spec.options.task_max,
        "SyncThrottleLimit": spec.options.throttle_mb_s,
        "WarnMessage": "; ".join(row.warnings),
    }
    errors = spec.options.errors
    if detailed and errors.tolerance == "all":  # DatahubTaskInfo has no TransformsParam
        failure: dict[str, Any] = {"Type": "DROP"}
        if errors.dead_letter_topic:
            failure = {
                "Type": "DLQ",
                "DlqType": "CKAFKA",
                "KafkaParam": {
                    "Resource": src.instance_id
                    if errors.dead_letter_instance == "source"
                    else dst.instance_id,
                    "Topic": errors.dead_letter_topic,
                },
            }
        info["TransformsParam"] = {"FailureParam": failure}
    if detailed:
        info["Tags"] = mine.get("Tags") or []
        info["Connections"] = [
            {"TopicName": t.source, "GroupId": group_id(row.id), "TopicId": None}
            for t in row.topics
        ]
    return info


# ---- actions --------------------------------------------------------------------------


def _task(ctx: Context, task_id: str) -> TaskView:
    try:
        return ctx.store.tasks.get(task_id)
    except NotFound:
        raise TencentError(RESOURCE_NOT_FOUND, f"TaskId: task {task_id} does not exist") from None


def _instances(ctx: Context) -> dict[str, InstanceView]:
    return {i.id: i for i in ctx.store.instances.all()}


def create(ctx: Context, p: Params) -> dict[str, Any]:
    spec, mine = _spec(p)
    return create_task(
        ctx, spec, mine, ("SourceResource.KafkaParam.Resource", "TargetResource.KafkaParam.Resource")
    )


def create_task(
    ctx: Context,
    spec: TaskSpec,
    mine: dict[str, Any],
    resource_fields: tuple[str, str],
    names: dict[str, str] = _FIELD_NAMES,
) -> dict[str, Any]:
    """Create the task a Create*DatahubTask action describes; `resource_fields` name the
    request's source and target resource fields (for a resource that does not exist) and
    `names` its other fields by ksync's (for a spec the store's rules refuse)."""
    get_instance(ctx, spec.source.instance_id, resource_fields[0])
    get_instance(ctx, spec.target.instance_id, resource_fields[1])
    try:
        row = lifecycle.create(
            ctx.store, spec, external=with_own_external(None, mine), max_tasks=ctx.settings.max_tasks
        )
    except InvalidField as exc:
        raise bad_value(names.get(exc.field, exc.field), exc.reason) from None
    except LimitExceeded as exc:
        raise TencentError(LIMIT_EXCEEDED, exc.message) from None
    except Conflict as exc:  # the name is taken
        raise bad_value("TaskName", str(exc).removeprefix("name: ")) from None
    return {"Result": {"TaskId": row.id, "DatahubId": None}}


def describe(ctx: Context, p: Params) -> dict[str, Any]:
    task_id = p.text("TaskId", required=True)
    p.done()
    row = _task(ctx, task_id)
    return {"Result": task_info(ctx.store, row, _instances(ctx), detailed=True)}


def describe_list(ctx: Context, p: Params) -> dict[str, Any]:
    offset, limit = paging(p, default_limit=20, max_limit=100)
    word = (p.text("SearchWord") or "").lower()
    target_type = p.text("TargetType")
    source_type = p.text("SourceType")
    task_type = p.text("TaskType")
    resource = p.text("Resource")
    p.done()
    rows = ctx.store.tasks.all()
    if any(v not in (None, "", KAFKA) for v in (target_type, source_type)) or task_type not in (
        None,
        "",
        SOURCE,
    ):
        rows = []  # ksync has only KAFKA -> KAFKA tasks of type SOURCE
    if word:
        rows = [r for r in rows if word in r.name.lower() or word in r.id]
    if resource:
        rows = [r for r in rows if resource in (r.source_id, r.target_id)]
    instances = _instances(ctx)
    return {
        "Result": {
            "TotalCount": len(rows),
            "TaskList": [task_info(ctx.store, r, instances) for r in rows[offset : offset + limit]],
        }
    }


def _operate(ctx: Context, p: Params, verb: str, op: Any) -> dict[str, Any]:
    task_id = p.text("TaskId", required=True)
    p.done()
    try:
        op(task_id)
    except NotFound:
        raise TencentError(RESOURCE_NOT_FOUND, f"TaskId: task {task_id} does not exist") from None
    except Conflict as exc:
        raise TencentError(FAILED_OPERATION, f"cannot {verb} the task: {exc}") from None
    return {"Result": {"TaskId": task_id, "DatahubId": None}}


def pause(ctx: Context, p: Params) -> dict[str, Any]:
    return _operate(ctx, p, "pause", lambda tid: lifecycle.pause(ctx.store, tid))


def resume(ctx: Context, p: Params) -> dict[str, Any]:
    """Resume from the committed progress; after the pause retention, from `latest`."""
    retention = ctx.settings.pause_retention
    return _operate(ctx, p, "resume", lambda tid: lifecycle.start(ctx.store, tid, None, retention))


def restart(ctx: Context, p: Params) -> dict[str, Any]:
    return _operate(ctx, p, "restart", lambda tid: lifecycle.restart(ctx.store, tid))


def delete(ctx: Context, p: Params) -> dict[str, Any]:
    return _operate(ctx, p, "delete", lambda tid: lifecycle.delete(ctx.store, tid))


# ksync's option fields -> ModifyDatahubTask's, for validation messages (TasksMax is spelled
# with an s in this action, TaskMax in CreateDatahubTask).
_MODIFY_FIELDS = {
    "name": "TaskName",
    "task_max": "TasksMax",
    "throttle_mb_s": "SyncThrottleLimit",
    "qps_limit": "QpsLimit",
}


def modify(ctx: Context, p: Params) -> dict[str, Any]:
    """Rename a task, change its Description, parallelism (TasksMax), throttle
    (SyncThrottleLimit, MB/s) or records per second (QpsLimit, ksync's addition: the SDK's
    model has no such field, send it with `call_json`). Limits apply without a restart; a
    new TasksMax restarts every member with its new share, progress kept. Every value is
    checked before anything is written."""
    task_id = p.text("TaskId", required=True)
    name = p.text("TaskName")
    description = p.text("Description")
    task_max = p.integer("TasksMax")
    throttle = p.integer("SyncThrottleLimit")
    qps = p.integer("QpsLimit")
    auto_expand = p.flag("AutoExpandFlag")
    p.done()
    if auto_expand:
        raise unsupported(
            "AutoExpandFlag true is not supported: ksync runs the TasksMax members it is "
            "given; change TasksMax to scale a task"
        )
    if name is not None and not _TASK_NAME.fullmatch(name):
        raise bad_value(
            "TaskName",
            "must start with a letter and hold at most 64 letters, digits, '-', '.' and '_'",
        )
    row = _task(ctx, task_id)
    options: dict[str, Any] = {}
    for key, value in (("task_max", task_max), ("throttle_mb_s", throttle), ("qps_limit", qps)):
        if value is not None:
            options[key] = value
    external = None
    if description is not None:
        mine = {**own_external(row.external), "Description": description}
        external = with_own_external(row.external, mine)
    try:
        lifecycle.update_options(ctx.store, task_id, options, name=name, external=external)
    except ValidationError as exc:
        raise validation_error(exc, _MODIFY_FIELDS) from None
    except NotFound:
        raise TencentError(RESOURCE_NOT_FOUND, f"TaskId: task {task_id} does not exist") from None
    except Conflict as exc:
        if str(exc).startswith("name: "):
            raise bad_value("TaskName", str(exc).removeprefix("name: ")) from None
        raise TencentError(FAILED_OPERATION, f"cannot modify the task: {exc}") from None
    return {"Result": {"TaskId": task_id, "DatahubId": None}}


def group_offsets(ctx: Context, p: Params) -> dict[str, Any]:
    """Committed progress of a task's group. Name is the source connect resource (the
    instance the group lives on) or the TaskId; Group is `ksync-<TaskId>`."""
    name = p.text("Name", required=True)
    group = p.text("Group", required=True)
    word = (p.text("SearchWord") or "").lower()
    offset, limit = paging(p, default_limit=50, max_limit=50)
    p.done()
    task_id = task_of_group(group)
    try:
        row = ctx.store.tasks.get(task_id) if task_id is not None else None
    except NotFound:
        row = None
    if row is None:
        synced = _synced_group_offsets(ctx, name, group, word)
        if synced is not None:
            return {
                "Result": {
                    "TotalCount": len(synced),
                    "TopicList": synced[offset : offset + limit],
                }
            }
        raise TencentError(
            RESOURCE_NOT_FOUND,
            f"Group: {group} is neither the consumer group of a ksync task (they are named "
            f"{group_id('<TaskId>')}; DescribeDatahubTask lists it under Connections) nor a "
            f"group whose offsets a task with offset sync synced from or to {name}",
        )
    source_id = row.source_id
    if name not in (source_id, row.id):
        raise TencentError(
            RESOURCE_NOT_FOUND,
            f"Name: group {group} reads from connect resource {source_id}, not {name}",
        )
    by_topic: dict[str, list[dict[str, Any]]] = {}
    for prog in progress_of(ctx.store.workers.members(row.id)):
        by_topic.setdefault(prog.topic, []).append(
            {
                "Partition": prog.partition,
                "Offset": prog.committed_offset if prog.committed_offset is not None else -1,
                "Metadata": "",
                "ErrorCode": 0,
                "LogEndOffset": prog.end_offset if prog.end_offset is not None else -1,
                "Lag": prog.lag,
            }
        )
    topics = [t for t in sorted(by_topic) if word in t.lower()]
    return {
        "Result": {
            "TotalCount": len(topics),
            "TopicList": [
                {"Topic": t, "Partitions": by_topic[t]} for t in topics[offset : offset + limit]
            ],
        }
    }


def _synced_group_offsets(
    ctx: Context, name: str, group: str, word: str
) -> list[dict[str, Any]] | None:
    """A group whose offsets a task syncs (`options.sync_group_offsets`), by topic: Name
    is the TaskId or a connect resource the task reads from or writes to. Offset is the
    group's committed source offset; ksync adds TargetTopic, TargetOffset (its
    translation), TargetCommitted and SyncedAt, and Lag is the sync lag. None when no
    such task has synced the group."""
    tasks = [
        t
        for t in ctx.store.tasks.all()
        if not t.deleted
        and t.spec.options.sync_group_offsets.enabled
        and name in (t.id, t.source_id, t.target_id)
    ]
    by_topic: dict[str, list[dict[str, Any]]] = {}
    for task in tasks:
        for v in ctx.store.offsets.syncs(task.id):
            if v.group_id != group:
                continue
            by_topic.setdefault(v.topic, []).append(
                {
                    "Partition": v.partition,
                    "Offset": v.source_offset,
                    "Metadata": "",
                    "ErrorCode": 0,
                    "LogEndOffset": -1,
                    "Lag": v.lag if v.lag is not None else -1,
                    "TargetTopic": v.target_topic,
                    "TargetOffset": v.target_offset if v.target_offset is not None else -1,
                    "TargetCommitted": v.target_committed if v.target_committed is not None else -1,
                    "SyncedAt": v.synced_at.strftime("%Y-%m-%d %H:%M:%S") if v.synced_at else "",
                }
            )
    if not by_topic:
        return None
    return [
        {"Topic": t, "Partitions": by_topic[t]} for t in sorted(by_topic) if word in t.lower()
    ]
