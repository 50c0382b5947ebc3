"""The console's HTTP routes, in process: `/` only for HTML, static files, login cookie.

`GET /` is shared with the Kafka Connect face: a client that asks for HTML gets the
console, any other gets Connect's server info.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ksync.api.app import create_app
from ksync.api.auth import SESSION_COOKIE, ApiKey, KeyRing
from ksync.server import open_store
from ksync.settings import Settings

HTML = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
SECRET = "console-secret-0001"


def _client(tmp_path: Path, keys: KeyRing | None) -> TestClient:
    # The TestClient sends `Host: testserver`, which the app must be told is its name.
    settings = Settings(data_dir=tmp_path, allowed_hosts=("testserver",))
    return TestClient(create_app(open_store(settings), settings, keys=keys), follow_redirects=False)


@pytest.fixture
def open_client(tmp_path: Path) -> Iterator[TestClient]:
    with _client(tmp_path, None) as c:
        yield c


@pytest.fixture
def keyed_client(tmp_path: Path) -> Iterator[TestClient]:
    with _client(tmp_path, KeyRing([ApiKey("AKIDconsole", SECRET)])) as c:
        yield c


def test_root_is_the_console_for_html_and_connect_info_otherwise(open_client: TestClient) -> None:
    page = open_client.get("/", headers=HTML)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/static/js/app.js">' in page.text
    assert 'data-auth="off"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]

    for accept in ({}, {"accept": "application/json"}, {"accept": "*/*"}):
        info = open_client.get("/", headers=accept)
        assert info.status_code == 200, accept
        assert info.headers["content-type"].startswith("application/json")
        assert set(info.json()) == {"version", "commit", "kafka_cluster_id"}


def test_static_files_are_served_with_their_types_and_nothing_outside(
    open_client: TestClient,
) -> None:
    js = open_client.get("/static/js/app.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    css = open_client.get("/static/style.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert open_client.head("/static/js/api.js").status_code == 200
    for path in (
        "/static/nope.js",
        "/static/../routes.py",
        "/static/%2e%2e/routes.py",
        "/static/index.html",
    ):
        r = open_client.get(path)
        assert r.status_code == 404, path
        assert r.json()["error"]["code"] == "not_found"


def test_no_login_without_keys(open_client: TestClient) -> None:
    assert open_client.get("/login").headers["location"] == "/"
    assert open_client.post("/login", content=b"secret=x").headers["location"] == "/"


def test_login_sets_a_strict_http_only_session_cookie(keyed_client: TestClient) -> None:
    # Unauthenticated: the console redirects to the form, the API answers 401.
    assert keyed_client.get("/", headers=HTML).headers["location"] == "/login"
    assert keyed_client.get("/api/v1/tasks").status_code == 401
    form = keyed_client.get("/login")
    assert form.status_code == 200 and 'name="secret"' in form.text

    wrong = keyed_client.post(
        "/login",
        content=b"secret=not-the-secret",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert wrong.status_code == 401
    assert "this secret is not one of the server&#x27;s API keys" in wrong.text
    assert "not-the-secret" not in wrong.text
    assert SESSION_COOKIE not in wrong.cookies

    right = keyed_client.post("/login", data={"secret": SECRET})
    assert right.status_code == 303 and right.headers["location"] == "/"
    cookie = right.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=") and "AKIDconsole" not in cookie  # a random token
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert SECRET not in cookie

    # The cookie opens the console and the API; logging out forgets it.
    assert keyed_client.get("/", headers=HTML).status_code == 200
    assert keyed_client.get("/api/v1/tasks").status_code == 200
    out = keyed_client.get("/logout")
    assert out.status_code == 303 and out.headers["location"] == "/login"
    keyed_client.cookies.clear()
    assert keyed_client.get("/api/v1/tasks").status_code == 401
