"""Instances: the Kafka clusters ksync can reach, with their secrets (which never leave
the store except in a `Connection` for the Kafka wrapper)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ksync.domain.errors import Conflict, NotFound
from ksync.spec import Connection, InstanceSpec, SecuritySpec
from ksync.store.base import Repository, new_id, utcnow
from ksync.store.tables import InstanceRow, TaskRow


def security_to_json(sec: SecuritySpec) -> dict[str, Any]:
    """Serialise security settings with the secret values (for the store only)."""
    data = sec.model_dump()
    for key in ("password", "ca_pem"):
        value = getattr(sec, key)
        data[key] = value.get_secret_value() if value is not None else None
    return data


def _instances_of(task: TaskRow) -> set[str]:
    return {task.spec["source"]["instance_id"], task.spec["target"]["instance_id"]}


class InstanceRepo(Repository):
    """Register, change, read and forget instances."""

    def add(
        self,
        spec: InstanceSpec,
        cluster_id: str,
        broker_count: int,
        external: dict[str, Any] | None = None,
    ) -> InstanceRow:
        now = utcnow()
        row = InstanceRow(
            id=new_id("ins"),
            name=spec.name,
            bootstrap_servers=spec.bootstrap_servers,
            region=spec.region,
            zone=spec.zone,
            security=security_to_json(spec.security),
            cluster_id=cluster_id,
            broker_count=broker_count,
            external=external,
            sync_quota_mb_s=spec.sync_quota_mb_s,
            created_at=now,
            updated_at=now,
        )
        with self.session() as s:
            s.add(row)
        return row

    def set_external(self, instance_id: str, external: dict[str, Any] | None) -> None:
        with self.session() as s:
            row = s.get(InstanceRow, instance_id)
            if row is None:
                raise NotFound(f"instance {instance_id} does not exist")
            row.external = external

    def update(
        self, instance_id: str, spec: InstanceSpec, cluster_id: str, broker_count: int
    ) -> InstanceRow:
        """Replace an instance's settings; tasks using it get a new generation."""
        with self.session() as s:
            row = s.get(InstanceRow, instance_id)
            if row is None:
                raise NotFound(f"instance {instance_id} does not exist")
            row.name = spec.name
            row.bootstrap_servers = spec.bootstrap_servers
            row.region = spec.region
            row.zone = spec.zone
            row.security = security_to_json(spec.security)
            row.cluster_id = cluster_id
            row.broker_count = broker_count
            row.sync_quota_mb_s = spec.sync_quota_mb_s
            row.updated_at = utcnow()
            for task in s.scalars(select(TaskRow)):
                if instance_id in _instances_of(task):
                    task.generation += 1
                    task.updated_at = row.updated_at
        return row

    def get(self, instance_id: str) -> InstanceRow:
        with self.session() as s:
            row = s.get(InstanceRow, instance_id)
        if row is None:
            raise NotFound(f"instance {instance_id} does not exist")
        return row

    def all(self) -> list[InstanceRow]:
        with self.session() as s:
            return list(s.scalars(select(InstanceRow).order_by(InstanceRow.created_at)))

    def delete(self, instance_id: str) -> None:
        with self.session() as s:
            row = s.get(InstanceRow, instance_id)
            if row is None:
                raise NotFound(f"instance {instance_id} does not exist")
            users = [t.id for t in s.scalars(select(TaskRow)) if instance_id in _instances_of(t)]
            if users:
                raise Conflict(
                    f"instance {instance_id} is used by task(s) {', '.join(sorted(users))}; "
                    "delete those tasks first"
                )
            s.delete(row)

    def connection(self, instance_id: str) -> Connection:
        row = self.get(instance_id)
        return Connection(
            instance_id=row.id,
            bootstrap_servers=row.bootstrap_servers,
            security=SecuritySpec.model_validate(row.security),
            name=row.name,
        )
