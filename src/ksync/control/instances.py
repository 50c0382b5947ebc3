"""The instance service: register, change and forget Kafka instances, list their topics
and the sync traffic through them (now, and over the last hours).

Every face calls these functions (the native API, the Kafka Connect face's
find-or-register, the Tencent Cloud face's connect resources) and answers their typed
errors in its own words: `InstanceUnreachable` when ksync cannot reach a cluster (the
broker's words in the message), `InvalidField` for a field the current state makes
wrong, `Conflict` and `NotFound`. A change of settings that fails validation raises
pydantic's `ValidationError`, naming the fields, as the edge would for a create.

Rules:
* An instance is registered only once ksync has reached it: the probe reads the cluster
  id and broker count the controller relies on.
* A change is checked like a create, and refused when the new addresses reach another
  Kafka cluster: tasks keep their progress per cluster, so that is a new instance.
* A stored SASL password is sent only to the addresses it was entered for (or some of
  them): a new address could be anyone's listener, and SASL/PLAIN sends the password in
  clear. Moving such an instance needs the password again in the same change. The CA
  certificate is not a secret sent anywhere, so it carries over.
* A password given to find an instance (the Connect face matches by bootstrap servers)
  is never compared with the stored one, so no answer tells whether a guess was right.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import SecretStr

from ksync.domain.errors import InstanceUnreachable, InvalidField
from ksync.domain.instance import InstanceView
from ksync.kafka.admin import ClusterInfo, InstanceAdmin, TopicInfo
from ksync.kafka.errors import ClientSettingsError, KsyncKafkaError
from ksync.monitoring import history
from ksync.spec import Connection, InstanceSpec, SecuritySpec
from ksync.store.repo import Store

log = logging.getLogger(__name__)

# How long ksync tries to reach a cluster for a user who waits on the answer.
CONNECT_TIMEOUT_S = 10.0


def probe(spec: InstanceSpec) -> ClusterInfo:
    """Connect to the cluster `spec` describes and read its id and broker count.

    Raises `InvalidField("security", …)` for settings the Kafka client refuses before
    connecting (a CA that is not PEM), `InstanceUnreachable` with the broker's words else.
    """
    conn = Connection(
        instance_id="probe", bootstrap_servers=spec.bootstrap_servers, security=spec.security
    )
    try:
        return InstanceAdmin(conn, timeout_s=CONNECT_TIMEOUT_S).cluster_info()
    except ClientSettingsError as exc:
        raise InvalidField("security", str(exc)) from None
    except KsyncKafkaError as exc:
        raise InstanceUnreachable(str(exc), while_registering=True) from None


class ServerCheck(Protocol):
    """An operator's rule on bootstrap addresses, checked before ksync connects to them
    (`InvalidField` when refused)."""

    def check(self, bootstrap_servers: str) -> None: ...


def register(
    store: Store,
    spec: InstanceSpec,
    external: Mapping[str, Any] | None = None,
    policy: ServerCheck | None = None,
) -> InstanceView:
    """Register an instance after checking its addresses against `policy` and that ksync
    can reach it."""
    if policy is not None:
        policy.check(spec.bootstrap_servers)
    info = probe(spec)
    view = store.instances.add(spec, info.cluster_id, info.broker_count, external=external)
    log.info("instance %s (%s) registered: cluster %s", view.id, view.name, view.cluster_id)
    return view


def needs_secret_again(instance: InstanceView, bootstrap_servers: str) -> bool:
    """Whether moving `instance` to `bootstrap_servers` needs its stored password given
    again (see the module docstring)."""
    if not instance.has_secrets:
        return False
    return not set(bootstrap_servers.split(",")) <= instance.servers


def update(
    store: Store, instance_id: str, changes: Mapping[str, Any], policy: ServerCheck | None = None
) -> InstanceView:
    """Change an instance: `changes` holds the fields to replace (InstanceSpec's names;
    `security` replaces the whole block). Checked like a create; the tasks using the
    instance restart their members with the new settings."""
    current = store.instances.get(instance_id)
    spec = InstanceSpec.model_validate(
        {**store.instances.spec(instance_id).model_dump(), **changes}
    )
    if "security" not in changes and needs_secret_again(current, spec.bootstrap_servers):
        # Checked before the probe: the probe would authenticate to the new address.
        raise InvalidField(
            "security.password",
            f"instance {instance_id} has a stored SASL password, entered for "
            f"{current.bootstrap_servers}; ksync sends a stored secret only to the addresses "
            f"it was entered for, so moving the instance to {spec.bootstrap_servers} needs "
            "security (with the password) again in the same request",
        )
    if policy is not None:
        policy.check(spec.bootstrap_servers)
    info = probe(spec)
    if info.cluster_id != current.cluster_id:
        raise InvalidField(
            "bootstrap_servers",
            f"these servers belong to Kafka cluster {info.cluster_id}, but instance "
            f"{instance_id} is cluster {current.cluster_id}: register a new instance instead",
        )
    return store.instances.update(instance_id, spec, info.cluster_id, info.broker_count)


def delete(store: Store, instance_id: str) -> None:
    """Forget an instance (the cluster itself is untouched); Conflict while a task uses it."""
    store.instances.delete(instance_id)


def find_by_servers(store: Store, bootstrap_servers: str) -> InstanceView | None:
    """The registered instance with exactly these bootstrap addresses (in any order)."""
    wanted = frozenset(bootstrap_servers.split(","))
    return next((i for i in store.instances.all() if i.servers == wanted), None)


def same_security(store: Store, instance_id: str, wanted: SecuritySpec) -> bool:
    """Whether `wanted` describes the security the instance is registered with: the
    protocol, mechanism, user name and CA. A password is never compared: a face that
    answered differently for the right and a wrong one would let anyone test guesses of
    the stored password. The stored password is the one used; it changes only through
    `update` (`PATCH /api/v1/instances/{id}`).
    """
    have = store.instances.spec(instance_id).security
    if (wanted.protocol, wanted.sasl_mechanism, wanted.username) != (
        have.protocol,
        have.sasl_mechanism,
        have.username,
    ):
        return False
    return wanted.ca_pem is None or wanted.ca_pem.get_secret_value() == _secret(have.ca_pem)


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def topics(store: Store, instance_id: str) -> list[TopicInfo]:
    """The instance's topics (internal ones left out), by name; `InstanceUnreachable`
    when the cluster does not answer."""
    conn = store.instances.connection(instance_id)
    try:
        found = InstanceAdmin(conn, timeout_s=CONNECT_TIMEOUT_S).list_topics()
    except KsyncKafkaError as exc:
        raise InstanceUnreachable(str(exc), while_registering=False) from None
    return sorted(found.values(), key=lambda t: t.name)


@dataclass(frozen=True)
class TaskTraffic:
    """One task's current rates through an instance."""

    task_id: str
    name: str
    records_per_s: float
    bytes_per_s: float


