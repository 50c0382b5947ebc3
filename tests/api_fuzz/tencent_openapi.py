"""An OpenAPI description of the Tencent face's actions, for schemathesis to generate
from: the face itself is one dispatcher (`POST /` with the action in `X-TC-Action`), which
an OpenAPI document cannot describe per action, so each action is described here as its
own operation `POST /tencent/<Action>` whose body is the action's parameters (names and
types as the SDK of API version 2019-08-19 defines them, the ones ksync reads). The fuzz
hooks (ksync_fuzz_hooks.py) send every such case to the dispatcher instead, with the
action in its header and a TC3 signature over the body as sent.

Required parameters and the few closed choices (resource Type KAFKA, TaskType SOURCE) are
marked, so that valid cases reach the actions' own checks; the negative phase breaks them.
"""

from __future__ import annotations

from typing import Any

PREFIX = "/tencent/"

Schema = dict[str, Any]

TEXT: Schema = {"type": "string"}
NUMBER: Schema = {"type": "integer"}
FLAG: Schema = {"type": "boolean"}
TEXTS: Schema = {"type": "array", "items": TEXT}
PAGE: Schema = {"Offset": {"type": "integer", "minimum": 0}, "Limit": {"type": "integer", "minimum": 1, "maximum": 100}}


def obj(required: tuple[str, ...] = (), **properties: Schema) -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


TAGS: Schema = {"type": "array", "items": obj(("TagKey", "TagValue"), TagKey=TEXT, TagValue=TEXT)}
KAFKA_CONNECT_PARAM = obj(
    Resource=TEXT, SelfBuilt=FLAG, IsUpdate=FLAG, Region=TEXT, NetworkType=TEXT, BrokerAddress=TEXT,
)
KAFKA_PARAM = obj(
    ("Resource",),
    Resource=TEXT, SelfBuilt=FLAG, ResourceName=TEXT, ConnectorSyncType=TEXT, UseAutoCreateTopic=FLAG,
    Prefix=TEXT, Separator=TEXT, KeepPartition=FLAG, QpsLimit=NUMBER, EnableToleration=FLAG,
    CompressionType=TEXT, Topic=TEXT, TopicList=TEXTS, TopicRegularExpression=TEXT, OffsetType=TEXT,
    StartTime=NUMBER,
)
DATAHUB_RESOURCE = obj(("Type", "KafkaParam"), Type={"type": "string", "enum": ["KAFKA"]}, KafkaParam=KAFKA_PARAM)
TASK_ID = obj(("TaskId",), TaskId=TEXT)
RESOURCE_ID = obj(("ResourceId",), ResourceId=TEXT)

ACTION_PARAMS: dict[str, Schema] = {
    "CreateConnectResource": obj(
        ("ResourceName", "Type", "KafkaConnectParam"),
        ResourceName=TEXT, Type={"type": "string", "enum": ["KAFKA"]}, Description=TEXT, Tags=TAGS,
        KafkaConnectParam=KAFKA_CONNECT_PARAM,
    ),
    "DescribeConnectResources": obj(Type=TEXT, SearchWord=TEXT, ResourceRegion=TEXT, **PAGE),
    "DescribeConnectResource": RESOURCE_ID,
    "ModifyConnectResource": obj(
        ("ResourceId",),
        ResourceId=TEXT, ResourceName=TEXT, Description=TEXT, Type=TEXT, KafkaConnectParam=KAFKA_CONNECT_PARAM,
    ),
    "DeleteConnectResource": RESOURCE_ID,
    "CreateDatahubTask": obj(
        ("TaskName", "TaskType", "SourceResource", "TargetResource"),
        TaskName=TEXT, TaskType={"type": "string", "enum": ["SOURCE"]}, SourceResource=DATAHUB_RESOURCE,
        TargetResource=DATAHUB_RESOURCE, Description=TEXT, TaskMax=NUMBER, SyncThrottleLimit=NUMBER, Tags=TAGS,
        TransformsParam=obj(FailureParam=obj(
            ("Type",), Type=TEXT, DlqType=TEXT, KafkaParam=obj(("Resource", "Topic"), Resource=TEXT, Topic=TEXT),
        )),
    ),
    "DescribeDatahubTask": TASK_ID,
    "DescribeDatahubTasks": obj(
        SearchWord=TEXT, TargetType=TEXT, SourceType=TEXT, TaskType=TEXT, Resource=TEXT, **PAGE,
    ),
    "PauseDatahubTask": TASK_ID,
    "ResumeDatahubTask": TASK_ID,
    "RestartDatahubTask": TASK_ID,
    "DeleteDatahubTask": TASK_ID,
    "ModifyDatahubTask": obj(
        ("TaskId",),
        TaskId=TEXT, TaskName=TEXT, Description=TEXT, TasksMax=NUMBER, SyncThrottleLimit=NUMBER,
        QpsLimit=NUMBER, AutoExpandFlag=FLAG,
    ),
    **{
        action: obj(
            ("TaskName", "SourceResourceId", "TargetResourceId"),
            TaskName=TEXT, TaskType=TEXT, SourceResourceId=TEXT, TargetResourceId=TEXT, Description=TEXT,
            Tags=TAGS, TopicList={"type": "array", "items": TEXT}, TopicRegularExpression=TEXT,
            OffsetType=TEXT, Prefix=TEXT, Separator=TEXT, SyncType=TEXT,
        )
        for action in (
            "CreateMetaSyncDatahubTask",
            "CreateMetaAndDataSyncDatahubTask",
            "CreateMetaDataAndOffsetSyncDatahubTask",
        )
    },
    "DescribeDatahubGroupOffsets": obj(("Name", "Group"), Name=TEXT, Group=TEXT, SearchWord=TEXT, **PAGE),
    "DescribeTaskStatus": obj(("FlowId",), FlowId=NUMBER),
}

# What every action answers: HTTP 200 with Tencent's envelope (errors included).
_ANSWER = {
    "200": {
        "description": "the action's result, or Response.Error",
        "content": {"application/json": {"schema": obj(("Response",), Response={"type": "object"})}},
    }
}


# Whole-body examples, sent by the examples phase every run: a registration whose
# BrokerAddress the hooks point at a test broker. Left to generation, whether any
# registration reached Kafka was chance (a fresh-clone run once generated none).
EXAMPLES: dict[str, Schema] = {
    "CreateConnectResource": {
        "ResourceName": "fuzz-example", "Type": "KAFKA",
        "KafkaConnectParam": {"SelfBuilt": True, "BrokerAddress": "127.0.0.1:9092"},
    },
}


def _media(action: str) -> Schema:
    media: Schema = {"schema": ACTION_PARAMS[action]}
    if action in EXAMPLES:
        media["example"] = EXAMPLES[action]
    return media


def document(actions: list[str]) -> Schema:
    """The OpenAPI 3.0 document of `actions` (the endpoint's list: each must be described)."""
    missing = sorted(set(actions) - set(ACTION_PARAMS))
    assert not missing, f"actions without a fuzz description in {__name__}: {missing}"
    return {
        "openapi": "3.0.3",
        "info": {"title": "ksync Tencent Cloud CKafka face (one operation per action)", "version": "2019-08-19"},
        "paths": {
            PREFIX + action: {
                "post": {
                    "operationId": action,
                    "requestBody": {"required": True, "content": {"application/json": _media(action)}},
                    "responses": _ANSWER,
                }
            }
            for action in actions
        },
    }
