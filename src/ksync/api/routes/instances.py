"""`/api/v1/instances`: register, inspect and remove Kafka instances."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, ValidationError

from ksync.api.deps import StoreDep
from ksync.api.errors import ApiError, documented, invalid
from ksync.api.schemas import (
    Instance,
    InstanceList,
    InstanceTraffic,
    Topic,
    TopicList,
    TrafficByTask,
    TrafficDirection,
)
from ksync.domain.instance import InstanceView
from ksync.kafka.admin import ClusterInfo, InstanceAdmin
from ksync.kafka.errors import ClientSettingsError, KsyncKafkaError
from ksync.spec import Connection, InstanceSpec, SecuritySpec

router = APIRouter(prefix="/api/v1/instances", tags=["instances"])

CONNECT_TIMEOUT_S = 10.0


def probe(spec: InstanceSpec) -> ClusterInfo:
    """Connect to the instance (10 s) and read its cluster id; 422 with the broker's words."""
    conn = Connection(
        instance_id="probe", bootstrap_servers=spec.bootstrap_servers, security=spec.security
    )
    try:
        return InstanceAdmin(conn, timeout_s=CONNECT_TIMEOUT_S).cluster_info()
    except ClientSettingsError as exc:
        # Refused before connecting, e.g. a ca_pem that is not PEM: the user's settings.
        raise invalid("security", str(exc)) from None
    except KsyncKafkaError as exc:
        raise ApiError(422, "instance_unreachable", str(exc)) from None


def needs_secret_again(row: InstanceView, bootstrap_servers: str) -> bool:
    """Whether moving `row` to `bootstrap_servers` needs its stored secret given again.

    A stored SASL password is sent only to the addresses it was entered for (or some of
    them): a new address could be anyone's listener, and SASL/PLAIN sends the password in
    clear. The CA certificate is not a secret sent anywhere, so it carries over.
    """
    if not row.has_secrets:
        return False
    return not set(bootstrap_servers.split(",")) <= row.servers


@router.post("", status_code=201, response_model=Instance, responses=documented(422))
def create_instance(spec: InstanceSpec, store: StoreDep) -> Instance:
    """Register an instance after checking that ksync can reach it."""
    info = probe(spec)
    return Instance.of(store.instances.add(spec, info.cluster_id, info.broker_count))


class InstancePatch(BaseModel):
    """Fields to change; security replaces the whole security block when given."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    bootstrap_servers: str | None = None
    region: str | None = None
    zone: str | None = None
    security: SecuritySpec | None = None
    sync_quota_mb_s: float | None = None


@router.patch("/{instance_id}", response_model=Instance, responses=documented(404, 422))
def update_instance(instance_id: str, patch: InstancePatch, store: StoreDep) -> Instance:
    """Change an instance (checked like a create); tasks using it restart their members."""
    row = store.instances.get(instance_id)
    current = store.instances.spec(instance_id).model_dump()
    changes = patch.model_dump(exclude_unset=True)
    try:
        spec = InstanceSpec.model_validate({**current, **changes})
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None
    if "security" not in changes and needs_secret_again(row, spec.bootstrap_servers):
        # Checked before the probe: the probe would authenticate to the new address.
        raise invalid(
            "security.password",
            f"instance {instance_id} has a stored SASL password, entered for "
            f"{row.bootstrap_servers}; ksync sends a stored secret only to the addresses it "
            f"was entered for, so moving the instance to {spec.bootstrap_servers} needs "
            "security (with the password) again in the same request",
        )
    info = probe(spec)
    if info.cluster_id != row.cluster_id:
        raise invalid(
            "bootstrap_servers",
            f"these servers belong to Kafka cluster {info.cluster_id}, but instance "
            f"{instance_id} is cluster {row.cluster_id}: register a new instance instead",
        )
    return Instance.of(store.instances.update(instance_id, spec, info.cluster_id, info.broker_count))


@router.get("", response_model=InstanceList)
def list_instances(store: StoreDep) -> InstanceList:
    """Every registered instance (never with secrets)."""
    return InstanceList(instances=[Instance.of(r) for r in store.instances.all()])


@router.get("/{instance_id}", response_model=Instance, responses=documented(404))
def get_instance(instance_id: str, store: StoreDep) -> Instance:
    """One instance, or 404."""
    return Instance.of(store.instances.get(instance_id))


@router.delete("/{instance_id}", status_code=204, responses=documented(404, 409))
def delete_instance(instance_id: str, store: StoreDep) -> Response:
    """Forget an instance; 409 while a task uses it. The cluster itself is untouched."""
    store.instances.delete(instance_id)
    return Response(status_code=204)


@router.get("/{instance_id}/topics", response_model=TopicList, responses=documented(404, 502))
def list_topics(instance_id: str, store: StoreDep) -> TopicList:
    """The instance's topics (internal ones left out) with partitions and replication."""
    conn = store.instances.connection(instance_id)
    try:
        topics = InstanceAdmin(conn, timeout_s=CONNECT_TIMEOUT_S).list_topics()
    except KsyncKafkaError as exc:
        raise ApiError(502, "instance_unreachable", str(exc)) from None
    return TopicList(
        topics=[
            Topic(name=t.name, partitions=t.partitions, replication_factor=t.replication_factor)
            for t in sorted(topics.values(), key=lambda t: t.name)
        ]
    )


@router.get(
    "/{instance_id}/traffic", response_model=InstanceTraffic, responses=documented(404, 422)
)
def instance_traffic(instance_id: str, store: StoreDep) -> InstanceTraffic:
    """Sync traffic read from and written to this instance now, by task."""
    row = store.instances.get(instance_id)
    read: list[TrafficByTask] = []
    written: list[TrafficByTask] = []
    for task in store.tasks.all():
        m = task.metrics or {}
        entry = TrafficByTask(
            task_id=task.id,
            name=task.name,
            records_per_s=float(m.get("records_per_s", 0.0)),
            bytes_per_s=float(m.get("bytes_per_s", 0.0)),
        )
        if task.source_id == instance_id:
            read.append(entry)
        if task.target_id == instance_id:
            written.append(entry)

    def direction(entries: list[TrafficByTask]) -> TrafficDirection:
        return TrafficDirection(
            records_per_s=round(sum(e.records_per_s for e in entries), 2),
            bytes_per_s=round(sum(e.bytes_per_s for e in entries), 2),
            by_task=entries,
        )

    return InstanceTraffic(
        instance_id=instance_id,
        sync_quota_mb_s=row.sync_quota_mb_s,
        read=direction(read),
        written=direction(written),
    )
