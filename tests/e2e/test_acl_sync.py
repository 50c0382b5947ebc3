"""ACL sync (`options.sync_topic_acls`) on the real clusters, whose brokers run Kafka's
StandardAuthorizer (tests/conftest.py's pair; ACLs are managed as the super user over
PLAINTEXT, never through ksync's code).

The source's READ ACLs on a synced topic (READ, ALL turned into READ, a PREFIXED one
expanded) reach the target topic under its target name; WRITE never does. An ACL added
on the source follows at the next refresh, one removed goes from the target if ksync made
it, and an ACL the target's own operator made stays. A target where ksync's user may not
create ACLs gives a warning on the task, and the records keep flowing.
"""

from __future__ import annotations

from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    ResourcePatternType,
    ResourceType,
)
from helpers import add_instance, task_body, wait_status, wait_until
from scram_users import scram_user

from ksync.devkafka import KafkaCluster

from .security_support import revoke, super_admin
from .topics_support import create_topic, produce, tagged, wait_values, warning_about

LITERAL, PREFIXED = ResourcePatternType.LITERAL, ResourcePatternType.PREFIXED
READ, ALL, WRITE = AclOperation.READ, AclOperation.ALL, AclOperation.WRITE


def _acl(name: str, principal: str, op: AclOperation, pattern: ResourcePatternType = LITERAL) -> AclBinding:
    return AclBinding(ResourceType.TOPIC, name, pattern, principal, "*", op, AclPermissionType.ALLOW)


def _create(cluster: KafkaCluster, bindings: list[AclBinding]) -> None:
    client = super_admin(cluster)
    for f in client.create_acls(bindings).values():
        f.result(timeout=30)


def _topic_acls(cluster: KafkaCluster, topic: str) -> set[tuple[str, str, str]]:
    """(principal, operation, permission) of every LITERAL ACL on `topic`."""
    client = super_admin(cluster)
    found = client.describe_acls(
        AclBindingFilter(ResourceType.TOPIC, topic, LITERAL, None, None, AclOperation.ANY, AclPermissionType.ANY)
    ).result(timeout=30)
    return {(b.principal, b.operation.name, b.permission_type.name) for b in found}


def _cleanup(cluster: KafkaCluster, *names: tuple[str, ResourcePatternType]) -> None:
    client = super_admin(cluster)
    filters = [
        AclBindingFilter(ResourceType.TOPIC, n, p, None, None, AclOperation.ANY, AclPermissionType.ANY)
        for n, p in names
    ]
    for f in client.delete_acls(filters).values():
        f.result(timeout=30)


def test_read_acls_follow_the_source_and_write_never_reaches_the_copy(brokers, server, unique):
    source, target = brokers
    topic, copy = f"acl-{unique}", f"bak.acl-{unique}"
    create_topic(source, topic, 1)
    reader, owner, writer, team, late, local = (
        f"User:{who}-{unique}" for who in ("reader", "owner", "writer", "team", "late", "local")
    )
    _create(
        source,
        [_acl(topic, reader, READ), _acl(topic, owner, ALL), _acl(topic, writer, WRITE),
         _acl(f"acl-{unique[:4]}", team, READ, PREFIXED)],
    )
    _create(target, [_acl(copy, local, READ)])  # the target operator's own
    try:
        client = server.client()
        src, dst = add_instance(client, source), add_instance(client, target)
        body = task_body(
            src, dst, topics=[topic], target={"topic_prefix": "bak"},
            options={"mode": "metadata", "sync_topic_acls": True},
        )
        r = client.post("/api/v1/tasks", json=body)
        assert r.status_code == 202, r.text
        task_id = r.json()["id"]
        assert r.json()["options"]["sync_topic_acls"] is True

        first = {
            (reader, "READ", "ALLOW"), (owner, "READ", "ALLOW"), (team, "READ", "ALLOW"),
            (local, "READ", "ALLOW"),
        }
        wait_until(lambda: _topic_acls(target, copy) == first, timeout_s=90, what=f"the READ ACLs on {copy}")
        assert not any(op == "WRITE" or op == "ALL" for _, op, _ in _topic_acls(target, copy))

        # Added on the source: follows. Removed on the source: ksync's own copy goes, the
        # target operator's ACL stays.
        _create(source, [_acl(topic, late, READ)])
        revoke(source, [_acl(topic, reader, READ)])
        later = (first - {(reader, "READ", "ALLOW")}) | {(late, "READ", "ALLOW")}
        wait_until(lambda: _topic_acls(target, copy) == later, timeout_s=90, what=f"{copy}'s ACLs to follow")
        task = wait_status(client, task_id, "Running", timeout_s=60)
        assert not [w for w in task["warnings"] if "ACL" in w], task["warnings"]
    finally:
        _cleanup(source, (topic, LITERAL), (f"acl-{unique[:4]}", PREFIXED))
        _cleanup(target, (copy, LITERAL))


def test_a_target_that_refuses_acls_warns_and_the_records_keep_flowing(brokers, server, unique):
    source, target = brokers
    with scram_user([target], "aclsync", AclOperation.ALL) as user:
        topic = f"{user.name}-t"  # the user may do anything on its own topics, nothing more
        create_topic(source, topic, 1)
        _create(source, [_acl(topic, f"User:reader-{unique}", READ)])
        try:
            client = server.client()
            src = add_instance(client, source)
            r = client.post(
                "/api/v1/instances",
                json={"name": f"norights-{unique}", "bootstrap_servers": target.sasl_bootstrap,
                      "security": user.security()},
            )
            assert r.status_code == 201, r.text
            dst = r.json()["id"]
            body = task_body(src, dst, topics=[topic], options={"sync_topic_acls": True})
            r = client.post("/api/v1/tasks", json=body)
            assert r.status_code == 202, r.text
            task_id = r.json()["id"]

            warning = wait_until(
                lambda: warning_about(client, task_id, "topic ACLs not synced"),
                timeout_s=90,
                what="a warning that the target refuses ACLs",
            )
            assert f"User:{user.name}" in warning and "records keep flowing" in warning, warning
            records = tagged("a", range(1), 5)
            produce(source, topic, records)
            wait_values(target, topic, records)
            task = wait_status(client, task_id, "Running", timeout_s=60)
            assert task["error"] is None, task
            assert warning_about(client, task_id, "topic ACLs not synced") is not None
            assert _topic_acls(target, topic) == set()
        finally:
            _cleanup(source, (topic, LITERAL))
