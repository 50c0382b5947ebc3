"""SASL users of a test's own on the shared clusters.

The clusters' own users are shared by every test (`alice` must keep no rights for the
tests that check a missing ACL), so a test that needs an identity with few rights makes a
SCRAM-SHA-512 user of its own, grants it what it needs on names of its own, and deletes
both afterwards. Users and ACLs are managed as the super user over PLAINTEXT, with
confluent-kafka's admin client, never through ksync's code.
"""

from __future__ import annotations

import contextlib
import secrets
import time
import uuid
from collections.abc import Iterator, Sequence
from functools import partial
from typing import Any

from confluent_kafka import KafkaError, KafkaException
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

MECHANISM = "SCRAM-SHA-512"


def _super_admin(cluster: KafkaCluster) -> AdminClient:
    return AdminClient({"bootstrap.servers": cluster.bootstrap, "log_level": 3})


class ScramUser:
    """A user `name` (`prefix-<random>`) with a random password; with `topic_operation`,
    allowed that operation on every topic whose name starts with `name`, on each cluster."""

    def __init__(
        self,
        clusters: Sequence[KafkaCluster],
        prefix: str,
        topic_operation: AclOperation | None = None,
    ) -> None:
        self.clusters = list(clusters)
        self.name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.password = secrets.token_hex(12)
        self._acls = [] if topic_operation is None else [
            (ResourceType.TOPIC, self.name, ResourcePatternType.PREFIXED, f"User:{self.name}", "*",
             topic_operation, AclPermissionType.ALLOW)
        ]

    def security(self) -> dict[str, Any]:
        """The user as an instance's security block (REST API)."""
        return {"protocol": "SASL_PLAINTEXT", "sasl_mechanism": MECHANISM,
                "username": self.name, "password": self.password}

    def jaas(self) -> str:
        """The user as a Kafka client's `sasl.jaas.config`."""
        return (f'org.apache.kafka.common.security.scram.ScramLoginModule required '
                f'username="{self.name}" password="{self.password}";')

    def create(self) -> None:
        info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096)
        for cluster in self.clusters:
            admin = _super_admin(cluster)
            upsert = UserScramCredentialUpsertion(self.name, info, self.password.encode())
            for f in admin.alter_user_scram_credentials([upsert]).values():
                f.result(timeout=30)
            if self._acls:
                for f in admin.create_acls([AclBinding(*acl) for acl in self._acls]).values():
                    f.result(timeout=30)
        for cluster in self.clusters:
            wait_until(partial(self.authenticates, cluster), timeout_s=30,
                       what=f"user {self.name} to authenticate on {cluster.name}")

    def authenticates(self, cluster: KafkaCluster) -> bool:
        """Whether the SASL listener accepts the user (credentials reach a broker a moment
        after the admin call that made them returns). A refusal arrives through the error
        callback at once: waiting for the request's timeout would cost seconds a try."""
        refused: list[KafkaError] = []
        client = AdminClient({
            "bootstrap.servers": cluster.sasl_bootstrap, "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": MECHANISM, "sasl.username": self.name, "sasl.password": self.password,
            "log_level": 0, "error_cb": refused.append,
        })
        future = client.describe_cluster(request_timeout=3)
        deadline = time.monotonic() + 4
        while not future.done() and not refused and time.monotonic() < deadline:
            client.poll(0.05)
        if not future.done():
            future.cancel()
            return False
        try:
            future.result(timeout=0)
        except KafkaException:
            return False
        return True

    def delete(self) -> None:
        for cluster in self.clusters:
            admin = _super_admin(cluster)
            deletion = UserScramCredentialDeletion(self.name, ScramMechanism.SCRAM_SHA_512)
            for f in admin.alter_user_scram_credentials([deletion]).values():
                f.result(timeout=30)
            if self._acls:
                for f in admin.delete_acls([AclBindingFilter(*acl) for acl in self._acls]).values():
                    f.result(timeout=30)


@contextlib.contextmanager
def scram_user(
    clusters: Sequence[KafkaCluster], prefix: str, topic_operation: AclOperation | None = None
) -> Iterator[ScramUser]:
    """A `ScramUser` made on entry (ready to authenticate) and deleted on exit."""
    user = ScramUser(clusters, prefix, topic_operation)
    user.create()
    try:
        yield user
    finally:
        user.delete()
