"""Support for engine tests: member configs for the shared test clusters, members run in
threads, and Kafka users of a test's own with the ACLs it grants them."""

from __future__ import annotations

import threading
import time
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (
    AclBinding,
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
from helpers import TEST_SESSION_TIMEOUT_MS, wait_until
from pydantic import SecretStr

from ksync.devkafka import KafkaCluster
from ksync.replication.member import Member, MemberConfig, MemberState
from ksync.spec import Connection, SecuritySpec


def connection(broker: KafkaCluster) -> Connection:
    return Connection(instance_id=broker.cluster_id, bootstrap_servers=broker.bootstrap)


def member_config(
    source: KafkaCluster, target: KafkaCluster, task_id: str, topics: dict[str, str], **kw: Any
) -> MemberConfig:
    """A config for a member copying `topics` (source -> target name) from `source` to
    `target`, over PLAINTEXT, with each cluster's own Kafka cluster id."""
    kw.setdefault("session_timeout_ms", TEST_SESSION_TIMEOUT_MS)
    kw.setdefault("commit_interval_s", 0.5)
    return MemberConfig(
        task_id=task_id,
        slot=0,
        source=connection(source),
        target=connection(target),
        source_cluster_id=source.cluster_id,
        target_cluster_id=target.cluster_id,
        topics=topics,
        **kw,
    )


class RunningMember:
    """A `Member` whose `run()` executes in a daemon thread."""

    def __init__(self, member: Member) -> None:
        self.member = member
        self.error: Exception | None = None
        self._thread = threading.Thread(target=self._run, name=f"member-{member.cfg.task_id}")
        self._thread.daemon = True
        self._thread.start()

    def _run(self) -> None:
        try:
            self.member.run()
        except Exception as exc:  # noqa: BLE001 - reported by stop() in the test thread
            self.error = exc

    def snapshot(self) -> MemberState:
        if self.error is not None:
            raise AssertionError(f"member {self.member.cfg.task_id} failed: {self.error!r}")
        return self.member.snapshot()

    def wait_assigned(self, partitions: int, timeout_s: float = 30.0) -> MemberState:
        """Wait until the member owns `partitions` partitions (the group join is done)."""
        return wait_until(
            lambda: (s := self.snapshot()) and len(s.partitions) == partitions and s,
            timeout_s=timeout_s,
            what=f"member {self.member.cfg.task_id} to own {partitions} partitions",
        )

    def stop(self, timeout_s: float = 60.0) -> MemberState:
        """Stop, join, and re-raise whatever the member raised."""
        self.member.stop()
        self._thread.join(timeout_s)
        assert not self._thread.is_alive(), f"member {self.member.cfg.task_id} did not stop"
        if self.error is not None:
            raise AssertionError(f"member {self.member.cfg.task_id} failed: {self.error!r}")
        return self.member.snapshot()


# ---- users and ACLs of a test's own ----------------------------------------------------------
#
# The shared clusters' users (`ksync.devkafka.kafka.SUPER_USER`, `PLAIN_USER`) belong to every
# test; a test that grants rights or revokes credentials makes a SCRAM user of its own, so
# nothing it does reaches another test.


def _admin(broker: KafkaCluster) -> AdminClient:
    """A super user's admin client. Keep it in a variable until its futures are done: a
    client that is collected fails them ("Broker handle destroyed")."""
    return AdminClient({"bootstrap.servers": broker.bootstrap, "log_level": 3})


def set_scram_user(broker: KafkaCluster, user: str, password: str) -> None:
    """Create `user` (SCRAM-SHA-512) or change its password, and wait until it can log in."""
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096)
    upsert = UserScramCredentialUpsertion(user, info, password.encode())
    client = _admin(broker)
    for future in client.alter_user_scram_credentials([upsert]).values():
        future.result(timeout=10)
    wait_until(lambda: can_log_in(broker, user, password), timeout_s=30, what=f"{user} to log in")


def delete_scram_user(broker: KafkaCluster, user: str) -> None:
    """Revoke `user`'s credentials: new connections are refused from now on (open ones,
    already authenticated, live on until they reconnect)."""
    deletion = UserScramCredentialDeletion(user, ScramMechanism.SCRAM_SHA_512)
    client = _admin(broker)
    for future in client.alter_user_scram_credentials([deletion]).values():
        future.result(timeout=10)
    wait_until(
        lambda: not can_log_in(broker, user, "any"), timeout_s=30, what=f"{user} to be refused"
    )


def can_log_in(broker: KafkaCluster, user: str, password: str) -> bool:
    """Whether a fresh SASL/SCRAM-SHA-512 connection as `user` is accepted. A refusal
    comes through the client's error callback at once; the request would only time out."""
    refused = threading.Event()
    client = AdminClient(
        {
            "bootstrap.servers": broker.sasl_bootstrap,
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.username": user,
            "sasl.password": password,
            "log_level": 0,
            "error_cb": lambda err: refused.set()
            if err.code() == KafkaError._AUTHENTICATION
            else None,
        }
    )
    future = client.describe_cluster(request_timeout=10)
    deadline = time.monotonic() + 10
    while not future.done() and not refused.is_set() and time.monotonic() < deadline:
        client.poll(0.05)  # serves the error callback
    if refused.is_set() or not future.done():
        future.cancel()
        return False
    try:
        future.result()
    except KafkaException:
        return False
    return True


def scram_connection(broker: KafkaCluster, user: str, password: str) -> Connection:
    """How ksync reaches `broker` as `user` (SASL_PLAINTEXT, SCRAM-SHA-512)."""
    security = SecuritySpec(
        protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-512",
        username=user,
        password=SecretStr(password),
    )
    return Connection(
        instance_id=f"ins-{user}", bootstrap_servers=broker.sasl_bootstrap, security=security
    )


def grant(
    broker: KafkaCluster,
    user: str,
    resource: ResourceType,
    name: str,
    operations: list[AclOperation],
    pattern: ResourcePatternType = ResourcePatternType.LITERAL,
) -> None:
    """Allow `user` each of `operations` on `resource` `name` (from any host)."""
    bindings = [
        AclBinding(resource, name, pattern, f"User:{user}", "*", op, AclPermissionType.ALLOW)
        for op in operations
    ]
    client = _admin(broker)
    for future in client.create_acls(bindings).values():
        future.result(timeout=10)
