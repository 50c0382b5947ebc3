"""Second review, findings 4 and 5: key guessing throttled, sessions ended by a key
rotation, /static answering 404 for odd paths, websockets needing a key, anonymous
requests not waking the controller."""

from __future__ import annotations

from ksync.api.auth import SESSION_COOKIE, ApiKey, KeyRing
from ksync.api.compat.tencent import signature

from .conftest import BEARER, KEY_ID, KEYS, SECRET, AppFactory


def test_wrong_bearer_keys_are_throttled_like_logins(make_client: AppFactory) -> None:
    client = make_client(keys=KEYS)
    statuses = [
        client.get("/api/v1/tasks", headers={"authorization": f"Bearer wrong-{i:04}"}).status_code
        for i in range(12)
    ]
    assert statuses[:10] == [401] * 10
    assert statuses[10:] == [429, 429]
    limited = client.get("/api/v1/tasks", headers=BEARER)  # even the right key waits
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    assert client.app.state.security_counters.get("auth_failures") == 10  # type: ignore[attr-defined]


def test_wrong_cookies_are_throttled_too(make_client: AppFactory) -> None:
    client = make_client(keys=KEYS)
    for i in range(10):
        client.cookies.set(SESSION_COOKIE, f"forged-{i}")
        assert client.get("/api/v1/tasks").status_code == 401
    assert client.get("/api/v1/tasks").status_code == 429


def test_a_rotated_key_ends_its_sessions(make_client: AppFactory) -> None:
    client = make_client(keys=KEYS)
    r = client.post("/login", data={"secret": SECRET})
    cookie = r.cookies[SESSION_COOKIE]
    assert client.get("/api/v1/tasks").status_code == 200
    # Same id, new secret: a server restarted with the rotated keys file.
    rotated = make_client(keys=KeyRing([ApiKey(KEY_ID, "a-brand-new-secret-0002")]))
    rotated.cookies.set(SESSION_COOKIE, cookie)
    assert rotated.get("/api/v1/tasks").status_code == 401


def test_static_answers_404_for_any_bad_path(make_client: AppFactory) -> None:
    client = make_client(keys=KEYS)
    for path in ("/static/%00", "/static/a%00b.css", "/static/" + "a" * 5000):
        assert client.get(path).status_code == 404, path
    assert client.get("/static/style.css").status_code == 200


def test_a_websocket_needs_a_key(make_client: AppFactory) -> None:
    """A websocket route that accepts anyone (none ships today; one added later must not
    open a hole): without a key the handshake is refused, with one it is served."""
    import pytest
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    async def greet(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text("hello")
        await ws.close()

    client = make_client(keys=KEYS)
    # Ahead of the console's catch-all mount, which would take the path otherwise.
    client.app.router.routes.insert(0, WebSocketRoute("/ws-probe", greet))  # type: ignore[attr-defined]
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/ws-probe") as ws:
        ws.receive_text()
    with client.websocket_connect("/ws-probe", headers=BEARER) as ws:
        assert ws.receive_text() == "hello"


def test_anonymous_requests_do_not_wake_the_controller(store) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from ksync.api.app import create_app
    from ksync.settings import Settings

    wakes: list[int] = []
    app = create_app(store, Settings(allowed_hosts=("testserver",)), keys=KEYS, on_change=lambda: wakes.append(1))
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as client:
        client.post("/logout")
        client.post("/", content=b"{}", headers={"content-type": "application/json", "x-tc-action": "DeleteDatahubTask"})
        client.post("/ckafka", content=b"{}", headers={"content-type": "application/json"})
        client.post("/api/v1/tasks", json={})
    assert wakes == []


def test_reuse_for_another_action_default_and_strict() -> None:
    cache = signature.ReplayCache()
    assert cache.use("s", "DescribeDatahubTask", expires_at=2e9, now=1e9) is None
    reuse = cache.use("s", "DeleteDatahubTask", expires_at=2e9, now=1e9 + 0.5)
    assert isinstance(reuse, signature.Reuse) and reuse.first_action == "DescribeDatahubTask"
    assert isinstance(cache.use("s", "PauseDatahubTask", expires_at=2e9, now=1e9 + 1.5), str)
    strict = signature.ReplayCache(strict=True)
    assert strict.use("s", "DescribeDatahubTask", expires_at=2e9, now=1e9) is None
    refused = strict.use("s", "DeleteDatahubTask", expires_at=2e9, now=1e9)
    assert isinstance(refused, str) and "strict mode" in refused
    assert strict.use("s", "DescribeDatahubTask", expires_at=2e9, now=1e9 + 0.5) is None


def test_a_trailing_newline_is_not_a_topic_or_task_name() -> None:
    import pytest
    from pydantic import ValidationError

    from ksync.spec import SourceSpec

    with pytest.raises(ValidationError):
        SourceSpec(instance_id="i", topics=["abc\n"])
    from ksync.api.compat.tencent.datahub import _TASK_NAME

    assert _TASK_NAME.fullmatch("task\n") is None and _TASK_NAME.fullmatch("task") is not None


def test_names_with_control_characters_are_refused_naming_the_field(make_client: AppFactory) -> None:
    import pytest
    from pydantic import ValidationError

    from ksync.domain.alarms import AlarmRuleSpec
    from ksync.spec import InstanceSpec, SourceSpec, TargetSpec, TaskSpec

    client = make_client(keys=KEYS)
    r = client.post(
        "/api/v1/instances",
        headers=BEARER,
        json={"name": "prod\n2026-12-07 INFO forged line", "bootstrap_servers": "127.0.0.1:9"},
    )
    assert r.status_code == 422, r.text
    assert "name" in r.text and "U+000A" in r.text
    source, target = SourceSpec(instance_id="i", topics=["t"]), TargetSpec(instance_id="j")
    for bad in ("task\x1b[2J", "evil\u202eexe.txt", "two\u2028lines"):
        with pytest.raises(ValidationError, match="control or format characters"):
            TaskSpec(name=bad, source=source, target=target)
        with pytest.raises(ValidationError, match="control or format characters"):
            InstanceSpec(name=bad, bootstrap_servers="127.0.0.1:9")
        with pytest.raises(ValidationError, match="control or format characters"):
            AlarmRuleSpec(name=bad, metric="lag", comparison=">", threshold=1)
    # Names in other scripts and with spaces stay allowed.
    assert TaskSpec(name="订单 sync — eu", source=source, target=target).name == "订单 sync — eu"
