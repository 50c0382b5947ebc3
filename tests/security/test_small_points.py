"""Finding 8, the smaller points:

* `/docs` loaded Swagger UI from a CDN on the authenticated origin: no /docs or /redoc
  (the schema stays at /openapi.json);
* the console session cookie never expired and logout did not invalidate it: sessions
  live in the store with a lifetime, and logout ends them;
* login had no rate limit: 10 failures a minute from one address, then 429;
* the Tencent face answered an unknown SecretId differently from a bad signature;
* the Connect face turned deeply nested JSON into a 500;
* `/metrics` was open even with API keys: it follows the keys unless `--metrics-open`.
"""

from __future__ import annotations

import json

from ksync.api.auth import SESSION_COOKIE

from .conftest import BEARER, KEY_ID, KEYS, SECRET, AppFactory
from .support import tc3_headers

HTML = {"accept": "text/html"}


def test_no_swagger_ui_from_a_cdn(make_client: AppFactory) -> None:
    client = make_client()
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        r = client.get(path, headers=HTML)
        assert r.status_code in (404, 405) or "cdn" not in r.text.lower(), (path, r.status_code)
        assert "swagger-ui" not in r.text and "redoc.standalone" not in r.text, path
    assert client.get("/openapi.json").json()["info"]["title"] == "ksync"


def login(client, secret: str = SECRET):  # type: ignore[no-untyped-def]
    return client.post("/login", data={"secret": secret})


def test_logout_ends_the_session_on_the_server(make_client: AppFactory) -> None:
    client = make_client(keys=KEYS)
    r = login(client)
    assert r.status_code == 303, r.text
    cookie = r.cookies[SESSION_COOKIE]
    assert KEY_ID not in cookie and SECRET not in cookie
    assert "max-age=" in r.headers["set-cookie"].lower()
    assert client.get("/api/v1/tasks").status_code == 200
    client.get("/logout")
    # A copy of the cookie kept by someone else is refused too.
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, cookie)
    assert client.get("/api/v1/tasks").status_code == 401


def test_a_session_expires_after_its_lifetime(make_client: AppFactory, store) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from ksync.store.session_repo import ConsoleSessions

    client = make_client(keys=KEYS, session_lifetime_s=60)
    r = login(client)
    assert "max-age=60" in r.headers["set-cookie"].lower()
    from ksync.api.auth import session_token

    cookie = session_token(r.cookies[SESSION_COOKIE])
    assert client.get("/api/v1/tasks").status_code == 200
    sessions = ConsoleSessions(store)
    assert sessions.key_id(cookie) == KEY_ID
    assert sessions.key_id(cookie, now=sessions.now() + timedelta(seconds=61)) is None


def test_login_is_rate_limited_per_address(make_client: AppFactory) -> None:
    client = make_client(keys=KEYS)
    for i in range(10):
        assert login(client, f"wrong-secret-{i:04}").status_code == 401, i
    limited = login(client, "wrong-secret-x")
    assert limited.status_code == 429, limited.text
    assert int(limited.headers["retry-after"]) > 0
    # While limited, even the right secret waits: guessing cannot go on.
    assert login(client).status_code == 429
    # One throttle for every way of authenticating: a Bearer key waits too.
    assert client.get("/api/v1/tasks", headers=BEARER).status_code == 429


def test_an_unknown_secret_id_looks_like_a_bad_signature(make_client: AppFactory) -> None:
    client = make_client(keys=KEYS)
    body = b"{}"
    answers = []
    for secret_id, secret in (("AKIDnobodyHasThis", SECRET), (KEY_ID, "not-the-secret-at-all")):
        headers = tc3_headers("DescribeDatahubTasks", body, "testserver", secret_id, secret)
        error = client.post("/", content=body, headers=headers).json()["Response"]["Error"]
        answers.append(error)
    assert answers[0] == answers[1], answers
    assert answers[0]["Code"] == "AuthFailure.SignatureFailure"
    assert "AKIDnobodyHasThis" not in json.dumps(answers)


def test_deeply_nested_json_is_a_400_on_the_connect_face(make_client: AppFactory) -> None:
    client = make_client()
    deep = b"[" * 200_000 + b"]" * 200_000
    for method, path in (("PUT", "/connectors/deep/config"), ("POST", "/connectors"),
                         ("PUT", "/connector-plugins/MirrorSourceConnector/config/validate")):
        r = client.request(method, path, content=deep, headers={"content-type": "application/json"})
        assert r.status_code == 400, (path, r.status_code, r.text[:300])
        assert r.json()["error_code"] == 400


def test_metrics_follow_the_api_keys(make_client: AppFactory) -> None:
    closed = make_client(keys=KEYS)
    assert closed.get("/metrics").status_code == 401
    assert closed.get("/metrics", headers=BEARER).status_code == 200
    assert closed.get("/healthz").status_code == 200
    opened = make_client(keys=KEYS, metrics_open=True)
    assert opened.get("/metrics").status_code == 200


def test_session_lifetime_is_checked_at_the_edge() -> None:
    from typer.testing import CliRunner

    from ksync.cli import app as cli

    result = CliRunner().invoke(cli, ["server", "--session-lifetime", "5", "--port", "1"])
    assert result.exit_code == 2, result.output
    assert "--session-lifetime: Input should be greater than or equal to 60" in result.output, result.output
