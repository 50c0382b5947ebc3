"""`/api/v1/instances`: register, inspect and remove Kafka instances (the instance
service, control.instances, decides; these routes parse and format)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, ValidationError

from ksync.api.deps import HistorySince, HistoryStep, SettingsDep, StoreDep
from ksync.api.errors import documented
from ksync.api.schemas import (
    Instance,
    InstanceList,
    InstanceTraffic,
    InstanceTrafficHistory,
    Topic,
    TopicList,
)
from ksync.control import instances
from ksync.spec import InstanceSpec, SecuritySpec
from ksync.store.repo import utcnow

router = APIRouter(prefix="/api/v1/instances", tags=["instances"])


@router.post("", status_code=201, response_model=Instance, responses=documented(422))
def create_instance(spec: InstanceSpec, store: StoreDep, settings: SettingsDep) -> Instance:
    """Register an instance after checking that ksync can reach it."""
    return Instance.of(instances.register(store, spec, policy=settings.bootstrap_policy))


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
def update_instance(
    instance_id: str, patch: InstancePatch, store: StoreDep, settings: SettingsDep
) -> Instance:
    """Change an instance (checked like a create); tasks using it restart their members."""
    try:
        view = instances.update(
            store, instance_id, patch.model_dump(exclude_unset=True), settings.bootstrap_policy
        )
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None
    return Instance.of(view)


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
    instances.delete(store, instance_id)
    return Response(status_code=204)


@router.get("/{instance_id}/topics", response_model=TopicList, responses=documented(404, 502))
def list_topics(instance_id: str, store: StoreDep) -> TopicList:
    """The instance's topics (internal ones left out) with partitions and replication."""
    return TopicList(
        topics=[
            Topic(name=t.name, partitions=t.partitions, replication_factor=t.replication_factor)
            for t in instances.topics(store, instance_id)
        ]
    )


@router.get(
    "/{instance_id}/traffic", response_model=InstanceTraffic, responses=documented(404, 422)
)
def instance_traffic(instance_id: str, store: StoreDep) -> InstanceTraffic:
    """Sync traffic read from and written to this instance now, by task."""
    return InstanceTraffic.of(instances.traffic(store, instance_id))


@router.get(
    "/{instance_id}/traffic/history",
    response_model=InstanceTrafficHistory,
    responses=documented(404, 422),
)
def instance_traffic_history(
    instance_id: str,
    store: StoreDep,
    since: HistorySince = 3600,
    step: HistoryStep = 60,
) -> InstanceTrafficHistory:
    """Sync traffic read from (in) and written to (out) this instance over the last
    `since` seconds (at most 24 h), one point per `step`, with its sync quota."""
    start = utcnow() - timedelta(seconds=since)
    instance, points = instances.traffic_history(store, instance_id, start, step)
    return InstanceTrafficHistory.of(instance, start, step, points)
