"""A receiver's answer cannot hold a webhook thread or its memory: one deadline covers an
attempt's connect, send and whole answer, and only a few KB of the answer are read.
Real sockets on 127.0.0.1; the receivers trickle or flood on purpose."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from ksync.monitoring.alarms.webhook_policy import WebhookPolicy
from ksync.monitoring.alarms.webhooks import NOT_REACHED, Delivery, WebhookDispatcher

from .test_webhooks import Outcomes

LOOPBACK = WebhookPolicy(("127.0.0.0/8",))
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n"
HUGE = 1 << 30
# Between two trickled bytes: well under the dispatcher's 1 s, so no single read waits
# as long as the attempt may take.
GAP_S = 0.3


class RawReceiver:
    """An HTTP receiver written on a bare socket, so it can misbehave byte by byte.

    "trickle-head" sends its status line and headers one byte every `GAP_S`;
    "trickle-body" sends a 200 head at once and then its 60-byte body one byte every `GAP_S`; "huge" answers
    200 with a 1 GiB body written as fast as the client takes it. `finished` is set when
    the whole answer was sent, `sent` counts the body bytes written.
    """

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.finished = threading.Event()
        self.ended = threading.Event()  # the answer's sending stopped (finished or broken)
        self.sent = 0
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._thread = threading.Thread(target=self._serve, daemon=True, name=f"raw-{behaviour}")
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}/hook"

    def _serve(self) -> None:
        try:
            conn, _ = self._listener.accept()
        except OSError:
            return  # closed before any client came
        with conn:
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(4096)
            try:
                self._answer(conn)
            except OSError:
                pass  # the client hung up: what the tests expect it to do
            finally:
                self.ended.set()

    def _answer(self, conn: socket.socket) -> None:
        if self.behaviour == "trickle-head":
            for byte in HEAD % 0:
                if self._stop.wait(GAP_S):
                    return
                conn.sendall(bytes([byte]))
        elif self.behaviour == "trickle-body":
            conn.sendall(HEAD % 60)
            for _ in range(60):
                if self._stop.wait(GAP_S):
                    return
                conn.sendall(b"x")
                self.sent += 1
        else:
            conn.sendall(HEAD % HUGE)
            chunk = b"x" * 65536
            while self.sent < HUGE and not self._stop.is_set():
                conn.sendall(chunk)
                self.sent += len(chunk)
        self.finished.set()

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        self._thread.join(timeout=30)


@pytest.fixture
def dispatcher() -> Iterator[WebhookDispatcher]:
    d = WebhookDispatcher(workers=2, timeout_s=1.0, attempts=1, policy=LOOPBACK)
    yield d
    d.close()


@pytest.fixture
def receiver(request: pytest.FixtureRequest) -> Iterator[RawReceiver]:
    r = RawReceiver(request.param)
    yield r
    r.close()


@pytest.mark.parametrize("receiver", ["trickle-head"], indirect=True)
def test_a_trickled_head_times_out_by_the_deadline(
    dispatcher: WebhookDispatcher, receiver: RawReceiver
) -> None:
    outcomes = Outcomes()
    dispatcher.deliver([receiver.url], {"event": "firing"}, outcomes)
    outcome = outcomes.final(receiver.url)
    # Each byte arrives well within a per-read timeout; only a deadline over the whole
    # answer ends the attempt before the ~17 s the receiver takes to send its head.
    assert outcome == Delivery(None, 1, NOT_REACHED.format(timeout=1.0), False)
    assert not receiver.finished.is_set()


@pytest.mark.parametrize("receiver", ["trickle-body"], indirect=True)
def test_a_trickled_body_is_not_waited_for(
    dispatcher: WebhookDispatcher, receiver: RawReceiver
) -> None:
    outcomes = Outcomes()
    dispatcher.deliver([receiver.url], {"event": "firing"}, outcomes)
    # The status came in time: delivered, and not sent again for a slow body.
    assert outcomes.final(receiver.url) == Delivery(200, 1, None, False)
    assert not receiver.finished.is_set()
    assert receiver.sent < 60


@pytest.mark.parametrize("receiver", ["huge"], indirect=True)
def test_a_huge_answer_is_read_only_a_few_kilobytes_deep(
    dispatcher: WebhookDispatcher, receiver: RawReceiver
) -> None:
    outcomes = Outcomes()
    dispatcher.deliver([receiver.url], {"event": "firing"}, outcomes)
    assert outcomes.final(receiver.url) == Delivery(200, 1, None, False)
    # The client hung up after a few KB: the receiver's writes fail once the socket
    # buffers (a few MB on loopback) are full, far short of the 1 GiB it meant to send.
    assert receiver.ended.wait(30), "the receiver is still sending: the client kept reading"
    assert not receiver.finished.is_set()
    assert receiver.sent < 64 << 20
