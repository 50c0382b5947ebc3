"""Secured instances end to end, through the REST API of a running `ksync server` against
Apache Kafka's SASL_PLAINTEXT (SCRAM-SHA-512, PLAIN) and SSL listeners.

Instances with SCRAM-SHA-512, PLAIN or TLS (a CA pem) settings connect and sync. A wrong
password, a CA that did not sign the brokers' certificate and a missing ACL each fail the
task with a sentence that names the instance and what to change; after the fix (PATCH the
instance, or grant the ACLs as the super user over PLAINTEXT) `start` brings it back to
Running and every record arrives.

The API refuses to register an instance it cannot reach (422), so each failure is made to
happen after registration, the way it happens to users:

* wrong password: the user's SCRAM password is changed on the broker
  (AlterUserScramCredentials) while the task runs; the members meet it when they
  reconnect, here on a `restart` (Kafka keeps connections authenticated before the change);
* unknown CA: the brokers' certificate is renewed by another CA and the brokers restart
  (a cluster of this module's own), so the instance's CA pem no longer signs it;
* missing ACL: user `alice` connects (the API's probe needs no ACL) but may not see the
  topic until the ACLs are granted.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka.admin import AclOperation, ResourcePatternType, ResourceType
from helpers import add_instance, create_topic, read_all, task_body, wait_status
from lifecycle.support import create_task, merge, produce_now

from ksync.devkafka import KafkaCluster
from ksync.devkafka.kafka import PLAIN_USER, SUPER_USER

from .security_support import (
    allow,
    assert_actionable,
    delete_scram_user,
    register,
    renew_certificate,
    revoke,
    sasl,
    set_scram_password,
    tls,
    wait_failed,
    wait_user_sees,
)

PARTITIONS = 2


def _securities(cluster: KafkaCluster) -> dict[str, tuple[str, dict[str, Any]]]:
    """Bootstrap servers and security block of each secured listener of `cluster`."""
    return {
        "scram-sha-512": (cluster.sasl_bootstrap, sasl("SCRAM-SHA-512", *SUPER_USER)),
        "plain": (cluster.sasl_bootstrap, sasl("PLAIN", *SUPER_USER)),
        "tls": (cluster.ssl_bootstrap, tls(cluster.ca_pem)),
    }


def _values(got: dict[int, list[Any]]) -> dict[int, list[bytes]]:
    return {p: [m.value() for m in msgs] for p, msgs in got.items()}


def _start(client: Any, task_id: str) -> None:
    r = client.post(f"/api/v1/tasks/{task_id}/start")
    assert r.status_code == 202, r.text


@pytest.fixture(scope="module")
def renewable(kafka_pair: tuple[KafkaCluster, KafkaCluster]) -> Iterator[KafkaCluster]:
    """A one-node cluster of this module's own: its certificate gets renewed."""
    cluster = KafkaCluster("renewable", heap_mb=384)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.mark.parametrize("kind", ["scram-sha-512", "plain", "tls"])
def test_secured_instances_connect_and_sync(brokers, server, unique, kind):
    source, target = brokers
    topic = f"sec.{kind}.{unique}"
    create_topic(source, topic, PARTITIONS)
    before = produce_now(source, topic, PARTITIONS, "before", 50)
    client = server.client()
    src = register(client, f"src-{kind}-{unique}", *_securities(source)[kind])
    dst = register(client, f"dst-{kind}-{unique}", *_securities(target)[kind])
    shown = client.get(f"/api/v1/instances/{src}").json()
    assert shown["security"]["protocol"] == _securities(source)[kind][1]["protocol"]
    assert not {"password", "ca_pem"} & set(shown["security"]), "a secret was echoed"

    task = create_task(client, task_body(src, dst, topics=[topic], start={"type": "earliest"}))
    wait_status(client, task, "Running")
    after = produce_now(source, topic, PARTITIONS, "after", 20)
    # Nothing restarts here, so the target holds each record exactly once, in order.
    assert _values(read_all(target, topic, PARTITIONS, 140)) == merge(before, after)


