"""Connect resources (`*ConnectResource*`): Tencent's name for a ksync instance.

A connect resource of Type `KAFKA` is a Kafka cluster reached at
`KafkaConnectParam.BrokerAddress`; its ResourceId is the ksync instance id (`ins-…`), so
every instance, however it was registered, is a connect resource and every connect
resource is an instance. Creating one connects to the cluster first, as the native API
does. ResourceName is the instance name, Region its region; Description, Tags and the
CKafka instance id a user may give in `KafkaConnectParam.Resource` are kept with the
instance and shown back. Status is always 1 (running): an instance exists only once
ksync has reached it.
"""

from __future__ import annotations

from typing import Any

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
    RESOURCE_IN_USE,
    RESOURCE_NOT_FOUND,
    RESOURCE_UNAVAILABLE,
    TencentError,
    bad_value,
    missing,
    unsupported,
)
from ksync.api.compat.tencent.params import Params
from ksync.control import instances
from ksync.domain.errors import Conflict, InstanceUnreachable, InvalidField, NotFound
from ksync.domain.instance import InstanceView
from ksync.spec import InstanceSpec, validate_bootstrap_servers

KAFKA = "KAFKA"

_ONLY_KAFKA = "ksync connects Kafka clusters only; use Type KAFKA with KafkaConnectParam"
# The SDK's other connect parameters (one per resource type ksync does not have).
OTHER_CONNECT_PARAMS = {
    name: _ONLY_KAFKA
    for name in (
        "DtsConnectParam",
        "MongoDBConnectParam",
        "EsConnectParam",
        "ClickHouseConnectParam",
        "MySQLConnectParam",
        "PostgreSQLConnectParam",
        "MariaDBConnectParam",
        "SQLServerConnectParam",
        "CtsdbConnectParam",
        "DorisConnectParam",
        "MqttConnectParam",
        "IcebergConnectParam",
    )
}
_VPC = (
    "ksync reaches the cluster at KafkaConnectParam.BrokerAddress over the network it runs "
    "in; Tencent Cloud VPC and cross-cloud endpoints do not apply"
)
KAFKA_CONNECT_UNSUPPORTED = {
    "UniqVpcId": _VPC,
    "ServiceVip": _VPC,
    "Port": _VPC,
    "CrossNetResourceUniqueId": _VPC,
    "CrossNetVpcSubNetId": _VPC,
    "OriginalBrokerAddresses": "give the addresses ksync should use in "
    "KafkaConnectParam.BrokerAddress",
}
# ksync's instance fields -> the request's names, for validation messages.
_FIELD_NAMES = {
    "name": "ResourceName",
    "bootstrap_servers": "KafkaConnectParam.BrokerAddress",
    "region": "KafkaConnectParam.Region",
}


def _check_type(p: Params, required: bool) -> None:
    value = p.text("Type", required=required)
    if value is not None and value != KAFKA:
        raise unsupported(f"Type {value} is not supported: {_ONLY_KAFKA}")


def _network_type(kp: Params) -> str | None:
    value = kp.text("NetworkType")
    if value is not None and value != "PUBLIC":
        raise unsupported(f"{kp.name('NetworkType')} {value} is not supported: {_VPC}")
    return value


def get_instance(ctx: Context, resource_id: str, field: str) -> InstanceView:
    try:
        return ctx.store.instances.get(resource_id)
    except NotFound:
        raise TencentError(
            RESOURCE_NOT_FOUND, f"{field}: connect resource {resource_id} does not exist"
        ) from None


def create(ctx: Context, p: Params) -> dict[str, Any]:
    name = p.text("ResourceName", required=True)
    _check_type(p, required=True)
    description = p.text("Description")
    tag_list = tags(p)
    kp = p.nested("KafkaConnectParam")
    p.done(OTHER_CONNECT_PARAMS)
    if kp is None:
        raise missing("KafkaConnectParam")
    resource = kp.text("Resource")
    self_built = kp.flag("SelfBuilt")
    kp.flag("IsUpdate")  # "update the tasks using it": a new resource has none
    region = kp.text("Region")
    network_type = _network_type(kp)
    brokers = kp.text("BrokerAddress")
    kp.done(KAFKA_CONNECT_UNSUPPORTED)
    if brokers is None:
        if resource is not None:
            raise unsupported(
                f"KafkaConnectParam.Resource {resource} names a Tencent Cloud instance, which "
                "ksync cannot look up: give the cluster's KafkaConnectParam.BrokerAddress "
                "(host:port,host:port…)"
            )
        raise missing("KafkaConnectParam.BrokerAddress")
    try:
        spec = InstanceSpec(name=name, bootstrap_servers=brokers, region=region)
    except ValidationError as exc:
        raise validation_error(exc, _FIELD_NAMES) from None
    mine = {
        "Description": description,
        "Tags": tag_list,
        "Resource": resource,
        "SelfBuilt": self_built,
        "NetworkType": network_type,
    }
    try:
        view = instances.register(
            ctx.store, spec, external=with_own_external(None, mine), policy=ctx.settings.bootstrap_policy
        )
    except (InstanceUnreachable, InvalidField) as exc:
        raise TencentError(
            RESOURCE_UNAVAILABLE,
            f"ksync cannot reach the Kafka cluster at {spec.bootstrap_servers}: {exc.message}",
        ) from None
    return {"Result": {"ResourceId": view.id}}


def _task_counts(ctx: Context) -> dict[str, int]:
    counts: dict[str, int] = {}
    for t in ctx.store.tasks.all():
        if t.deleted:
            continue
        for iid in (t.source_id, t.target_id):
            counts[iid] = counts.get(iid, 0) + 1
    return counts


