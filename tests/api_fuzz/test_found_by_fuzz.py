"""Regressions for what the fuzz found, each as a plain request."""

from __future__ import annotations

from helpers import KsyncServer

from ksync.devkafka import KafkaCluster

BAD_PEM = "not-a-pem-MARKER-1234"


def test_a_ca_pem_librdkafka_refuses_is_a_422_not_a_500(
    server: KsyncServer, brokers: tuple[KafkaCluster, KafkaCluster]
) -> None:
    # librdkafka refused the settings while creating the admin client, before any
    # connection: the raw KafkaException escaped as a 500 on POST and PATCH.
    src, _ = brokers
    bad_security = {"protocol": "SSL", "ca_pem": BAD_PEM}
    with server.client() as c:
        r = c.post("/api/v1/instances", json={
            "name": "bad-pem", "bootstrap_servers": src.bootstrap, "security": bad_security,
        })
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["code"] == "invalid_request"
        assert error["message"].startswith("security: ") and "ssl.ca.pem" in error["message"], error
        assert BAD_PEM not in r.text

        ok = c.post("/api/v1/instances", json={"name": "good", "bootstrap_servers": src.bootstrap})
        assert ok.status_code == 201, ok.text
        r = c.patch(f"/api/v1/instances/{ok.json()['id']}", json={"security": bad_security})
        assert r.status_code == 422, r.text
        assert r.json()["error"]["message"].startswith("security: ")
        assert BAD_PEM not in r.text
        # Nothing was written: the instance keeps its settings.
        assert c.get(f"/api/v1/instances/{ok.json()['id']}").json()["security"]["protocol"] == "PLAINTEXT"
        assert [i["name"] for i in c.get("/api/v1/instances").json()["instances"]] == ["good"]
