"""The instance service's rules (`ksync.control.instances`) over a real store, no broker:
what a change needs before ksync connects anywhere, how the faces find a registered
instance, and the traffic sums. Connecting itself is tested against Kafka in tests/api."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import SEALER
from pydantic import SecretStr, ValidationError

from ksync.control import instances
from ksync.domain.errors import Conflict, InvalidField, NotFound
from ksync.spec import InstanceSpec, SecuritySpec, TaskSpec
from ksync.store.db import make_engine, migrate, sqlite_url
from ksync.store.repo import Store

SASL = SecuritySpec(
    protocol="SASL_PLAINTEXT",
    sasl_mechanism="PLAIN",
    username="alice",
    password=SecretStr("alice-secret"),
)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    engine = make_engine(sqlite_url(tmp_path / "data"))
    migrate(engine)
    return Store(engine, SEALER)


def add(store: Store, name: str, servers: str, security: SecuritySpec | None = None) -> str:
    spec = InstanceSpec(name=name, bootstrap_servers=servers, security=security or SecuritySpec())
    return store.instances.add(spec, f"cluster-{name}", 1).id


def test_a_stored_password_goes_only_to_the_addresses_it_was_entered_for(store: Store) -> None:
    view = store.instances.get(add(store, "sasl", "h1:9092,h2:9092", SASL))
    assert view.has_secrets
    assert not instances.needs_secret_again(view, "h2:9092")  # some of the same addresses
    assert not instances.needs_secret_again(view, "h2:9092,h1:9092")
    assert instances.needs_secret_again(view, "h1:9092,h3:9092")
    plain = store.instances.get(add(store, "plain", "h1:9092"))
    assert not plain.has_secrets
    assert not instances.needs_secret_again(plain, "elsewhere:9092")


def test_moving_an_instance_with_a_password_needs_it_again_before_anything_connects(
    store: Store,
) -> None:
    iid = add(store, "sasl", "127.0.0.1:9", SASL)
    with pytest.raises(InvalidField) as info:
        instances.update(store, iid, {"bootstrap_servers": "127.0.0.2:9"})
    assert info.value.field == "security.password"
    assert "needs security (with the password) again" in info.value.reason
    assert store.instances.get(iid).bootstrap_servers == "127.0.0.1:9"


def test_a_change_is_validated_like_a_create_and_names_the_field(store: Store) -> None:
    iid = add(store, "plain", "127.0.0.1:9")
    with pytest.raises(ValidationError) as info:
        instances.update(store, iid, {"bootstrap_servers": "no-port"})
    assert info.value.errors()[0]["loc"] == ("bootstrap_servers",)
    with pytest.raises(NotFound, match="instance ins-nothere1 does not exist"):
        instances.update(store, "ins-nothere1", {"name": "x"})


def test_an_instance_is_found_by_its_addresses_in_any_order(store: Store) -> None:
    iid = add(store, "gz", "h1:9092,h2:9092")
    found = instances.find_by_servers(store, "h2:9092,h1:9092")
    assert found is not None and found.id == iid
    assert instances.find_by_servers(store, "h1:9092") is None


def test_security_is_compared_without_the_password(store: Store) -> None:
    iid = add(store, "sasl", "h1:9092", SASL)
    assert instances.same_security(store, iid, SASL)
    # A password is never compared: a different answer would be an oracle for it.
    other = SASL.model_copy(update={"password": SecretStr("wrong")})
    assert instances.same_security(store, iid, other)
    assert not instances.same_security(store, iid, SASL.model_copy(update={"username": "eve"}))
    assert not instances.same_security(store, iid, SecuritySpec())


def test_traffic_sums_the_tasks_reading_and_writing_an_instance(store: Store) -> None:
    a, b = add(store, "a", "h1:9092"), add(store, "b", "h2:9092")
    for name, source, target, rate in (("ab", a, b, 10.004), ("ba", b, a, 2.5)):
        spec = TaskSpec.model_validate(
            {"name": name, "source": {"instance_id": source, "topics": ["t"]},
             "target": {"instance_id": target}}
        )
        task = store.tasks.add(spec, [])
        store.metrics.set_current(task.id, {"records_per_s": rate, "bytes_per_s": rate * 100})
    traffic = instances.traffic(store, a)
    assert [t.name for t in traffic.read.by_task] == ["ab"]
    assert [t.name for t in traffic.written.by_task] == ["ba"]
    assert (traffic.read.records_per_s, traffic.read.bytes_per_s) == (10.0, 1000.4)
    with pytest.raises(Conflict, match=f"instance {a} is used by task"):
        instances.delete(store, a)