def _kafka_connect_param(row: InstanceView) -> dict[str, Any]:
    mine = own_external(row.external)
    return {
        "Resource": mine.get("Resource"),
        "SelfBuilt": mine.get("SelfBuilt") if mine.get("SelfBuilt") is not None else True,
        "BrokerAddress": row.bootstrap_servers,
        "Region": row.region,
        "NetworkType": mine.get("NetworkType"),
    }


def describe_one(row: InstanceView, task_count: int | None = None) -> dict[str, Any]:
    mine = own_external(row.external)
    out: dict[str, Any] = {
        "ResourceId": row.id,
        "ResourceName": row.name,
        "Description": mine.get("Description") or "",
        "Type": KAFKA,
        "Status": 1,
        "CreateTime": tencent_time(row.created_at),
        "ErrorMessage": "",
        "CurrentStep": None,
        "StepList": None,
        "KafkaConnectParam": _kafka_connect_param(row),
        "Tags": mine.get("Tags") or [],
    }
    if task_count is not None:
        out["DatahubTaskCount"] = task_count
    return out


def describe(ctx: Context, p: Params) -> dict[str, Any]:
    resource_id = p.text("ResourceId", required=True)
    p.done()
    return {"Result": describe_one(get_instance(ctx, resource_id, "ResourceId"))}


def describe_list(ctx: Context, p: Params) -> dict[str, Any]:
    kind = p.text("Type")
    word = p.text("SearchWord")
    region = p.text("ResourceRegion")
    offset, limit = paging(p, default_limit=20, max_limit=1000)
    p.done()
    rows = [] if kind not in (None, "", KAFKA) else ctx.store.instances.all()
    if word:
        rows = [r for r in rows if word.lower() in r.name.lower() or word.lower() in r.id]
    if region:
        rows = [r for r in rows if r.region == region]
    counts = _task_counts(ctx)
    page = rows[offset : offset + limit]
    return {
        "Result": {
            "TotalCount": len(rows),
            "ConnectResourceList": [describe_one(r, counts.get(r.id, 0)) for r in page],
        }
    }


def modify(ctx: Context, p: Params) -> dict[str, Any]:
    resource_id = p.text("ResourceId", required=True)
    name = p.text("ResourceName") or None  # empty: unchanged
    description = p.text("Description") or None
    _check_type(p, required=False)
    kp = p.nested("KafkaConnectParam")
    p.done(OTHER_CONNECT_PARAMS)
    row = get_instance(ctx, resource_id, "ResourceId")
    mine = own_external(row.external)
    patch: dict[str, Any] = {}
    if name is not None and name != row.name:
        patch["name"] = name
    if kp is not None:
        resource = kp.text("Resource")
        self_built = kp.flag("SelfBuilt")
        if kp.flag("IsUpdate") is False:
            raise unsupported(
                "KafkaConnectParam.IsUpdate false is not supported: the tasks that use a "
                "connect resource always follow its new settings (their members restart)"
            )
        region = kp.text("Region")
        network_type = _network_type(kp)
        brokers = kp.text("BrokerAddress")
        kp.done(KAFKA_CONNECT_UNSUPPORTED)
        if brokers is not None and brokers != row.bootstrap_servers:
            patch["bootstrap_servers"] = brokers
            _refuse_moving_a_stored_secret(row, brokers)
        if region is not None and region != row.region:
            patch["region"] = region
        for key, value in (
            ("Resource", resource),
            ("SelfBuilt", self_built),
            ("NetworkType", network_type),
        ):
            if value is not None:
                mine[key] = value
    if description is not None:
        mine["Description"] = description
    if patch:
        # Checked like a create, and refused when the new addresses reach a different
        # Kafka cluster (the instance service's rules).
        try:
            instances.update(ctx.store, resource_id, patch, ctx.settings.bootstrap_policy)
        except ValidationError as exc:
            raise validation_error(exc, _FIELD_NAMES) from None
        except InstanceUnreachable as exc:
            raise TencentError(
                RESOURCE_UNAVAILABLE, f"ksync cannot reach the Kafka cluster: {exc.message}"
            ) from None
        except InvalidField as exc:
            raise bad_value(_FIELD_NAMES.get(exc.field, exc.field), exc.reason) from None
    ctx.store.instances.set_external(resource_id, with_own_external(row.external, mine))
    return {"Result": {"ResourceId": resource_id}}


def _refuse_moving_a_stored_secret(row: InstanceView, brokers: str) -> None:
    """This API has no field for a SASL password, so an instance that has one stored
    cannot move to new addresses through it (see `instances.needs_secret_again`)."""
    try:
        servers = validate_bootstrap_servers(brokers)
    except ValueError:
        return  # the native update names what is wrong with the address
    if instances.needs_secret_again(row, servers):
        raise bad_value(
            "KafkaConnectParam.BrokerAddress",
            f"connect resource {row.id} has a stored SASL password, entered for "
            f"{row.bootstrap_servers}; ksync sends a stored secret only to the addresses it "
            "was entered for, and ModifyConnectResource cannot carry the password: change "
            f"the address with PATCH /api/v1/instances/{row.id}, giving security (with the "
            "password) again",
        )


def delete(ctx: Context, p: Params) -> dict[str, Any]:
    resource_id = p.text("ResourceId", required=True)
    p.done()
    try:
        instances.delete(ctx.store, resource_id)
    except NotFound:
        raise TencentError(
            RESOURCE_NOT_FOUND, f"ResourceId: connect resource {resource_id} does not exist"
        ) from None
    except Conflict as exc:
        raise TencentError(
            RESOURCE_IN_USE, str(exc).replace("instance", "connect resource", 1)
        ) from None
    return {"Result": {"ResourceId": resource_id}}
