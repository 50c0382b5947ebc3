"""Finding 2: a stored Kafka password is never sent to an address it was not entered for.

Changing an instance's bootstrap servers used to probe the new address with the stored
SASL credentials before checking it was the same cluster; a listener there received the
password in clear (SASL/PLAIN). Now the change needs the secret again in the same
request, on the native PATCH and on the Tencent face's ModifyConnectResource.

The "other address" here is a relay on 127.0.0.1 to the same Kafka cluster that records
what clients send it: before the fix, the PATCH even succeeded (same cluster id).
"""

from __future__ import annotations

import pytest

from ksync.devkafka import KafkaCluster
from ksync.devkafka.kafka import PLAIN_USER

from .conftest import AppFactory
from .support import RecordingRelay

USER, PASSWORD = PLAIN_USER
SECURITY = {"protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN", "username": USER, "password": PASSWORD}

pytestmark = pytest.mark.timeout(300)


def register(client, source: KafkaCluster) -> str:  # type: ignore[no-untyped-def]
    r = client.post(
        "/api/v1/instances",
        json={"name": "sasl-src", "bootstrap_servers": source.sasl_bootstrap, "security": SECURITY},
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_patching_only_the_address_sends_the_stored_password_nowhere(
    make_client: AppFactory, kafka_pair: tuple[KafkaCluster, KafkaCluster]
) -> None:
    source, _ = kafka_pair
    client = make_client()
    instance = register(client, source)

    with RecordingRelay(source.sasl_bootstrap) as relay:
        r = client.patch(f"/api/v1/instances/{instance}", json={"bootstrap_servers": relay.address})
        assert relay.connections == 0 and PASSWORD.encode() not in relay.received
        assert r.status_code == 422, r.text
        message = r.json()["error"]["message"]
        assert message.startswith("security.password: "), message
        assert "again" in message and relay.address in message, message
        assert PASSWORD not in r.text
        # Nothing changed.
        assert client.get(f"/api/v1/instances/{instance}").json()["bootstrap_servers"] == source.sasl_bootstrap

        # With the secret given again for the new address, the change is made (and the
        # relay does see the password: it was entered for this address).
        r = client.patch(
            f"/api/v1/instances/{instance}",
            json={"bootstrap_servers": relay.address, "security": SECURITY},
        )
        assert r.status_code == 200, r.text
        assert r.json()["bootstrap_servers"] == relay.address
        assert relay.connections >= 1 and PASSWORD.encode() in relay.received


def test_other_changes_keep_working_without_the_password(
    make_client: AppFactory, kafka_pair: tuple[KafkaCluster, KafkaCluster]
) -> None:
    source, _ = kafka_pair
    client = make_client()
    instance = register(client, source)
    r = client.patch(f"/api/v1/instances/{instance}", json={"name": "renamed", "bootstrap_servers": source.sasl_bootstrap})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "renamed"


def test_modify_connect_resource_sends_the_stored_password_nowhere(
    make_client: AppFactory, kafka_pair: tuple[KafkaCluster, KafkaCluster]
) -> None:
    source, _ = kafka_pair
    client = make_client()
    instance = register(client, source)
    headers = {"x-tc-action": "ModifyConnectResource", "x-tc-version": "2019-08-19"}
    with RecordingRelay(source.sasl_bootstrap) as relay:
        r = client.post(
            "/",
            json={"ResourceId": instance, "KafkaConnectParam": {"BrokerAddress": relay.address}},
            headers=headers,
        )
        assert relay.connections == 0 and PASSWORD.encode() not in relay.received
    error = r.json()["Response"].get("Error")
    assert error is not None, r.text
    assert "KafkaConnectParam.BrokerAddress" in error["Message"], error
    assert f"/api/v1/instances/{instance}" in error["Message"], error
    assert client.get(f"/api/v1/instances/{instance}").json()["bootstrap_servers"] == source.sasl_bootstrap
