"""ksync tasks as connectors: looked up by name, their config (as given through this face,
or described from the spec), created and reconfigured through the task service."""

from __future__ import annotations

from typing import Any

from ksync.api.compat.connect.clusters import resolve_instance
from ksync.api.compat.connect.config import (
    TOPIC_MAP_KEY,
    ConfigError,
    MirrorConfig,
    config_of_spec,
)
from ksync.api.compat.connect.errors import ConnectError
from ksync.api.compat.connect.hiding import hide_secrets
from ksync.api.compat.connect.states import EXTERNAL_KEY, connect_part
from ksync.control import lifecycle
from ksync.control.instances import ServerCheck
from ksync.domain.errors import InvalidField
from ksync.domain.instance import InstanceView
from ksync.domain.task import TaskView
from ksync.store.repo import Store


def live_tasks(store: Store) -> list[TaskView]:
    """Every task that is a connector: all but those being deleted (Terminating)."""
    return [t for t in store.tasks.all() if not t.deleted]


def find(store: Store, name: str) -> TaskView | None:
    """The connector named `name`, or None."""
    for task in live_tasks(store):
        if task.name == name:
            return task
    return None


def require(store: Store, name: str) -> TaskView:
    """The connector named `name`; Connect's 404 when there is none."""
    row = find(store, name)
    if row is None:
        raise ConnectError(404, f"Connector {name} not found")
    return row


def config_of(row: TaskView, instances: dict[str, InstanceView]) -> dict[str, str]:
    """The connector config: as given through this face, else described from the spec."""
    stored = connect_part(row).get("config")
    if isinstance(stored, dict):
        return hide_secrets({str(k): str(v) for k, v in stored.items()})
    return config_of_spec(
        row.name, row.spec, instances.get(row.source_id), instances.get(row.target_id)
    )


def instances_by_id(store: Store) -> dict[str, InstanceView]:
    """Every instance by id (to describe the clusters of several connectors at once)."""
    return {i.id: i for i in store.instances.all()}


_SPEC_KEYS = {
    "source.instance_id": "source.cluster.bootstrap.servers",
    "target.instance_id": "target.cluster.bootstrap.servers",
    "name": "name",
    "target.topic_map": TOPIC_MAP_KEY,
}


def _spec_error(exc: InvalidField) -> ConfigError:
    if exc.field == "target.topic_prefix":
        return ConfigError(
            "replication.policy.class",
            "source and target are the same Kafka cluster: IdentityReplicationPolicy would "
            "sync every topic onto itself; use DefaultReplicationPolicy",
        )
    return ConfigError(_SPEC_KEYS.get(exc.field, exc.field), exc.reason)


def with_connect_part(row: TaskView | None, parsed: MirrorConfig) -> dict[str, Any]:
    """The task's `external` with this face's part set to `parsed` (the other faces'
    parts kept)."""
    base = dict(row.external or {}) if row is not None else {}
    base[EXTERNAL_KEY] = {"config": parsed.config, "ignored": parsed.ignored}
    return base


def create(
    store: Store, parsed: MirrorConfig, max_tasks: int, policy: ServerCheck | None = None
) -> TaskView:
    """A new task from a connector config, registering its clusters when needed (their
    addresses checked against `policy`). Past `max_tasks` nothing is registered either."""
    lifecycle.check_room(store, max_tasks)
    source_id = resolve_instance(store, parsed.source, policy)
    target_id = resolve_instance(store, parsed.target, policy)
    spec = parsed.task_spec(source_id, target_id)
    try:
        return lifecycle.create(
            store, spec, external=with_connect_part(None, parsed), max_tasks=max_tasks
        )
    except InvalidField as exc:
        raise _spec_error(exc) from None


def reconfigure(
    store: Store, row: TaskView, parsed: MirrorConfig, policy: ServerCheck | None = None
) -> TaskView:
    """The task with a new connector config; the same config again changes nothing."""
    source_id = resolve_instance(store, parsed.source, policy)
    target_id = resolve_instance(store, parsed.target, policy)
    current = row.spec
    spec = parsed.task_spec(source_id, target_id, current)
    external = with_connect_part(row, parsed)
    if spec == current and external == (row.external or {}):
        return row  # the same config again: nothing restarts
    try:
        return lifecycle.reconfigure(store, row.id, spec, external)
    except InvalidField as exc:
        raise _spec_error(exc) from None
