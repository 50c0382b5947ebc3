"""API keys on the native API (`--api-keys-file`): every call needs `Authorization: Bearer
<secret>` except `/healthz` (and `/metrics` with --metrics-open); a refused call answers 401 with the error
shape; secrets never appear in a response or the server log. Also the start-up checks: a
bad keys file, and an open API on a non-loopback address, stop the server before it binds.

Never binds a non-loopback address: the refusal of `--host 0.0.0.0` is checked on a
process that exits before binding, and `--insecure-listen` is checked at the seam
(`load_keys`) and on 127.0.0.2, which is loopback.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from helpers import KsyncServer, create_topic, running_server

from ksync.devkafka import KafkaCluster, free_port, stop_process
from ksync.server import load_keys
from ksync.settings import Settings

SECRET = "s3cret-Bearer-key-do-not-echo-0001"
OTHER_SECRET = "second-key-also-secret-0002"
WRONG = "s3cret-Bearer-key-do-not-echo-0001x"  # the right one plus a character
KEYS = [{"id": "AKIDksyncTest1", "secret": SECRET}, {"id": "AKIDksyncTest2", "secret": OTHER_SECRET}]


def bearer(secret: str) -> dict[str, str]:
    return {"authorization": f"Bearer {secret}"}


def assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401, (response.request.method, response.request.url, response.text)
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == "unauthorized"
    assert "Bearer" in body["error"]["message"]
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.fixture(scope="module")
def keys_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keys") / "keys.json"
    path.write_text(json.dumps(KEYS))
    return path


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, brokers: tuple[KafkaCluster, KafkaCluster], keys_file: Path
) -> Iterator[KsyncServer]:
    """A server with keys, logging at DEBUG so that a leak would show in its log."""
    with running_server(str(tmp_path_factory.mktemp("ksync-auth")), "--api-keys-file", str(keys_file), "--log-level", "DEBUG") as srv:
        yield srv


@pytest.fixture(scope="module")
def http(server: KsyncServer) -> Iterator[httpx.Client]:
    """A client with no key; each test adds the header it needs."""
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def seen() -> list[str]:
    """Every response (status, headers, body) of this module, to look for leaked secrets."""
    return []


def record(seen: list[str], response: httpx.Response) -> httpx.Response:
    seen.append(f"{response.status_code} {dict(response.headers)} {response.text}")
    return response


@pytest.fixture(scope="module")
def operations(http: httpx.Client, seen: list[str]) -> list[tuple[str, str]]:
    """Every native operation (method, path with ids filled in) from the server's own spec."""
    spec = record(seen, http.get("/openapi.json", headers=bearer(SECRET))).json()
    ops = []
    for path, methods in spec["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method in methods:
            ops.append((method.upper(), path.replace("{instance_id}", "ins-zzzzzzzz").replace("{task_id}", "task-zzzzzzzz")))
    # The native API as issue 6 lists it; a route added later is covered by the loop.
    assert {("GET", "/api/v1/instances"), ("POST", "/api/v1/tasks"), ("DELETE", "/api/v1/tasks/task-zzzzzzzz"),
            ("POST", "/api/v1/tasks/task-zzzzzzzz/pause"), ("GET", "/api/v1/workers")} <= set(ops), ops
    return ops


def test_every_native_call_without_a_valid_key_is_refused(
    http: httpx.Client, operations: list[tuple[str, str]], seen: list[str]
) -> None:
    refusals: list[dict[str, str]] = [
        {},  # no header
        bearer(WRONG),
        bearer(SECRET[:-1]),
        {"authorization": "Bearer"},
        {"authorization": SECRET},  # no scheme
        {"authorization": f"Basic {SECRET}"},
        {"authorization": f"Token {SECRET}"},
        {"x-api-key": SECRET},
    ]
    body = {"name": "x", "bootstrap_servers": "127.0.0.1:1"}
    for method, path in operations:
        for headers in refusals:
            r = record(seen, http.request(method, path, headers=headers, json=body if method in ("POST", "PATCH") else None))
            assert_unauthorized(r)
    # Paths that route nowhere are refused too (401 before 404: nothing is revealed), as
    # are the API's own description and docs.
    for path in ("/api/v1/nothing-here", "/api/v2/instances", "/openapi.json", "/docs", "/redoc"):
        assert_unauthorized(record(seen, http.get(path)))


def test_healthz_stays_open(http: httpx.Client, seen: list[str]) -> None:
    for headers in ({}, bearer(WRONG)):
        r = record(seen, http.get("/healthz", headers=headers))
        assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_a_valid_key_is_accepted_on_every_operation(
    http: httpx.Client, brokers: tuple[KafkaCluster, KafkaCluster], operations: list[tuple[str, str]], seen: list[str]
) -> None:
    src, dst = brokers
    create_topic(src, "auth-topic", 1)
    ok = bearer(SECRET)
    ids = []
    for broker in (src, dst):
        r = record(seen, http.post("/api/v1/instances", headers=ok,
                                   json={"name": broker.cluster_id, "bootstrap_servers": broker.bootstrap}))
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    # Either key of the file works, and the scheme's case does not matter (RFC 9110).
    for headers in (ok, bearer(OTHER_SECRET), {"authorization": f"bearer {SECRET}"}, {"authorization": f"BEARER  {SECRET}"}):
        r = record(seen, http.get(f"/api/v1/instances/{ids[0]}", headers=headers))
        assert r.status_code == 200, r.text
    for path in ("/api/v1/instances", "/api/v1/tasks", "/api/v1/workers", f"/api/v1/instances/{ids[0]}/topics"):
        r = record(seen, http.get(path, headers=ok))
        assert r.status_code == 200, (path, r.text)
    assert "auth-topic" in r.text

    r = record(seen, http.post("/api/v1/tasks", headers=ok, json={
        "name": "auth-task", "source": {"instance_id": ids[0], "topics": ["auth-topic"]},
        "target": {"instance_id": ids[1]},
    }))
    assert r.status_code == 202, r.text
    tid = r.json()["id"]
    # Every operation answers something other than 401 with the key (the ids here are the
    # unknown ones of `operations`: 404, or 422 for a body they do not accept).
    for method, path in operations:
        r = record(seen, http.request(method, path, headers=ok, json={} if method in ("POST", "PATCH") else None))
        assert r.status_code in (200, 404, 422), (method, path, r.status_code, r.text)
    for op in ("pause", "start", "restart"):
        r = record(seen, http.post(f"/api/v1/tasks/{tid}/{op}", headers=ok))
        assert r.status_code in (202, 409), (op, r.text)
    r = record(seen, http.delete(f"/api/v1/tasks/{tid}", headers=ok))
    assert r.status_code == 202, r.text


def test_secrets_never_appear_in_responses_or_the_log(
    server: KsyncServer, http: httpx.Client, operations: list[tuple[str, str]], seen: list[str]
) -> None:
    # `seen` also holds every response the tests above got, when they ran first.
    for method, path in operations:
        for headers in (bearer(SECRET), bearer(WRONG), {}):
            body = {"name": "leak-check", "bootstrap_servers": "x"} if method in ("POST", "PATCH") else None
            record(seen, http.request(method, path, headers=headers, json=body))
    for text in seen:
        for secret in (SECRET, OTHER_SECRET, WRONG):
            assert secret not in text, text
    log = server.log()
    assert "API keys loaded from" in log  # it did log, at DEBUG
    for secret in (SECRET, OTHER_SECRET, WRONG):
        assert secret not in log


def test_keys_file_from_the_environment(
    tmp_path: Path, keys_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KSYNC_API_KEYS_FILE", str(keys_file))
    srv = KsyncServer(str(tmp_path)).start()
    try:
        with srv.client() as c:
            assert_unauthorized(c.get("/api/v1/tasks"))
            assert c.get("/api/v1/tasks", headers=bearer(OTHER_SECRET)).status_code == 200
    finally:
        srv.stop()


def run_server(tmp_path: Path, *args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    """`ksync server ARGS` expected to exit by itself (a refusal at start)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KSYNC_")}
    return subprocess.run(
        [sys.executable, "-m", "ksync", "server", "--port", str(free_port()), "--data-dir", str(tmp_path), *args],
        check=False, env=env, capture_output=True, text=True, timeout=timeout_s,
    )


BAD_KEYS_FILES: dict[str, tuple[str, str]] = {
    # name: (file content, words the message must contain)
    "not-json": ("[{\"id\": \"AKID1\",", "not JSON"),
    "not-a-list": (json.dumps({"id": "AKID1", "secret": "long-enough-secret"}), "non-empty JSON list"),
    "empty": ("[]", "non-empty JSON list"),
    "short-secret": (json.dumps([{"id": "AKID1", "secret": "short7!"}]), "at least 8 characters"),
    "no-id": (json.dumps([{"secret": "long-enough-secret"}]), "entry 0"),
    "empty-id": (json.dumps([{"id": "", "secret": "long-enough-secret"}]), "entry 0"),
    "secret-not-string": (json.dumps([{"id": "AKID1", "secret": 1234567890}]), "entry 0"),
    "duplicate-ids": (
        json.dumps([{"id": "AKID1", "secret": "long-enough-secret"}, {"id": "AKID1", "secret": "another-secret-1"}]),
        "unique",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_KEYS_FILES))
def test_a_bad_keys_file_stops_the_server_naming_the_file(tmp_path: Path, case: str) -> None:
    content, words = BAD_KEYS_FILES[case]
    path = tmp_path / f"{case}.json"
    path.write_text(content)
    result = run_server(tmp_path, "--api-keys-file", str(path))
    out = result.stdout + result.stderr
    assert result.returncode == 2, out
    assert str(path) in result.stderr and words in result.stderr, result.stderr
    assert "ksync server on" not in out  # it stopped before serving
    for secret in ("short7!", "long-enough-secret", "another-secret-1", "1234567890"):
        assert secret not in out


def test_a_missing_keys_file_stops_the_server(tmp_path: Path) -> None:
    path = tmp_path / "absent.json"
    result = run_server(tmp_path, "--api-keys-file", str(path))
    assert result.returncode != 0
    assert str(path) in result.stderr or "absent.json" in result.stderr, result.stderr


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10"])
def test_an_open_api_on_a_non_loopback_host_is_refused(tmp_path: Path, host: str) -> None:
    # The refusal happens before the store is opened or a socket bound; 192.0.2.10 is a
    # documentation address that this machine does not have, so nothing could bind anyway.
    result = run_server(tmp_path, "--host", host)
    assert result.returncode == 2, result.stdout + result.stderr
    err = result.stderr
    assert f"--host {host}" in err and "loopback only" in err, err
    assert "--api-keys-file" in err and "--insecure-listen" in err, err
    assert "ksync server on" not in result.stdout + err
    assert not list(tmp_path.glob("*.db")) and not list(tmp_path.glob("*.sqlite*"))


def test_insecure_listen_allows_a_non_loopback_host_at_the_seam(caplog: pytest.LogCaptureFixture) -> None:
    # Checked on the decision itself: starting a server on 0.0.0.0 would listen on every
    # interface of the machine.
    with pytest.raises(ValueError, match="loopback only"):
        load_keys(Settings(host="0.0.0.0"))
    with caplog.at_level(logging.WARNING, logger="ksync.server"):
        assert load_keys(Settings(host="0.0.0.0", insecure_listen=True)) is None
    assert "open to anyone who can reach 0.0.0.0" in caplog.text


def test_a_loopback_host_needs_no_keys_and_says_the_api_is_open(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KSYNC_")}
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ksync", "server", "--host", "127.0.0.2", "--port", str(port),
             "--data-dir", str(tmp_path)],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(f"http://127.0.0.2:{port}/api/v1/tasks", timeout=1)
                break
            except httpx.HTTPError:
                assert proc.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.1)
        assert r.status_code == 200 and r.json() == {"tasks": []}
        assert f"the API is open to anyone who can reach 127.0.0.2:{port}" in log_path.read_text()
    finally:
        stop_process(proc)
