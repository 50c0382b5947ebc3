"""Shared by the Kafka Connect face's tests: MirrorMaker 2 configs and Connect's error shape."""

from __future__ import annotations

from typing import Any

import httpx

MIRROR = "org.apache.kafka.connect.mirror."
SOURCE_CONNECTOR = MIRROR + "MirrorSourceConnector"
BYTES = "org.apache.kafka.connect.converters.ByteArrayConverter"


def mm2_config(source_servers: str, target_servers: str, **extra: str) -> dict[str, str]:
    """A MirrorSourceConnector config as an MM2 user writes it (aliases east -> west)."""
    return {
        "connector.class": SOURCE_CONNECTOR,
        "source.cluster.alias": "east",
        "target.cluster.alias": "west",
        "source.cluster.bootstrap.servers": source_servers,
        "target.cluster.bootstrap.servers": target_servers,
        "replication.policy.class": MIRROR + "DefaultReplicationPolicy",
        "key.converter": BYTES,
        "value.converter": BYTES,
        **extra,
    }


def assert_connect_error(response: httpx.Response, status: int, *words: str) -> str:
    """Connect's error shape `{"error_code", "message"}`; the message names `words`."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error_code", "message"}, body
    assert body["error_code"] == status, body
    assert isinstance(body["message"], str) and body["message"], body
    for word in words:
        assert word in body["message"], body
    return str(body["message"])


def validate(client: httpx.Client, plugin: str, config: dict[str, Any]) -> dict[str, Any]:
    """PUT /connector-plugins/{plugin}/config/validate, answered 200 in Connect's shape."""
    r = client.put(f"/connector-plugins/{plugin}/config/validate", json=config)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert body["name"] == SOURCE_CONNECTOR and body["groups"], body
    return body


def errors_by_key(checked: dict[str, Any]) -> dict[str, list[str]]:
    return {c["value"]["name"]: c["value"]["errors"] for c in checked["configs"]}
