"""`/api/v1/instances`: register (which connects), read, list topics, delete, and the
refusals: unknown ids, unreachable clusters, failed authentication, and an instance still
used by a task. A refused request writes nothing; secrets never come back.

What needs a cluster (registering, SASL and TLS, topic lists) runs against the shared
Kafka pair through the package's server (`client`); the rest runs in process (`api`)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

import httpx
import pytest
from fastapi.testclient import TestClient
from helpers import create_topic, task_body
from inprocess import add_instance_row, store_of
from pydantic import SecretStr

from ksync.control import instances as instance_service
from ksync.devkafka import KafkaCluster, free_port
from ksync.devkafka.kafka import PLAIN_USER, SUPER_USER
from ksync.spec import SecuritySpec

from .support import assert_error

INSTANCE_ID = re.compile(r"ins-[a-z0-9]{8}")
SECRET = "s3cr3t-Hunter2-do-not-echo"


def _instance_ids(client: httpx.Client) -> list[str]:
    r = client.get("/api/v1/instances")
    assert r.status_code == 200, r.text
    return [i["id"] for i in r.json()["instances"]]


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


# ---- against Kafka -------------------------------------------------------------------------


def test_create_connects_and_records_the_cluster(
    client: httpx.Client, brokers: tuple[KafkaCluster, KafkaCluster]
) -> None:
    src, dst = brokers
    name = _name("gz-main")
    spec = {"name": name, "bootstrap_servers": src.bootstrap, "region": "ap-guangzhou", "zone": "gz-3"}
    r = client.post("/api/v1/instances", json=spec)
    assert r.status_code == 201, r.text
    ins = r.json()
    assert INSTANCE_ID.fullmatch(ins["id"]), ins["id"]
    assert ins["cluster_id"] == src.cluster_id
    assert ins["broker_count"] == 1
    assert (ins["name"], ins["bootstrap_servers"], ins["region"], ins["zone"]) == (
        name,
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
    listed = [i for i in client.get("/api/v1/instances").json()["instances"] if i["id"] == ins["id"]]
    assert listed == [ins]

    # Another cluster gets its own id and its own cluster id.
    other = client.post("/api/v1/instances", json={"name": _name("b"), "bootstrap_servers": dst.bootstrap})
    assert other.status_code == 201, other.text
    assert other.json()["id"] != ins["id"]
    assert other.json()["cluster_id"] == dst.cluster_id
    for ins_id in (ins["id"], other.json()["id"]):
        assert client.delete(f"/api/v1/instances/{ins_id}").status_code == 204


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-512"])
def test_failed_sasl_authentication_is_refused_and_the_password_never_shown(
    client: httpx.Client, brokers: tuple[KafkaCluster, KafkaCluster], mechanism: str
) -> None:
    src, _ = brokers
    before = _instance_ids(client)
    spec = {
        "name": _name("sasl"),
        "bootstrap_servers": src.sasl_bootstrap,
        "security": {
            "protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": mechanism,
            "username": PLAIN_USER[0],
            "password": SECRET,
        },
    }
    r = client.post("/api/v1/instances", json=spec)
    message = assert_error(r, 422, "instance_unreachable")
    assert "Authentication failed" in message and src.sasl_bootstrap in message, message
    assert SECRET not in r.text
    assert _instance_ids(client) == before


def test_sasl_and_tls_instances_connect_and_their_secrets_are_never_returned(
    client: httpx.Client, brokers: tuple[KafkaCluster, KafkaCluster]
) -> None:
    src, _ = brokers
    user, password = SUPER_USER
    # The PEM's base64 body: any line of it in an answer would be the certificate leaking.
    ca_lines = [line for line in src.ca_pem.splitlines() if line and not line.startswith("-----")]
    bodies = {
        "SASL_PLAINTEXT": {
            "bootstrap_servers": src.sasl_bootstrap,
            "security": {"protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512",
                         "username": user, "password": password},
        },
        "SSL": {
            "bootstrap_servers": src.ssl_bootstrap,
            "security": {"protocol": "SSL", "ca_pem": src.ca_pem},
        },
    }
    created = []
    try:
        for protocol, body in bodies.items():
            r = client.post("/api/v1/instances", json={"name": _name(protocol.lower()), **body})
            assert r.status_code == 201, r.text
            assert r.json()["cluster_id"] == src.cluster_id
            created.append(r.json()["id"])
        topic = _name("secret-topic")
        create_topic(src, topic, 1)
        sasl_id, ssl_id = created
        for ins_id in created:
            responses = [
                client.get(f"/api/v1/instances/{ins_id}"),
                client.get("/api/v1/instances"),
                client.get(f"/api/v1/instances/{ins_id}/topics"),
            ]
            # Listing topics connects with the stored secret: it works, and shows no secret.
            assert responses[2].status_code == 200, responses[2].text
            assert topic in {t["name"] for t in responses[2].json()["topics"]}
            for response in responses:
                assert password not in response.text
                assert not [line for line in ca_lines if line in response.text]
                assert "password" not in response.text and "ca_pem" not in response.text
        assert client.get(f"/api/v1/instances/{sasl_id}").json()["security"] == {
            "protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512", "username": user,
        }
        assert client.get(f"/api/v1/instances/{ssl_id}").json()["security"] == {
            "protocol": "SSL", "sasl_mechanism": None, "username": None,
        }
    finally:
        for ins_id in created:
            assert client.delete(f"/api/v1/instances/{ins_id}").status_code == 204


def test_topics_lists_partitions_and_replication_without_internal_topics(
    client: httpx.Client, brokers: tuple[KafkaCluster, KafkaCluster]
) -> None:
    src, _ = brokers
    a, b, internal = _name("inst-topics-a"), _name("inst-topics-b"), _name("__ksync_internal_probe")
    create_topic(src, a, 3)
    create_topic(src, b, 1)
    create_topic(src, internal, 1)  # Kafka accepts the name: it must still be left out
    ins_id = client.post(
        "/api/v1/instances", json={"name": _name("t"), "bootstrap_servers": src.bootstrap}
    ).json()["id"]
    try:
        r = client.get(f"/api/v1/instances/{ins_id}/topics")
        assert r.status_code == 200, r.text
        topics = {t["name"]: t for t in r.json()["topics"]}
        assert topics[a] == {"name": a, "partitions": 3, "replication_factor": 1}
        assert topics[b] == {"name": b, "partitions": 1, "replication_factor": 1}
        assert not [name for name in topics if name.startswith("__")], sorted(topics)
    finally:
        assert client.delete(f"/api/v1/instances/{ins_id}").status_code == 204


# ---- in process ----------------------------------------------------------------------------


def test_unknown_instance_is_404(api: TestClient) -> None:
    for response in (
        api.get("/api/v1/instances/ins-00000000"),
        api.get("/api/v1/instances/ins-00000000/topics"),
        api.delete("/api/v1/instances/ins-00000000"),
        api.patch("/api/v1/instances/ins-00000000", json={"name": "x"}),
    ):
        message = assert_error(response, 404, "not_found")
        assert "ins-00000000" in message


def test_unreachable_bootstrap_is_refused_with_the_clients_error(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The refusal comes at once from the client; the check then waits out its timeout,
    # which is not what is under test here.
    monkeypatch.setattr(instance_service, "CONNECT_TIMEOUT_S", 1.0)
    before = _instance_ids(api)
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    r = api.post("/api/v1/instances", json={"name": "nowhere", "bootstrap_servers": address})
    message = assert_error(r, 422, "instance_unreachable")
    assert "Connection refused" in message, message
    assert address in message
    assert _instance_ids(api) == before


def test_credentials_the_protocol_never_sends_are_refused_without_echo_and_nothing_written(
    api: TestClient,
) -> None:
    before = _instance_ids(api)
    spec = {
        "name": "plain-with-secret",
        "bootstrap_servers": "127.0.0.1:9092",
        "security": {"protocol": "PLAINTEXT", "username": "alice", "password": SECRET},
    }
    message = assert_error(api.post("/api/v1/instances", json=spec), 422, "invalid_request")
    assert "security.username, security.password only apply to protocol SASL_PLAINTEXT" in message
    assert SECRET not in message
    assert _instance_ids(api) == before


def test_a_ca_the_client_refuses_is_named_without_its_text(api: TestClient) -> None:
    # A row with settings librdkafka refuses before connecting (a CA that is not PEM): the
    # topic list answers 502 naming the instance, never the certificate's or password's text.
    ins_id = add_instance_row(
        store_of(api),
        "with-secret",
        security=SecuritySpec(
            protocol="SASL_SSL", sasl_mechanism="PLAIN", username="alice",
            password=SecretStr(SECRET), ca_pem=SecretStr(SECRET),
        ),
    )
    topics = api.get(f"/api/v1/instances/{ins_id}/topics")
    message = assert_error(topics, 502, "instance_unreachable")
    assert f"the Kafka client refuses the settings of instance {ins_id}" in message
    for response in (api.get(f"/api/v1/instances/{ins_id}"), api.get("/api/v1/instances"), topics):
        assert SECRET not in response.text
        assert "password" not in response.text and "ca_pem" not in response.text
    got = api.get(f"/api/v1/instances/{ins_id}").json()
    assert got["security"] == {"protocol": "SASL_SSL", "sasl_mechanism": "PLAIN", "username": "alice"}
    assert api.delete(f"/api/v1/instances/{ins_id}").status_code == 204


def test_validation_errors_do_not_echo_the_password(api: TestClient) -> None:
    before = _instance_ids(api)
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
    r = api.post("/api/v1/instances", json=spec)
    message = assert_error(r, 422, "invalid_request")
    assert "bootstrap_servers" in message and "security" in message, message
    assert SECRET not in r.text
    assert _instance_ids(api) == before


def test_delete_then_404(api: TestClient) -> None:
    ins_id = add_instance_row(store_of(api), "gone")
    assert ins_id in _instance_ids(api)
    r = api.delete(f"/api/v1/instances/{ins_id}")
    assert r.status_code == 204, r.text
    assert r.content == b""
    assert_error(api.get(f"/api/v1/instances/{ins_id}"), 404, "not_found")
    assert ins_id not in _instance_ids(api)
    assert_error(api.delete(f"/api/v1/instances/{ins_id}"), 404, "not_found")


def test_delete_while_a_task_uses_it_is_409(api: TestClient) -> None:
    store = store_of(api)
    a, b = add_instance_row(store, "in-use-src"), add_instance_row(store, "in-use-dst")
    r = api.post(
        "/api/v1/tasks", json=task_body(a, b, topics=["in-use"], target={"topic_prefix": "inuse"})
    )
    assert r.status_code == 202, r.text
    task_id = r.json()["id"]
    for ins_id in (a, b):  # used as source and as target
        message = assert_error(api.delete(f"/api/v1/instances/{ins_id}"), 409, "conflict")
        assert task_id in message, message
        assert api.get(f"/api/v1/instances/{ins_id}").status_code == 200
    # A task being deleted still holds its instances; once the controller has forgotten it
    # (its members stopped), they can go.
    assert api.delete(f"/api/v1/tasks/{task_id}").status_code == 202
    assert_error(api.delete(f"/api/v1/instances/{a}"), 409, "conflict")
    store.tasks.remove(task_id)
    for ins_id in (a, b):
        assert api.delete(f"/api/v1/instances/{ins_id}").status_code == 204