def test_a_changed_password_fails_the_task_until_the_instance_is_patched(brokers, server, unique):
    source, target = brokers
    topic, user, name = f"sec.pw.{unique}", f"sync-{unique}", f"pw-{unique}"
    old, new = f"first-{unique}", f"second-{unique}"
    create_topic(source, topic, PARTITIONS)
    set_scram_password(source, user, old)
    grants = allow(
        source,
        user,
        [
            (ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, AclOperation.ALL),
            (ResourceType.GROUP, "ksync-", ResourcePatternType.PREFIXED, AclOperation.READ),
        ],
    )
    try:
        wait_user_sees(source, sasl("SCRAM-SHA-512", user, old), topic)
        before = produce_now(source, topic, PARTITIONS, "before", 50)
        client = server.client()
        src = register(client, name, source.sasl_bootstrap, sasl("SCRAM-SHA-512", user, old))
        dst = add_instance(client, target, f"dst-{unique}")
        task = create_task(client, task_body(src, dst, topics=[topic], start={"type": "earliest"}))
        wait_status(client, task, "Running")
        read_all(target, topic, PARTITIONS, 100)

        set_scram_password(source, user, new)
        assert client.post(f"/api/v1/tasks/{task}/restart").status_code == 202
        error = wait_failed(client, task)
        print(f"\nthe task's error: {error}")
        assert_actionable(
            error, src, name, f"user {user}", "security.password", f"PATCH /api/v1/instances/{src}"
        )

        during = produce_now(source, topic, PARTITIONS, "during", 30)
        refused = client.patch(f"/api/v1/instances/{src}", json={"security": sasl("SCRAM-SHA-512", user, old)})
        assert refused.status_code == 422, "a password the broker refuses must not be saved"
        fixed = client.patch(f"/api/v1/instances/{src}", json={"security": sasl("SCRAM-SHA-512", user, new)})
        assert fixed.status_code == 200, fixed.text
        _start(client, task)
        wait_status(client, task, "Running")
        got = _values(read_all(target, topic, PARTITIONS, 160))
        for part, values in merge(before, during).items():
            assert set(values) <= set(got[part]), f"partition {part}: records missing"
    finally:
        revoke(source, grants)
        delete_scram_user(source, user)


def test_an_unknown_ca_fails_the_task_until_the_instance_is_patched(renewable, brokers, server, unique):
    _, target = brokers
    topic, name = f"sec.ca.{unique}", f"tls-{unique}"
    create_topic(renewable, topic, PARTITIONS)
    before = produce_now(renewable, topic, PARTITIONS, "before", 50)
    client = server.client()
    src = register(client, name, renewable.ssl_bootstrap, tls(renewable.ca_pem))
    dst = add_instance(client, target, f"dst-{unique}")
    task = create_task(client, task_body(src, dst, topics=[topic], start={"type": "earliest"}))
    wait_status(client, task, "Running")
    read_all(target, topic, PARTITIONS, 100)

    new_ca = renew_certificate(renewable)
    error = wait_failed(client, task)
    print(f"\nthe task's error: {error}")
    assert_actionable(error, src, name, "security.ca_pem", f"PATCH /api/v1/instances/{src}")

    during = produce_now(renewable, topic, PARTITIONS, "during", 30)
    fixed = client.patch(f"/api/v1/instances/{src}", json={"security": tls(new_ca)})
    assert fixed.status_code == 200, fixed.text
    _start(client, task)
    wait_status(client, task, "Running")
    got = _values(read_all(target, topic, PARTITIONS, 160))
    for part, values in merge(before, during).items():
        assert set(values) <= set(got[part]), f"partition {part}: records missing"


def test_a_missing_acl_fails_the_task_until_it_is_granted(brokers, server, unique):
    source, target = brokers
    topic, name = f"sec.acl.{unique}", f"alice-{unique}"
    create_topic(source, topic, PARTITIONS)
    before = produce_now(source, topic, PARTITIONS, "before", 50)
    client = server.client()
    alice = sasl("PLAIN", *PLAIN_USER)
    src = register(client, name, source.sasl_bootstrap, alice)
    dst = add_instance(client, target, f"dst-{unique}")
    task = create_task(client, task_body(src, dst, topics=[topic], start={"type": "earliest"}))
    group = f"ksync-{task}"

    error = wait_failed(client, task)
    print(f"\nthe task's error: {error}")
    assert_actionable(
        error, src, name, "User:alice", f"topic {topic}", f"consumer group {group}",
        "Describe, Read and DescribeConfigs", "kafka-acls.sh",
    )

    # Exactly what the sentence asks for, granted as the super user over PLAINTEXT.
    user = PLAIN_USER[0]
    grants = allow(
        source,
        user,
        [
            (ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, AclOperation.DESCRIBE),
            (ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, AclOperation.READ),
            (ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, AclOperation.DESCRIBE_CONFIGS),
            (ResourceType.GROUP, group, ResourcePatternType.LITERAL, AclOperation.READ),
        ],
    )
    try:
        wait_user_sees(source, alice, topic)
        _start(client, task)
        wait_status(client, task, "Running")
        assert _values(read_all(target, topic, PARTITIONS, 100)) == before
    finally:
        revoke(source, grants)
