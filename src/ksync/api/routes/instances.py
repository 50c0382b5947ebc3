"""`/api/v1/instances`: register, inspect and remove Kafka instances."""

from __future__ import annotations

from fastapi import APIRouter, Response

from ksync.api.deps import StoreDep
from ksync.api.errors import ApiError
from ksync.api.schemas import Instance, InstanceList, Topic, TopicList
from ksync.kafka.admin import ClusterInfo, InstanceAdmin
from ksync.kafka.errors import KsyncKafkaError
from ksync.spec import Connection, InstanceSpec

router = APIRouter(prefix="/api/v1/instances", tags=["instances"])

CONNECT_TIMEOUT_S = 10.0


def probe(spec: InstanceSpec) -> ClusterInfo:
    """Connect to the instance (10 s) and read its cluster id; 422 with the broker's words."""
    conn = Connection(instance_id="probe", bootstrap_servers=spec.bootstrap_servers, security=spec.security)
    try:
        return InstanceAdmin(conn, timeout_s=CONNECT_TIMEOUT_S).cluster_info()
    except KsyncKafkaError as exc:
        raise ApiError(422, "instance_unreachable", str(exc)) from None


@router.post("", status_code=201, response_model=Instance)
def create_instance(spec: InstanceSpec, store: StoreDep) -> Instance:
    """Register an instance after checking that ksync can reach it."""
    info = probe(spec)
    return Instance.of(store.add_instance(spec, info.cluster_id, info.broker_count))


@router.get("", response_model=InstanceList)
def list_instances(store: StoreDep) -> InstanceList:
    """Every registered instance (never with secrets)."""
    return InstanceList(instances=[Instance.of(r) for r in store.list_instances()])


@router.get("/{instance_id}", response_model=Instance)
def get_instance(instance_id: str, store: StoreDep) -> Instance:
    """One instance, or 404."""
    return Instance.of(store.get_instance(instance_id))


@router.delete("/{instance_id}", status_code=204)
def delete_instance(instance_id: str, store: StoreDep) -> Response:
    """Forget an instance; 409 while a task uses it. The cluster itself is untouched."""
    store.delete_instance(instance_id)
    return Response(status_code=204)


@router.get("/{instance_id}/topics", response_model=TopicList)
def list_topics(instance_id: str, store: StoreDep) -> TopicList:
    """The instance's topics (internal ones left out) with partitions and replication."""
    conn = store.connection(instance_id)
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
