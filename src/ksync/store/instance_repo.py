"""Instances: the Kafka clusters ksync can reach, with their secrets (which never leave
the store except in a `Connection` for the Kafka wrapper).

The secret fields of the security settings (`SECRET_FIELDS`) are stored sealed
(`ksync.store.sealed`) and opened only when a spec or a connection is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ksync.domain.errors import Conflict, NotFound
from ksync.domain.instance import InstanceSecurity, InstanceView
from ksync.spec import Connection, InstanceSpec, SecuritySpec
from ksync.store.base import Repository, Revision, Sessions, as_utc, new_id, utcnow
from ksync.store.sealed import Sealer, is_sealed
from ksync.store.tables import InstanceRow, TaskRow

# The security settings that are secrets (`SecretStr` in `SecuritySpec`): sealed at rest.
SECRET_FIELDS = ("password", "ca_pem")


def security_to_json(sec: SecuritySpec, sealer: Sealer) -> dict[str, Any]:
    """Serialise security settings for the store, secrets sealed."""
    data = sec.model_dump()
    for key in SECRET_FIELDS:
        value = getattr(sec, key)
        data[key] = sealer.seal(value.get_secret_value(), key) if value is not None else None
    return data


def open_security(stored: Mapping[str, Any], sealer: Sealer) -> SecuritySpec:
    """The security settings of a row, secrets opened (WrongSecretKey if the key does
    not open them). A secret still in clear (stored before sealing, not yet sealed by
    `SecretRepo.adopt`) is read as it is."""
    data = dict(stored)
    for key in SECRET_FIELDS:
        value = data.get(key)
        if isinstance(value, str) and is_sealed(value):
            data[key] = sealer.open(value, key)
    return SecuritySpec.model_validate(data)


def instance_view(row: InstanceRow) -> InstanceView:
    """The view of a row: everything but the secrets."""
    sec = row.security
    return InstanceView(
        id=row.id,
        name=row.name,
        bootstrap_servers=row.bootstrap_servers,
        region=row.region,
        zone=row.zone,
        security=InstanceSecurity(
            protocol=sec["protocol"],
            sasl_mechanism=sec.get("sasl_mechanism"),
            username=sec.get("username"),
        ),
        has_secrets=bool(sec.get("password")),
        cluster_id=row.cluster_id,
        broker_count=row.broker_count,
        sync_quota_mb_s=row.sync_quota_mb_s,
        external=row.external,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


def _instances_of(task: TaskRow) -> set[str]:
    return {task.spec["source"]["instance_id"], task.spec["target"]["instance_id"]}


class InstanceRepo(Repository):
    """Register, change, read and forget instances."""

    def __init__(self, sessions: Sessions, sealer: Sealer, revision: Revision | None = None) -> None:
        super().__init__(sessions, revision)
        self._sealer = sealer

    def add(
        self,
        spec: InstanceSpec,
        cluster_id: str,
        broker_count: int,
        external: Mapping[str, Any] | None = None,
    ) -> InstanceView:
        """Register an instance ksync has reached (`cluster_id`, `broker_count`)."""
        now = utcnow()
        row = InstanceRow(
            id=new_id("ins"),
            name=spec.name,
            bootstrap_servers=spec.bootstrap_servers,
            region=spec.region,
            zone=spec.zone,
            security=security_to_json(spec.security, self._sealer),
            cluster_id=cluster_id,
            broker_count=broker_count,
            external=dict(external) if external is not None else None,
            sync_quota_mb_s=spec.sync_quota_mb_s,
            created_at=now,
            updated_at=now,
        )
        with self.session() as s:
            s.add(row)
        return instance_view(row)

    def set_external(self, instance_id: str, external: Mapping[str, Any] | None) -> None:
        """Replace what the compatible faces keep about the instance."""
        with self.session() as s:
            row = _get(s, instance_id)
            row.external = dict(external) if external is not None else None

    def update(
        self, instance_id: str, spec: InstanceSpec, cluster_id: str, broker_count: int
    ) -> InstanceView:
        """Replace an instance's settings; tasks using it get a new generation."""
        with self.session() as s:
            row = _get(s, instance_id)
            row.name = spec.name
            row.bootstrap_servers = spec.bootstrap_servers
            row.region = spec.region
            row.zone = spec.zone
            row.security = security_to_json(spec.security, self._sealer)
            row.cluster_id = cluster_id
            row.broker_count = broker_count
            row.sync_quota_mb_s = spec.sync_quota_mb_s
            row.updated_at = utcnow()
            for task in s.scalars(select(TaskRow)):
                if instance_id in _instances_of(task):
                    task.generation += 1
                    task.updated_at = row.updated_at
        return instance_view(row)

    def get(self, instance_id: str) -> InstanceView:
        """One instance, or NotFound."""
        with self.reading() as s:
            return instance_view(_get(s, instance_id))

    def all(self) -> list[InstanceView]:
        """Every instance, oldest first."""
        with self.reading() as s:
            return [
                instance_view(r)
                for r in s.scalars(select(InstanceRow).order_by(InstanceRow.created_at))
            ]

    def delete(self, instance_id: str) -> None:
        """Forget an instance; Conflict while a task uses it."""
        with self.session() as s:
            row = _get(s, instance_id)
            users = [t.id for t in s.scalars(select(TaskRow)) if instance_id in _instances_of(t)]
            if users:
                raise Conflict(
                    f"instance {instance_id} is used by task(s) {', '.join(sorted(users))}; "
                    "delete those tasks first"
                )
            s.delete(row)

    def spec(self, instance_id: str) -> InstanceSpec:
        """The instance as registered, secrets included: for the instance service, which
        merges a change into it and compares security settings, never for an answer."""
        with self.reading() as s:
            row = _get(s, instance_id)
            return InstanceSpec(
                name=row.name,
                bootstrap_servers=row.bootstrap_servers,
                region=row.region,
                zone=row.zone,
                security=open_security(row.security, self._sealer),
                sync_quota_mb_s=row.sync_quota_mb_s,
            )

    def connection(self, instance_id: str) -> Connection:
        """What a Kafka client needs to reach the instance, secrets included."""
        with self.reading() as s:
            row = _get(s, instance_id)
            return Connection(
                instance_id=row.id,
                bootstrap_servers=row.bootstrap_servers,
                security=open_security(row.security, self._sealer),
                name=row.name,
            )


def _get(s: Session, instance_id: str) -> InstanceRow:
    row = s.get(InstanceRow, instance_id)
    if row is None:
        raise NotFound(f"instance {instance_id} does not exist")
    return row
