"""CKafka's instance-level sync actions, mapped onto ksync task specs:

| action                                   | ksync task                                            |
|------------------------------------------|-------------------------------------------------------|
| CreateMetaSyncDatahubTask                | `options.mode: metadata`, every topic of the source    |
| CreateMetaAndDataSyncDatahubTask         | `mode: data`, the topics selected (default: every one) |
| CreateMetaDataAndOffsetSyncDatahubTask   | as above, plus `options.sync_group_offsets.enabled`    |

Their fields, and what each becomes (as `CreateDatahubTask`'s do, see `datahub`):

| field                                  | ksync                                               |
|----------------------------------------|-----------------------------------------------------|
| TaskName, Description, Tags            | name; kept and shown by DescribeDatahubTask         |
| SourceResourceId / TargetResourceId    | source.instance_id / target.instance_id             |
| TopicList / TopicRegularExpression     | source.topics / source.topic_regex (one of them; neither: every topic) |
| OffsetType earliest/latest(/timestamp) | source.start (`timestamp` has no StartTime field here: refused) |
| Prefix, Separator                      | target.topic_prefix, target.separator               |

A metadata-only task has no topic selection: like CKafka's, it keeps every topic of the
source instance in step (partitions and configs), never the internal ones. These actions
have no KeepPartition field: source partition p goes to target partition p (ksync's
default), which is what an instance copy and its consumer offsets need (an offset is a
position in one partition). The offset action has no group fields: every consumer group
of the source is synced (`GroupOffsetSync` with neither `groups` nor `groups_regex`);
narrow it with the native API (`PATCH /api/v1/tasks/{id}`, options.sync_group_offsets).
DescribeDatahubTask shows such a task with ConnectorSyncType META_SYNC_INSTANCE_TYPE or
META_AND_DATA_SYNC_INSTANCE_TYPE.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from ksync.api.compat.tencent import datahub
from ksync.api.compat.tencent.context import Context, tags, validation_error
from ksync.api.compat.tencent.errors import bad_value
from ksync.api.compat.tencent.params import Params
from ksync.spec import TaskSpec

_RESOURCES = ("SourceResourceId", "TargetResourceId")
# ksync's TaskSpec fields -> these actions' names, for validation messages.
_FIELD_NAMES = {
    "name": "TaskName",
    "source.instance_id": "SourceResourceId",
    "source.topics": "TopicList",
    "source.topic_regex": "TopicRegularExpression",
    "source": "TopicList",
    "target.instance_id": "TargetResourceId",
    "target.topic_prefix": "Prefix",
    "target.separator": "Separator",
    "target.topic_map": "Prefix",
    "target": "Prefix",
}


def _common(p: Params) -> tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Fields every one of these actions has: (name, source, target, what to keep)."""
    name = p.text("TaskName", required=True)
    source_id = p.text("SourceResourceId", required=True)
    target_id = p.text("TargetResourceId", required=True)
    mine = {"TaskType": datahub.SOURCE, "Description": p.text("Description"), "Tags": tags(p)}
    datahub.check_task_name(name)
    return name, {"instance_id": source_id}, {"instance_id": target_id}, mine


def _selection(p: Params, offset_types: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
    """TopicList / TopicRegularExpression / OffsetType and the naming fields -> (source
    fields, target fields)."""
    topics = p.texts("TopicList") or []
    regex = p.text("TopicRegularExpression") or None
    offset_type = p.text("OffsetType")
    prefix = p.text("Prefix")
    separator = p.text("Separator")
    if topics and regex:
        raise bad_value(
            "TopicRegularExpression",
            "give TopicList or TopicRegularExpression, not both (neither: every topic)",
        )
    if offset_type not in (None, *offset_types):
        allowed = ", ".join(offset_types)
        why = f"'{offset_type}' is not one of {allowed}"
        if offset_type == "timestamp":
            why += " (this action has no StartTime: use CreateDatahubTask for a start time)"
        raise bad_value("OffsetType", why)
    source: dict[str, Any] = {
        "topics": topics,
        "topic_regex": regex or (None if topics else datahub.EVERY_TOPIC),
        "start": {"type": offset_type or "earliest"},
    }
    target: dict[str, Any] = {}
    if prefix is not None:
        target["topic_prefix"] = prefix
    if separator is not None:
        target["separator"] = separator
    return source, target


def _create(ctx: Context, name: str, body: dict[str, Any], mine: dict[str, Any]) -> dict[str, Any]:
    try:
        spec = TaskSpec.model_validate({"name": name, **body})
    except ValidationError as exc:
        raise validation_error(exc, _FIELD_NAMES) from None
    return datahub.create_task(ctx, spec, mine, _RESOURCES, _FIELD_NAMES)


def create_meta(ctx: Context, p: Params) -> dict[str, Any]:
    """CreateMetaSyncDatahubTask: keep every topic of the source instance in step on the
    target (created with its partitions and configs, then followed), copy no record."""
    name, source, target, mine = _common(p)
    p.done()
    source["topic_regex"] = datahub.EVERY_TOPIC
    mine["SyncType"] = datahub.META_SYNC_TYPE
    body = {"source": source, "target": target, "options": {"mode": "metadata"}}
    return _create(ctx, name, body, mine)


def create_meta_and_data(ctx: Context, p: Params) -> dict[str, Any]:
    """CreateMetaAndDataSyncDatahubTask: the selected topics (default every one), their
    attributes and their records."""
    name, source, target, mine = _common(p)
    selected, naming = _selection(p, ("earliest", "latest", "timestamp"))
    p.done()
    mine["SyncType"] = datahub.META_AND_DATA_SYNC_TYPE
    body = {"source": {**source, **selected}, "target": {**target, **naming}}
    return _create(ctx, name, body, mine)


def create_meta_data_and_offsets(ctx: Context, p: Params) -> dict[str, Any]:
    """CreateMetaDataAndOffsetSyncDatahubTask: as CreateMetaAndDataSyncDatahubTask, and the
    source's consumer groups' offsets, translated, on the target."""
    name, source, target, mine = _common(p)
    selected, naming = _selection(p, ("earliest", "latest"))
    p.done()
    mine["SyncType"] = datahub.META_AND_DATA_SYNC_TYPE
    body = {
        "source": {**source, **selected},
        "target": {**target, **naming},
        "options": {"sync_group_offsets": {"enabled": True}},
    }
    return _create(ctx, name, body, mine)
