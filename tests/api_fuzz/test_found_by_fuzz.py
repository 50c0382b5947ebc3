"""Regressions for what the fuzz found, each as a plain request, in process: the client
refuses these settings before it connects, so no broker is needed."""

from __future__ import annotations

from pathlib import Path

from inprocess import add_instance_row, api_client, store_of

BAD_PEM = "not-a-pem-MARKER-1234"


def test_a_ca_pem_librdkafka_refuses_is_a_422_not_a_500(tmp_path: Path) -> None:
    # librdkafka refused the settings while creating the admin client, before any
    # connection: the raw KafkaException escaped as a 500 on POST and PATCH.
    bad_security = {"protocol": "SSL", "ca_pem": BAD_PEM}
    with api_client(tmp_path) as c:
        r = c.post("/api/v1/instances", json={
            "name": "bad-pem", "bootstrap_servers": "127.0.0.1:9", "security": bad_security,
        })
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["code"] == "invalid_request"
        assert error["message"].startswith("security: ") and "ssl.ca.pem" in error["message"], error
        assert BAD_PEM not in r.text

        good = add_instance_row(store_of(c), "good")
        r = c.patch(f"/api/v1/instances/{good}", json={"security": bad_security})
        assert r.status_code == 422, r.text
        assert r.json()["error"]["message"].startswith("security: ")
        assert BAD_PEM not in r.text
        # Nothing was written: the instance keeps its settings.
        assert c.get(f"/api/v1/instances/{good}").json()["security"]["protocol"] == "PLAINTEXT"
        assert [i["name"] for i in c.get("/api/v1/instances").json()["instances"]] == ["good"]
