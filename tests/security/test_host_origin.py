"""Finding 5: the keyless default is closed to cross-site requests and DNS rebinding.

Without keys the server listens on loopback, but a request with `Host: attacker.example`
was answered (DNS rebinding), and a `text/plain` POST from `Origin: http://evil.example`
paused a task (a cross-site form or fetch needs no CORS preflight for that).
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from ksync.cli import app as cli
from ksync.spec import TaskSpec
from ksync.store.repo import Store

from .conftest import AppFactory, add_instance


@pytest.fixture
def task_id(store: Store) -> str:
    src, dst = add_instance(store, "src"), add_instance(store, "dst")
    spec = TaskSpec.model_validate(
        {"name": "guarded", "source": {"instance_id": src, "topics": ["t"]}, "target": {"instance_id": dst}}
    )
    return store.tasks.add(spec, []).id


def test_a_foreign_host_is_not_answered(make_client: AppFactory) -> None:
    client = make_client(allowed_hosts=())
    for host in ("attacker.example", "attacker.example:8080", "testserver"):
        r = client.get("/api/v1/tasks", headers={"host": host})
        assert r.status_code == 400, (host, r.text)
        assert r.json()["error"]["code"] == "host_not_allowed"
        assert "--allowed-host" in r.json()["error"]["message"]
    for host in ("localhost:8080", "127.0.0.1:8080", "127.0.0.2", "[::1]:8080", "10.1.2.3:8080"):
        assert client.get("/api/v1/tasks", headers={"host": host}).status_code == 200, host
    # Liveness probes address the server however they like.
    assert client.get("/healthz", headers={"host": "attacker.example"}).status_code == 200


def test_configured_names_are_answered(make_client: AppFactory) -> None:
    client = make_client(allowed_hosts=("ksync.example.com",))
    assert client.get("/api/v1/tasks", headers={"host": "KSYNC.example.com:443"}).status_code == 200
    assert client.get("/api/v1/tasks", headers={"host": "other.example.com"}).status_code == 400


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        # A cross-site fetch or form: refused by its Origin.
        ("/api/v1/tasks/{id}/pause", {"origin": "http://evil.example", "content-type": "text/plain"}, 403),
        ("/api/v1/tasks/{id}/pause", {"origin": "http://evil.example", "content-type": "application/json"}, 403),
        ("/api/v1/tasks/{id}/pause", {"origin": "null"}, 403),
        ("/api/v1/tasks/{id}/pause", {"sec-fetch-site": "cross-site"}, 403),
        # No Origin (an old browser's form): refused for not being JSON.
        ("/api/v1/tasks/{id}/pause", {"content-type": "text/plain"}, 415),
        ("/api/v1/tasks/{id}/pause", {"content-type": "application/x-www-form-urlencoded"}, 415),
        ("/connectors/guarded/pause", {"origin": "http://evil.example"}, 403),
        ("/connectors/guarded/pause", {"content-type": "text/plain"}, 415),
    ],
)
def test_a_cross_site_write_is_refused(
    make_client: AppFactory, store: Store, task_id: str, path: str, headers: dict[str, str], status: int
) -> None:
    client = make_client()
    method = "PUT" if path.startswith("/connectors") else "POST"
    r = client.request(method, path.format(id=task_id), headers=headers)
    assert r.status_code == status, r.text
    assert store.tasks.get(task_id).desired == "running"


def test_the_console_and_scripts_keep_working(make_client: AppFactory, store: Store, task_id: str) -> None:
    client = make_client()
    # The console: same origin, JSON.
    same = {"origin": "http://testserver", "content-type": "application/json", "sec-fetch-site": "same-origin"}
    assert client.post(f"/api/v1/tasks/{task_id}/pause", headers=same, content=b"{}").status_code == 202
    assert store.tasks.get(task_id).desired == "paused"
    # curl -XPOST with no body and no content type.
    assert client.post(f"/api/v1/tasks/{task_id}/start").status_code == 202
    assert store.tasks.get(task_id).desired == "running"
    # The console's login form posts a form, from its own origin.
    r = client.post("/login", data={"secret": "x"}, headers={"origin": "http://testserver"})
    assert r.status_code == 303, r.text
    r = client.post("/login", data={"secret": "x"}, headers={"origin": "http://evil.example"})
    assert r.status_code == 403, r.text


def test_a_bad_allowed_host_stops_the_server_before_it_starts() -> None:
    result = CliRunner().invoke(cli, ["server", "--allowed-host", "not a name", "--port", "1"])
    assert result.exit_code == 2, result.output
    assert "--allowed-host: 'not a name' is not a host name" in result.output
