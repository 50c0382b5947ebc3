"""`/api/v1/instances` against real brokers: register (which connects), read, list topics,
delete, and the refusals: unknown ids, unreachable clusters, failed authentication, and an
instance still used by a task. A refused request writes nothing; secrets never come back."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import httpx
from helpers import KsyncServer, create_topic, task_body
from pydantic import SecretStr

from ksync.devkafka import KafkaCluster, free_port
from ksync.server import open_store
from ksync.settings import Settings
from ksync.spec import InstanceSpec, SecuritySpec

from .support import assert_error, delete_task_and_wait

INSTANCE_ID = re.compile(r"ins-[a-z0-9]{8}")
SECRET = "s3cr3t-Hunter2-do-not-echo"


def _instance_ids(client: httpx.Client) -> list[str]:
    r = client.get("/api/v1/instances")
    assert r.status_code == 200, r.text
    return [i["id"] for i in r.json()["instances"]]


def test_create_connects_and_records_the_cluster(
    client: httpx.Client, brokers: tuple[KafkaCluster, KafkaCluster]
) -> None:
    src, _ = brokers
    spec = {
        "name": "gz-main",
        "bootstrap_servers": src.bootstrap,
        "region": "ap-guangzhou",
        "zone": "gz-3",
    }
    r = client.post("/api/v1/instances", json=spec)
    assert r.status_code == 201, r.text
    ins = r.json()
    assert INSTANCE_ID.fullmatch(ins["id"]), ins["id"]
    assert ins["cluster_id"] == src.cluster_id
    assert ins["broker_count"] == 1
    assert (ins["name"], ins["bootstrap_servers"], ins["region"], ins["zone"]) == (
        "gz-main",
        src.bootstrap,
        "ap-guangzhou",
        "gz-3",
    )
    assert ins["security"]["protocol"] == "PLAINTEXT"
    assert datetime.fromisoformat(ins["created_at"]).tzinfo is not None

    # GET one and GET list answer the same record.
    one = client.get(f"/api/v1/instances/{ins['id']}")
    assert one.status_code == 200
    assert one.json() == ins
    listed = [
        i for i in client.get("/api/v1/instances").json()["instances"] if i["id"] == ins["id"]
    ]
    assert listed == [ins]


def test_each_instance_gets_its_own_id(
    client: httpx.Client, brokers: tuple[KafkaCluster, KafkaCluster]
) -> None:
    src, dst = brokers
    a = client.post("/api/v1/instances", json={"name": "a", "bootstrap_servers": src.bootstrap})
    b = client.post("/api/v1/instances", json={"name": "b", "bootstrap_servers": dst.bootstrap})
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]
    assert b.json()["cluster_id"] == dst.cluster_id
    assert {a.json()["id"], b.json()["id"]} <= set(_instance_ids(client))


def test_unknown_instance_is_404(client: httpx.Client) -> None:
    for response in (
        client.get("/api/v1/instances/ins-00000000"),
        client.get("/api/v1/instances/ins-00000000/topics"),
        client.delete("/api/v1/instances/ins-00000000"),
    ):
        message = assert_error(response, 404, "not_found")
        assert "ins-00000000" in message


def test_unreachable_bootstrap_is_refused_with_the_brokers_error(client: httpx.Client) -> None:
    before = _instance_ids(client)
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    r = client.post("/api/v1/instances", json={"name": "nowhere", "bootstrap_servers": address})
    message = assert_error(r, 422)
    assert "Connection refused" in message, message
    assert address in message
    assert _instance_ids(client) == before


def test_failed_sasl_authentication_is_refused_and_the_password_never_shown(
    client: httpx.Client, brokers: tuple[KafkaCluster, KafkaCluster]
) -> None:
    # tansu 0.6.0 supports no SASL: librdkafka reports "SASL PLAIN mechanism handshake
    # failed: Broker: Unsupported SASL mechanism: broker's supported mechanisms: PLAIN".
    src, _ = brokers
    before = _instance_ids(client)
    spec = {
        "name": "sasl",
        "bootstrap_servers": src.bootstrap,
        "security": {
            "protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": "PLAIN",
            "username": "alice",
            "password": SECRET,
        },
    }
    r = client.post("/api/v1/instances", json=spec)
    message = assert_error(r, 422)
    assert "Unsupported SASL mechanism" in message, message
    assert SECRET not in r.text
    assert _instance_ids(client) == before


def test_credentials_the_protocol_never_sends_are_refused_without_echo_and_nothing_written(
    client: httpx.Client, brokers: tuple[KafkaCluster, KafkaCluster]
) -> None:
    src, _ = brokers
    before = _instance_ids(client)
    spec = {
        "name": "plain-with-secret",
        "bootstrap_servers": src.bootstrap,
        "security": {"protocol": "PLAINTEXT", "username": "alice", "password": SECRET},
    }
    message = assert_error(client.post("/api/v1/instances", json=spec), 422, "invalid_request")
    assert "security.username, security.password only apply to protocol SASL_PLAINTEXT" in message
    assert SECRET not in message
    assert _instance_ids(client) == before


def test_secrets_are_never_returned(
    client: httpx.Client, api_server: KsyncServer, brokers: tuple[KafkaCluster, KafkaCluster]
) -> None:
    # The test broker speaks neither SASL nor TLS, so no instance with a secret can pass
    # the API's connection check: the row goes into the server's store directly.
    src, _ = brokers
    spec = InstanceSpec(
        name="with-secret",
        bootstrap_servers=src.bootstrap,
        security=SecuritySpec(
            protocol="SASL_SSL", sasl_mechanism="PLAIN", username="alice",
            password=SecretStr(SECRET), ca_pem=SecretStr(SECRET),
        ),
    )
    store = open_store(Settings(data_dir=Path(api_server.data_dir)))
    try:
        ins_id = store.add_instance(spec, src.cluster_id, 1).id
    finally:
        store.engine.dispose()
    try:
        # The client refuses the CA (not PEM) before connecting: an error naming the
        # instance, never the certificate's text.
        topics = client.get(f"/api/v1/instances/{ins_id}/topics")
        message = assert_error(topics, 502, "instance_unreachable")
        assert f"the Kafka client refuses the settings of instance {ins_id}" in message
        for response in (
            client.get(f"/api/v1/instances/{ins_id}"),
            client.get("/api/v1/instances"),
            topics,
        ):
            assert SECRET not in response.text
            assert "password" not in response.text and "ca_pem" not in response.text
        got = client.get(f"/api/v1/instances/{ins_id}").json()
        assert got["security"] == {"protocol": "SASL_SSL", "sasl_mechanism": "PLAIN", "username": "alice"}
    finally:
        assert client.delete(f"/api/v1/instances/{ins_id}").status_code == 204


def test_validation_errors_do_not_echo_the_password(client: httpx.Client) -> None:
    before = _instance_ids(client)
    spec = {
        "name": "bad",
        "bootstrap_servers": "not a host",
        "security": {
            "protocol": "SASL_SSL",
            "username": "alice",
            "password": SECRET,
            "extra": SECRET,
        },
    }
    r = client.post("/api/v1/instances", json=spec)
    message = assert_error(r, 422, "invalid_request")
    assert "bootstrap_servers" in message and "security" in message, message
    assert SECRET not in r.text
    assert _instance_ids(client) == before


def test_delete_then_404(client: httpx.Client, brokers: tuple[KafkaCluster, KafkaCluster]) -> None:
    src, _ = brokers
    ins_id = client.post(
        "/api/v1/instances", json={"name": "gone", "bootstrap_servers": src.bootstrap}
    ).json()["id"]
    r = client.delete(f"/api/v1/instances/{ins_id}")
    assert r.status_code == 204, r.text
    assert r.content == b""
    assert_error(client.get(f"/api/v1/instances/{ins_id}"), 404, "not_found")
    assert ins_id not in _instance_ids(client)
    assert_error(client.delete(f"/api/v1/instances/{ins_id}"), 404, "not_found")


def test_delete_while_a_task_uses_it_is_409(
    client: httpx.Client, brokers: tuple[KafkaCluster, KafkaCluster]
) -> None:
    src, dst = brokers
    a = client.post(
        "/api/v1/instances", json={"name": "in-use-src", "bootstrap_servers": src.bootstrap}
    ).json()["id"]
    b = client.post(
        "/api/v1/instances", json={"name": "in-use-dst", "bootstrap_servers": dst.bootstrap}
    ).json()["id"]
    r = client.post(
        "/api/v1/tasks", json=task_body(a, b, topics=["in-use"], target={"topic_prefix": "inuse"})
    )
    assert r.status_code == 202, r.text
    task_id = r.json()["id"]
    try:
        for ins_id in (a, b):  # used as source and as target
            message = assert_error(client.delete(f"/api/v1/instances/{ins_id}"), 409, "conflict")
            assert task_id in message, message
            assert client.get(f"/api/v1/instances/{ins_id}").status_code == 200
    finally:
        delete_task_and_wait(client, task_id)
    # Once the task is gone the instances can go.
    for ins_id in (a, b):
        assert client.delete(f"/api/v1/instances/{ins_id}").status_code == 204


def test_topics_lists_partitions_and_replication_without_internal_topics(
    client: httpx.Client, brokers: tuple[KafkaCluster, KafkaCluster]
) -> None:
    src, _ = brokers
    create_topic(src, "inst-topics-a", 3)
    create_topic(src, "inst-topics-b", 1)
    # tansu accepts any name, so an internal-looking topic can be made on purpose.
    create_topic(src, "__ksync_internal_probe", 1)
    ins_id = client.post(
        "/api/v1/instances", json={"name": "t", "bootstrap_servers": src.bootstrap}
    ).json()["id"]
    r = client.get(f"/api/v1/instances/{ins_id}/topics")
    assert r.status_code == 200, r.text
    topics = {t["name"]: t for t in r.json()["topics"]}
    assert topics["inst-topics-a"] == {
        "name": "inst-topics-a",
        "partitions": 3,
        "replication_factor": 1,
    }
    assert topics["inst-topics-b"] == {
        "name": "inst-topics-b",
        "partitions": 1,
        "replication_factor": 1,
    }
    assert not [name for name in topics if name.startswith("__")], sorted(topics)
