"""Webhook delivery against local receivers: retries with backoff on 5xx and timeouts,
none on other answers, a hanging receiver delays nobody else, the caller never waits."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ksync.devkafka import free_port
from ksync.monitoring.alarms.webhook_policy import WebhookPolicy
from ksync.monitoring.alarms.webhooks import NOT_REACHED, Delivery, WebhookDispatcher

from .support import Receiver

# The receivers here listen on loopback, which a server allows only when told to.
LOOPBACK = WebhookPolicy(("127.0.0.0/8",))


class Outcomes:
    """Collects on_result calls per URL."""

    def __init__(self) -> None:
        self.by_url: dict[str, list[Delivery]] = defaultdict(list)
        self.at: dict[str, float] = {}
        self._cv = threading.Condition()

    def __call__(self, url: str, outcome: Delivery) -> None:
        with self._cv:
            self.by_url[url].append(outcome)
            if not outcome.pending:
                self.at[url] = time.monotonic()
            self._cv.notify_all()

    def final(self, url: str, timeout_s: float = 30.0) -> Delivery:
        with self._cv:
            assert self._cv.wait_for(
                lambda: any(not o.pending for o in self.by_url[url]), timeout_s
            ), f"{url}: {self.by_url[url]}"
            return self.by_url[url][-1]


@pytest.fixture
def dispatcher() -> Iterator[WebhookDispatcher]:
    d = WebhookDispatcher(workers=4, timeout_s=1.0, attempts=3, backoff_s=0.2, policy=LOOPBACK)
    yield d
    d.close()


def test_a_good_receiver_gets_the_json_once(dispatcher: WebhookDispatcher) -> None:
    outcomes = Outcomes()
    with Receiver("ok") as ok:
        dispatcher.deliver([ok.url], {"event": "firing", "value": 12}, outcomes)
        assert outcomes.final(ok.url) == Delivery(200, 1, None, False)
        assert ok.bodies == [{"event": "firing", "value": 12}]
        headers = ok.requests[0][1]
        assert headers["Content-Type"] == "application/json"
        assert headers["X-Ksync-Event"] == "firing"
        assert headers["User-Agent"].startswith("ksync/")


def test_a_failing_receiver_gets_three_attempts_with_backoff(dispatcher: WebhookDispatcher) -> None:
    outcomes = Outcomes()
    with Receiver("fail") as bad:
        dispatcher.deliver([bad.url], {"event": "firing"}, outcomes)
        assert outcomes.final(bad.url) == Delivery(500, 3, "HTTP 500", False)
        assert [(o.attempts, o.pending) for o in outcomes.by_url[bad.url]] == [(1, True), (2, True), (3, False)]
        t = bad.arrivals()
        assert len(t) == 3
        assert t[1] - t[0] >= 0.18 and t[2] - t[1] >= 0.38  # 0.2 s, then 0.4 s
        assert dispatcher.pending == 0


def test_a_hanging_receiver_times_out_and_delays_no_one(dispatcher: WebhookDispatcher) -> None:
    outcomes = Outcomes()
    with Receiver("hang") as hang, Receiver("fail") as bad, Receiver("ok") as ok:
        began = time.monotonic()
        dispatcher.deliver([hang.url, bad.url, ok.url], {"event": "firing"}, outcomes)
        assert time.monotonic() - began < 0.1  # the caller only queues
        assert outcomes.final(ok.url).status == 200
        assert outcomes.at[ok.url] - began < 0.5
        hung = outcomes.final(hang.url)
        assert hung == Delivery(None, 3, NOT_REACHED.format(timeout=1), False)
        assert len(hang.requests) == 3
        assert outcomes.final(bad.url).attempts == 3


def test_other_answers_are_not_retried(dispatcher: WebhookDispatcher) -> None:
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            hits.append(self.path)
            if self.path == "/moved":
                self.send_response(302)
                self.send_header("Location", "http://127.0.0.1:1/elsewhere")
            else:
                self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        outcomes = Outcomes()
        dispatcher.deliver([f"{base}/missing", f"{base}/moved"], {"event": "test"}, outcomes)
        assert outcomes.final(f"{base}/missing") == Delivery(404, 1, "HTTP 404", False)
        assert outcomes.final(f"{base}/moved") == Delivery(302, 1, "HTTP 302 (redirects are not followed)", False)
        assert sorted(hits) == ["/missing", "/moved"]
    finally:
        server.shutdown()
        server.server_close()


def test_an_unreachable_receiver_is_retried_then_given_up(dispatcher: WebhookDispatcher) -> None:
    outcomes = Outcomes()
    url = f"http://127.0.0.1:{free_port()}/nobody"
    dispatcher.deliver([url], {"event": "firing"}, outcomes)
    final = outcomes.final(url)
    # The same words as a hang: a delivery report must not tell what listens on a port.
    assert final == Delivery(None, 3, NOT_REACHED.format(timeout=1), False)


def test_beyond_max_pending_a_delivery_is_refused_at_once() -> None:
    d = WebhookDispatcher(workers=1, timeout_s=2.0, attempts=1, max_pending=2, policy=LOOPBACK)
    outcomes = Outcomes()
    try:
        with Receiver("hang") as hang:
            urls = [f"{hang.url}?n={i}" for i in range(3)]
            d.deliver(urls, {"event": "firing"}, outcomes)
            refused = outcomes.final(urls[2], timeout_s=0.5)
            assert refused.attempts == 0 and refused.error and "already waiting" in refused.error
            assert d.pending == 2
    finally:
        d.close()
