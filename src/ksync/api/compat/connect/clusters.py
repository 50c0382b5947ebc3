"""Find or register the instance for each side of a connector: Connect names clusters by
their bootstrap servers, ksync by instance ids (through the instance service)."""

from __future__ import annotations

from ksync.api.compat.connect.config import ClusterRef, ConfigError
from ksync.api.compat.connect.hiding import HIDDEN
from ksync.control import instances
from ksync.domain.errors import InstanceUnreachable, InvalidField
from ksync.spec import InstanceSpec, SecuritySpec
from ksync.store.repo import Store


def resolve_instance(store: Store, ref: ClusterRef, policy: instances.ServerCheck | None = None) -> str:
    """The instance for one side: an existing one with the same bootstrap servers, else a
    new one named after the alias (after checking ksync can reach it).

    An existing instance keeps its stored password whatever password the config gives
    (never compared, so the answer is the same for a right and a wrong one); changing it
    goes through `PATCH /api/v1/instances/{id}`."""
    found = instances.find_by_servers(store, ref.bootstrap_servers)
    if found is not None:
        if ref.security is not None and not instances.same_security(store, found.id, ref.security):
            raise ConfigError(
                ref.key("security.protocol"),
                f"instance {found.id} ({found.name}) at {found.bootstrap_servers} is registered "
                f"with another protocol, mechanism, user name or CA; change them with PATCH "
                f"/api/v1/instances/{found.id}, or give the same settings here",
            )
        return found.id
    if ref.password_hidden:
        raise ConfigError(
            ref.key("sasl.jaas.config"),
            f"no registered instance has these bootstrap servers, so ksync needs the real "
            f"secret, not {HIDDEN}",
        )
    spec = InstanceSpec(
        name=ref.alias[:128],
        bootstrap_servers=ref.bootstrap_servers,
        security=ref.security or SecuritySpec(),
    )
    try:
        return instances.register(store, spec, policy=policy).id
    except (InstanceUnreachable, InvalidField) as exc:
        raise ConfigError(ref.key("bootstrap.servers"), f"cannot reach the cluster: {exc.message}") from None
