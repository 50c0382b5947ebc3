"""Finding 6: alarm webhooks do not reach internal addresses.

A rule could target the cloud metadata address, loopback, `[::1]`, `user:pw@` URLs, and a
test delivery reported what answered on each port. Now internal ranges are refused after
resolving the name, when the rule is saved (422 naming the field) and again at each
delivery (a name can resolve elsewhere by then: DNS rebinding), unless an operator allows
them (`--webhook-allow`); delivery failures say no more than "not reached".
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from ksync.monitoring.alarms.webhooks import Delivery, WebhookDispatcher

from .conftest import AppFactory


class Receiver:
    """An HTTP receiver on 127.0.0.1 that counts the requests it gets."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        outer = self
        self.hits = 0

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.hits += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def outcome(dispatcher: WebhookDispatcher, url: str) -> Delivery:
    done = threading.Event()
    seen: list[Delivery] = []

    def on_result(_: str, delivery: Delivery) -> None:
        seen.append(delivery)
        if not delivery.pending:
            done.set()

    dispatcher.deliver([url], {"event": "test"}, on_result)
    assert done.wait(60), seen
    return seen[-1]


def rule(*hooks: str) -> dict[str, Any]:
    return {"name": "r", "metric": "status", "status": "Failed", "webhooks": list(hooks)}


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://127.0.0.1:8080/hook", "loopback"),
        ("http://localhost:8080/hook", "loopback"),
        ("http://[::1]:8080/hook", "loopback"),
        ("http://10.1.2.3/hook", "private"),
        ("http://192.168.0.1/hook", "private"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),
        ("http://0.0.0.0:8080/hook", "unspecified"),
        ("http://224.0.0.1/hook", "multicast"),
        ("http://user:pw@example.com/hook", "user name or password"),
    ],
)
def test_a_rule_with_an_internal_webhook_is_refused(make_client: AppFactory, url: str, words: str) -> None:
    client = make_client()
    r = client.post("/api/v1/alarms", json=rule("https://93.184.215.14/x", url))
    assert r.status_code == 422, r.text
    message = r.json()["error"]["message"]
    assert "webhooks[1]" in message and words in message, message
    assert client.get("/api/v1/alarms").json()["alarms"] == []
    # The same on a change.
    r = client.post("/api/v1/alarms", json=rule("http://93.184.215.14/x"))
    assert r.status_code == 201, r.text
    r = client.patch(f"/api/v1/alarms/{r.json()['id']}", json={"webhooks": [url]})
    assert r.status_code == 422 and "webhooks[0]" in r.json()["error"]["message"], r.text


def test_an_operator_allow_list_opens_chosen_ranges(make_client: AppFactory) -> None:
    client = make_client(webhook_allow=("127.0.0.0/8", "hooks.internal"))
    assert client.post("/api/v1/alarms", json=rule("http://127.0.0.1:9/hook")).status_code == 201
    assert client.post("/api/v1/alarms", json=rule("http://10.0.0.1/hook")).status_code == 422


def test_delivery_checks_the_address_again(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    # The name passed the check when the rule was saved; now it resolves to loopback.
    real = socket.getaddrinfo

    def rebound(host: Any, *args: Any, **kwargs: Any) -> Any:
        return real("127.0.0.1" if host == "hooks.example.com" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebound)
    dispatcher = WebhookDispatcher(workers=1, timeout_s=2, attempts=1)
    try:
        result = outcome(dispatcher, f"http://hooks.example.com:{receiver.port}/hook")
    finally:
        dispatcher.close()
    assert receiver.hits == 0
    assert not result.ok and result.error is not None
    assert "127.0.0.1" in result.error and "loopback" in result.error, result.error


def test_an_allowed_receiver_gets_the_event(receiver: Receiver) -> None:
    from ksync.monitoring.alarms.webhook_policy import WebhookPolicy

    dispatcher = WebhookDispatcher(workers=1, timeout_s=2, attempts=1, policy=WebhookPolicy(("127.0.0.1",)))
    try:
        result = outcome(dispatcher, f"http://127.0.0.1:{receiver.port}/hook")
    finally:
        dispatcher.close()
    assert result.ok and receiver.hits == 1


def test_failures_do_not_tell_what_is_listening() -> None:
    from ksync.monitoring.alarms.webhook_policy import WebhookPolicy

    # One port with nothing on it, one that accepts and never answers: the same words.
    silent = socket.create_server(("127.0.0.1", 0))
    closed = socket.create_server(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    dispatcher = WebhookDispatcher(workers=2, timeout_s=1, attempts=1, policy=WebhookPolicy(("127.0.0.0/8",)))
    try:
        a = outcome(dispatcher, f"http://127.0.0.1:{closed_port}/x")
        b = outcome(dispatcher, f"http://127.0.0.1:{silent.getsockname()[1]}/x")
    finally:
        dispatcher.close()
        silent.close()
    assert a.error == b.error, (a.error, b.error)
    assert a.error is not None and "Errno" not in a.error and "refused" not in a.error.lower()


def test_a_bad_allow_list_entry_is_refused_at_the_edge() -> None:
    from typer.testing import CliRunner

    from ksync.cli import app as cli

    result = CliRunner().invoke(cli, ["server", "--webhook-allow", "10.0.0.0/33", "--port", "1"])
    assert result.exit_code == 2, result.output
    assert "--webhook-allow: '10.0.0.0/33'" in result.output
