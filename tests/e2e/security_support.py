"""Support for the connection-security tests: instance security blocks, SCRAM users and
ACLs managed as the super user over PLAINTEXT, a broker certificate renewed by another CA,
and checks that an error sentence is one a user can act on.

Everything here talks to the brokers and the REST API from outside, never through ksync's
own Kafka code, so a test checks ksync with tools that do not share it.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka import KafkaException, TopicCollection
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)
from helpers import wait_until

from ksync.devkafka import KafkaCluster
from ksync.devkafka.tls import broker_keystore, new_authority


def sasl(mechanism: str, user: str, password: str) -> dict[str, Any]:
    """A SASL_PLAINTEXT security block for the REST API."""
    return {"protocol": "SASL_PLAINTEXT", "sasl_mechanism": mechanism, "username": user, "password": password}


def tls(ca_pem: str) -> dict[str, Any]:
    """An SSL security block trusting `ca_pem`."""
    return {"protocol": "SSL", "ca_pem": ca_pem}


def register(client: Any, name: str, bootstrap: str, security: dict[str, Any] | None = None) -> str:
    """Register an instance through the API (it must connect); returns its id."""
    body: dict[str, Any] = {"name": name, "bootstrap_servers": bootstrap}
    if security is not None:
        body["security"] = security
    r = client.post("/api/v1/instances", json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def super_admin(cluster: KafkaCluster) -> AdminClient:
    """An admin client on the PLAINTEXT listener, whose principal is a super user."""
    return AdminClient({"bootstrap.servers": cluster.bootstrap, "log_level": 3})


def set_scram_password(cluster: KafkaCluster, user: str, password: str) -> None:
    """Create `user` (SCRAM-SHA-512) or change its password (AlterUserScramCredentials)."""
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096)
    client = super_admin(cluster)  # kept until the answer is in: its futures die with it
    futures = client.alter_user_scram_credentials(
        [UserScramCredentialUpsertion(user, info, password.encode())]
    )
    for f in futures.values():
        f.result(timeout=30)


def delete_scram_user(cluster: KafkaCluster, user: str) -> None:
    client = super_admin(cluster)
    futures = client.alter_user_scram_credentials(
        [UserScramCredentialDeletion(user, ScramMechanism.SCRAM_SHA_512)]
    )
    for f in futures.values():
        f.result(timeout=30)


Grant = tuple[ResourceType, str, ResourcePatternType, AclOperation]


def allow(cluster: KafkaCluster, user: str, grants: list[Grant]) -> list[AclBinding]:
    """Create ALLOW ACLs for User:`user` (as the super user); returns them for `revoke`."""
    bindings = [
        AclBinding(rtype, name, pattern, f"User:{user}", "*", op, AclPermissionType.ALLOW)
        for rtype, name, pattern, op in grants
    ]
    client = super_admin(cluster)
    for f in client.create_acls(bindings).values():
        f.result(timeout=30)
    return bindings


def revoke(cluster: KafkaCluster, bindings: list[AclBinding]) -> None:
    """Delete ACLs made by `allow` (the shared clusters keep `alice` without rights)."""
    filters = [
        AclBindingFilter(
            b.restype, b.name, b.resource_pattern_type, b.principal, b.host, b.operation, b.permission_type
        )
        for b in bindings
    ]
    if filters:
        client = super_admin(cluster)
        for f in client.delete_acls(filters).values():
            f.result(timeout=30)


def wait_user_sees(cluster: KafkaCluster, security: dict[str, Any], topic: str) -> None:
    """Until a client with `security` on the SASL listener may describe `topic`: ACLs and
    SCRAM credentials reach the broker's authorizer a moment after the admin call returns."""
    conf = {
        "bootstrap.servers": cluster.sasl_bootstrap,
        "security.protocol": security["protocol"],
        "sasl.mechanism": security["sasl_mechanism"],
        "sasl.username": security["username"],
        "sasl.password": security["password"],
        "log_level": 0,
    }

    def sees() -> bool:
        client = AdminClient(conf)
        (future,) = client.describe_topics(TopicCollection([topic]), request_timeout=5).values()
        try:
            future.result(timeout=6)
        except KafkaException:
            return False
        return True

    wait_until(sees, timeout_s=30, interval_s=0.5, what=f"{security['username']} to see {topic}")


def renew_certificate(cluster: KafkaCluster, timeout_s: float = 120.0) -> str:
    """Give every broker a certificate signed by a new CA and restart it (data kept), as an
    operator renewing certificates does; returns the new CA's PEM.

    The new key store is written where the brokers' config points, which this checks.
    """
    renewed = broker_keystore(new_authority(f"{cluster.name} renewed CA"), cluster.folder / "tls")
    for node in cluster.nodes:
        configured = next(
            line.split("=", 1)[1]
            for line in node.config_path.read_text().splitlines()
            if line.startswith("ssl.keystore.location=")
        )
        assert configured == str(renewed.keystore_path), "the renewed key store is not the one configured"
        cluster.stop_node(node.node_id)
        cluster.start_node(node.node_id, timeout_s=timeout_s)
    cluster.wait_ready(timeout_s)
    return renewed.ca_pem


def wait_failed(client: Any, task_id: str, timeout_s: float = 90.0) -> str:
    """Until the task is Failed; returns its error sentence."""
    task = wait_until(
        lambda: (t := client.get(f"/api/v1/tasks/{task_id}").json())["status"] == "Failed" and t,
        timeout_s=timeout_s,
        what=f"task {task_id} to fail",
    )
    assert task["error"], f"task {task_id} failed without an error: {task}"
    return str(task["error"])


def assert_actionable(error: str, instance_id: str, name: str, *needles: str) -> None:
    """The sentence a user reads at 3 a.m.: it names the instance (id and name), says what
    to change (each of `needles`), and ends with what to do next; no client object reprs."""
    for needle in (instance_id, f"({name})", *needles, "then start the task"):
        assert needle in error, f"{needle!r} missing from the task's error: {error!r}"
    for noise in ("unexpected error", "KafkaError{", "KafkaException(", "ssl.ca.location"):
        assert noise not in error, f"{noise!r} in the task's error: {error!r}"
