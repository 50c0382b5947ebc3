"""Support for engine tests: member configs for the shared test clusters, members run in
threads, and the ACLs a test grants to a Kafka user of its own."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)
from helpers import wait_until
from scram_users import ScramUser

from ksync.devkafka import KafkaCluster
from ksync.replication.member import Member, MemberConfig, MemberSnapshot
from ksync.spec import Connection, SecuritySpec


def connection(broker: KafkaCluster) -> Connection:
    return Connection(instance_id=broker.cluster_id, bootstrap_servers=broker.bootstrap)


def member_config(
    source: KafkaCluster, target: KafkaCluster, task_id: str, topics: dict[str, str], **kw: Any
) -> MemberConfig:
    """A config for a member copying `topics` (source -> target name) from `source` to
    `target`, over PLAINTEXT, with each cluster's own Kafka cluster id. The partition
    counts, which the controller hands a member in ksync, are read from `source` unless
    given (a topic that does not exist yet has none)."""
    kw.setdefault("partitions", partition_counts(source, topics))
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


def partition_counts(source: KafkaCluster, topics: Iterable[str]) -> dict[str, int]:
    """Topic -> its partition count on `source`, for the topics of `topics` it has."""
    client = AdminClient({"bootstrap.servers": source.bootstrap, "log_level": 3})
    listed = client.list_topics(timeout=10).topics
    return {t: len(listed[t].partitions) for t in topics if t in listed}


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

    def snapshot(self) -> MemberSnapshot:
        if self.error is not None:
            raise AssertionError(f"member {self.member.cfg.task_id} failed: {self.error!r}")
        return self.member.snapshot()

    def wait_assigned(self, partitions: int, timeout_s: float = 30.0) -> MemberSnapshot:
        """Wait until the member owns `partitions` partitions (it has taken up its share)."""
        return wait_until(
            lambda: (s := self.snapshot()) and len(s.partitions) == partitions and s,
            timeout_s=timeout_s,
            what=f"member {self.member.cfg.task_id} to own {partitions} partitions",
        )

    def stop(self, timeout_s: float = 60.0) -> MemberSnapshot:
        """Stop, join, and re-raise whatever the member raised."""
        self.member.stop()
        self._thread.join(timeout_s)
        assert not self._thread.is_alive(), f"member {self.member.cfg.task_id} did not stop"
        if self.error is not None:
            raise AssertionError(f"member {self.member.cfg.task_id} failed: {self.error!r}")
        return self.member.snapshot()


# ---- rights for users of a test's own ---------------------------------------------------------
#
# Users come from tests/scram_users.py (`ScramUser`, one topic operation at most); a test
# that needs more rights, or other resources, grants them here.


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
    # Kept in a variable until the futures are done: a collected client fails them.
    client = AdminClient({"bootstrap.servers": broker.bootstrap, "log_level": 3})
    for future in client.create_acls(bindings).values():
        future.result(timeout=10)


def as_connection(user: ScramUser, broker: KafkaCluster) -> Connection:
    """How ksync reaches `broker` as `user` (its SASL_PLAINTEXT listener)."""
    return Connection(
        instance_id=f"ins-{user.name}",
        bootstrap_servers=broker.sasl_bootstrap,
        security=SecuritySpec.model_validate(user.security()),
    )
