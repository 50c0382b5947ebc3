"""The API over TLS (`ksync server --tls-cert --tls-key`): a real server process with a
certificate for 127.0.0.1 made by a test CA (ksync.devkafka.tls) serves the console, the
native API, the Kafka Connect face and the Tencent face over https only; clients verify it
(the CLI with `--ca-cert` or KSYNC_CA_CERT, and refuses it without); a bad certificate or
key stops the server at start with a sentence naming the option."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from compat.tencent_tc3 import signed_headers
from helpers import KsyncServer, running_server
from typer.testing import CliRunner

import ksync.server
from ksync.api.auth import SESSION_COOKIE
from ksync.cli import app as cli
from ksync.devkafka import free_port
from ksync.devkafka.tls import ServerTls, new_authority, server_certificate

FULL = {"id": "AKIDtlsFull", "secret": "tls-full-secret-0001"}
READER = {"id": "AKIDtlsReader", "secret": "tls-reader-secret-0002", "read_only": True}


@dataclass(frozen=True)
class Pki:
    tls: ServerTls  # the server's certificate and key
    ca_file: Path  # the CA that signed it, for clients
    other: ServerTls  # a pair from another CA: its key is no key of `tls`


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("api-tls")
    tls = server_certificate(new_authority(), folder / "server")
    ca_file = folder / "ca.pem"
    ca_file.write_text(tls.ca_pem)
    return Pki(tls, ca_file, server_certificate(new_authority("another CA"), folder / "other"))


@pytest.fixture(scope="module")
def server(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KsyncServer]:
    data = tmp_path_factory.mktemp("api-tls-server")
    keys = data / "keys.json"
    keys.write_text(json.dumps([FULL, READER]))
    with running_server(
        str(data), "--tls-cert", str(pki.tls.cert_path), "--tls-key", str(pki.tls.key_path),
        "--api-keys-file", str(keys), "--member-processes", "0", ca_file=str(pki.ca_file),
    ) as srv:
        yield srv


def bearer(key: dict[str, Any]) -> dict[str, str]:
    return {"authorization": f"Bearer {key['secret']}"}


def test_every_face_is_served_over_https(server: KsyncServer) -> None:
    assert server.url.startswith("https://127.0.0.1:")
    with server.client() as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        assert c.get("/api/v1/tasks", headers=bearer(FULL)).json() == {"tasks": []}
        # Kafka Connect face.
        assert c.get("/connectors", headers=bearer(FULL)).json() == []
        assert c.get("/", headers=bearer(FULL)).json()["version"]
        # Tencent face, signed for the host the client reaches.
        body = b"{}"
        host = server.url.removeprefix("https://")
        headers = signed_headers("DescribeDatahubTasks", body, host, FULL["id"], FULL["secret"])
        answer = c.post("/", headers=headers, content=body).json()["Response"]
        assert "Error" not in answer and answer["Result"]["TaskList"] == [], answer
        # The console: its shell, and a login whose cookie is only ever sent over TLS.
        html = {"accept": "text/html"}
        assert c.get("/", headers=html, follow_redirects=False).headers["location"] == "/login"
        r = c.post("/login", data={"secret": READER["secret"]}, headers=html, follow_redirects=False)
        assert r.status_code == 303, r.text
        cookie = r.headers["set-cookie"]
        assert cookie.startswith(f"{SESSION_COOKIE}=") and "Secure" in cookie, cookie
        shell = c.get("/", headers=html)
        assert shell.status_code == 200 and 'data-access="read-only"' in shell.text
        # Read-only is enforced over TLS the same way.
        r = c.post("/api/v1/tasks", json={"name": "x"}, headers=bearer(READER))
        assert r.status_code == 403 and r.json()["error"]["code"] == "read_only_key"


def test_clients_verify_the_certificate_and_plain_http_gets_nothing(server: KsyncServer) -> None:
    # Default verification (the system's CAs) does not know the test CA: refused.
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{server.url}/healthz", timeout=10)
    # The port speaks TLS only: a plain http request gets no HTTP answer.
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{server.port}/healthz", timeout=10)
    assert "Traceback" not in server.log()


def test_the_cli_talks_to_it_with_the_ca(server: KsyncServer, pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KSYNC_CA_CERT", "KSYNC_API_KEY", "KSYNC_API_URL", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()
    base = ["task", "list", "--api-url", server.url, "--api-key", FULL["secret"], "--output", "json"]
    ok = runner.invoke(cli, [*base, "--ca-cert", str(pki.ca_file)])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout) == {"tasks": []}
    monkeypatch.setenv("KSYNC_CA_CERT", str(pki.ca_file))
    assert runner.invoke(cli, base).exit_code == 0
    monkeypatch.delenv("KSYNC_CA_CERT")
    # Without the CA, the CLI refuses the server and says what to give; never unverified.
    refused = runner.invoke(cli, base)
    assert refused.exit_code == 3, refused.output
    assert "not trusted" in refused.stderr and "--ca-cert" in refused.stderr, refused.stderr
    # Another CA does not vouch for this server either.
    other_ca = pki.ca_file.parent / "other-ca.pem"
    other_ca.write_text(pki.other.ca_pem)
    assert runner.invoke(cli, [*base, "--ca-cert", str(other_ca)]).exit_code == 3
    # An http:// URL to the TLS port, and a CA file that is not one.
    wrong = runner.invoke(cli, [*base[:2], "--api-url", f"http://127.0.0.1:{server.port}", *base[4:]])
    assert wrong.exit_code == 3, wrong.output
    missing = runner.invoke(cli, [*base, "--ca-cert", str(pki.ca_file.parent / "nope.pem")])
    assert missing.exit_code == 2 and "--ca-cert" in missing.output
    not_pem = pki.ca_file.parent / "not-pem.txt"
    not_pem.write_text("hello")
    bad = runner.invoke(cli, [*base, "--ca-cert", str(not_pem)])
    assert bad.exit_code == 2 and "not a readable PEM CA certificate" in bad.stderr, bad.output


@pytest.fixture
def server_command(monkeypatch: pytest.MonkeyPatch) -> Any:
    """`ksync server ARGS` in process, expected to refuse before it opens its store."""

    def not_past_the_checks(*_: object) -> None:
        raise AssertionError("ksync server got past its start-up checks")

    monkeypatch.setattr(ksync.server, "open_store", not_past_the_checks)

    def run(*args: str) -> Any:
        result = CliRunner().invoke(cli, ["server", "--port", str(free_port()), *args])
        if isinstance(result.exception, AssertionError):
            raise result.exception
        return result

    return run


def _encrypted_key(folder: Path) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    path = folder / "encrypted-key.pem"
    path.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pass phrase"),
    ))
    return path


def test_a_bad_certificate_or_key_stops_the_server_at_start(server_command: Any, pki: Pki, tmp_path: Path) -> None:
    cert, key = str(pki.tls.cert_path), str(pki.tls.key_path)
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("not a certificate")
    cases = [
        (["--tls-cert", cert], "--tls-cert needs --tls-key too"),
        (["--tls-key", key], "--tls-key needs --tls-cert too"),
        (["--tls-cert", str(tmp_path / "absent.pem"), "--tls-key", key], "cannot read it"),
        (["--tls-cert", cert, "--tls-key", str(tmp_path / "absent.pem")], "cannot read it"),
        (["--tls-cert", str(not_pem), "--tls-key", key], "not a PEM certificate"),
        (["--tls-cert", cert, "--tls-key", cert], "not a PEM private key"),
        (["--tls-cert", cert, "--tls-key", str(pki.other.key_path)], "is not the private key of the certificate"),
        (["--tls-cert", cert, "--tls-key", str(_encrypted_key(tmp_path))], "the key is encrypted"),
    ]
    for args, sentence in cases:
        result = server_command("--data-dir", str(tmp_path), *args)
        assert result.exit_code == 2, (args, result.output)
        assert sentence in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.output