@dataclass(frozen=True)
class Direction:
    """Traffic one way (read from, or written to, an instance): totals and by task."""

    records_per_s: float
    bytes_per_s: float
    by_task: tuple[TaskTraffic, ...]

    @classmethod
    def of(cls, entries: list[TaskTraffic]) -> Direction:
        """The totals of `entries` (rounded to hundredths) and the entries themselves."""
        return cls(
            records_per_s=round(sum(e.records_per_s for e in entries), 2),
            bytes_per_s=round(sum(e.bytes_per_s for e in entries), 2),
            by_task=tuple(entries),
        )


@dataclass(frozen=True)
class Traffic:
    """Sync traffic through an instance now, from the tasks' latest metrics."""

    instance: InstanceView
    read: Direction
    written: Direction


def traffic(store: Store, instance_id: str) -> Traffic:
    """What the tasks read from and write to the instance now, by task."""
    instance = store.instances.get(instance_id)
    read: list[TaskTraffic] = []
    written: list[TaskTraffic] = []
    for task in store.tasks.all():
        m = task.metrics or {}
        entry = TaskTraffic(
            task_id=task.id,
            name=task.name,
            records_per_s=float(m.get("records_per_s", 0.0)),
            bytes_per_s=float(m.get("bytes_per_s", 0.0)),
        )
        if task.source_id == instance_id:
            read.append(entry)
        if task.target_id == instance_id:
            written.append(entry)
    return Traffic(instance, Direction.of(read), Direction.of(written))


@dataclass(frozen=True)
class TrafficPoint:
    """Sync traffic through an instance during one step starting at `at`: what the tasks
    read from it (in) and wrote to it (out), summed over the tasks."""

    at: datetime
    read_records_per_s: float
    read_bytes_per_s: float
    written_records_per_s: float
    written_bytes_per_s: float


def traffic_history(
    store: Store, instance_id: str, since: datetime, step_s: int
) -> tuple[InstanceView, list[TrafficPoint]]:
    """The instance and its sync traffic from `since` to now, one point per `step_s`
    (every step, 0 where no task moved anything), from the tasks' 10 s history.

    A task reading from and writing to the same instance counts both ways, as the
    instance's sync quota does."""
    instance = store.instances.get(instance_id)
    sums: dict[datetime, list[float]] = {}
    for task in store.tasks.all():
        reads, writes = task.source_id == instance_id, task.target_id == instance_id
        if not (reads or writes):
            continue
        total, _ = history.series(store.metrics.points(task.id, since), since, step_s, False)
        for point in total:
            entry = sums.setdefault(point["at"], [0.0, 0.0, 0.0, 0.0])
            if reads:
                entry[0] += point["records_per_s"]
                entry[1] += point["bytes_per_s"]
            if writes:
                entry[2] += point["records_per_s"]
                entry[3] += point["bytes_per_s"]
    steps = int((datetime.now(since.tzinfo) - since).total_seconds() // step_s) + 1
    points = []
    for i in range(steps):
        at = since + timedelta(seconds=i * step_s)
        r_rec, r_bytes, w_rec, w_bytes = sums.get(at, (0.0, 0.0, 0.0, 0.0))
        points.append(
            TrafficPoint(at, round(r_rec, 2), round(r_bytes, 2), round(w_rec, 2), round(w_bytes, 2))
        )
    return instance, points
