"""Webhook delivery: POST an event's JSON to each configured URL on a bounded set of the
dispatcher's own threads, with a timeout per attempt and retries with backoff.

The caller (the controller's alarm job, an API request) only queues: it never waits on a
receiver. One delivery is one (event, URL) pair; a receiver that hangs or trickles holds one
thread for at most `timeout_s` per attempt (one deadline over connect, send and the whole
answer, enforced on every socket operation), and at most `MAX_ANSWER_BYTES` of its answer
is read, and retries wait on a timer, not on a thread, so a slow
or broken receiver delays neither the caller nor the other receivers beyond what the
thread count allows. Every attempt's outcome is reported to the caller's `on_result`
(`pending` while another attempt is to come).

Only the configured http(s) URLs are contacted: redirects are not followed, and proxy
settings and credentials from the environment are not used. Each connection resolves the
URL's host, checks every address against the `WebhookPolicy` (public addresses only,
unless allowed) and connects to the checked address, so a name rebound to an internal
address after the rule was saved reaches nothing. A failure is reported without what it
says about the network ("not reached", never "connection refused" versus a timeout); the
server log keeps the detail for operators.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from ksync import __version__
from ksync.monitoring.alarms.webhook_policy import AddressRefused, WebhookPolicy

log = logging.getLogger(__name__)

# Answers worth another attempt: the receiver is overloaded or briefly broken.
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})

# How much of a receiver's answer is read: enough for a log line, never a body a
# receiver chose to make huge.
MAX_ANSWER_BYTES = 4096


@dataclass(frozen=True)
class Delivery:
    """The outcome so far of delivering one event to one URL."""

    status: int | None  # the receiver's last HTTP status; None when it never answered
    attempts: int
    error: str | None
    pending: bool  # another attempt will follow

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "attempts": self.attempts,
            "error": self.error,
            "pending": self.pending,
        }


OnResult = Callable[[str, Delivery], None]


class _Refused(httpcore.ConnectError):
    """A connection the policy refused (an httpcore error, so httpx reports it as a
    connect error; the policy's sentence is its message)."""


# The deadline of the attempt the current thread is making (monotonic seconds). httpx's
# timeouts bound each socket operation, so a receiver sending one byte a second would
# never trip them; every operation of the connection reads this instead.
_attempt = threading.local()


@contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    _attempt.at = time.monotonic() + seconds
    try:
        yield
    finally:
        _attempt.at = None


def _left(timeout: float | None, expired: type[Exception]) -> float | None:
    """What remains of the attempt's deadline (capped by httpx's own `timeout`)."""
    at: float | None = getattr(_attempt, "at", None)
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise expired("the attempt's deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read, write and TLS handshake ends by the deadline of the
    attempt using it (a pooled connection serves one attempt at a time)."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        tls = self._stream.start_tls(ssl_context, server_hostname, _left(timeout, httpcore.ConnectTimeout))
        return _DeadlineStream(tls)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _CheckedBackend(httpcore.SyncBackend):
    """Opens connections only to addresses the policy accepts, resolving names itself, and
    bounds them by the attempt's deadline."""

    def __init__(self, policy: WebhookPolicy) -> None:
        self.policy = policy

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = self.policy.addresses(host, port)
        except AddressRefused as exc:
            raise _Refused(str(exc)) from None
        last: Exception | None = None
        for address in addresses:
            try:
                stream = super().connect_tcp(
                    address, port, _left(timeout, httpcore.ConnectTimeout), local_address, socket_options
                )
                return _DeadlineStream(stream)
            except httpcore.ConnectError as exc:
                last = exc
        raise last or httpcore.ConnectError(f"{host} has no address")


def checked_transport(policy: WebhookPolicy) -> httpx.HTTPTransport:
    """An httpx transport whose connections go through `policy` (TLS still verifies the
    URL's host name: the pool connects by address but handshakes with the name)."""
    transport = httpx.HTTPTransport(trust_env=False)
    # httpx offers no hook for name resolution; the connection pool's network backend is
    # where connections are opened.
    transport._pool._network_backend = _CheckedBackend(policy)  # type: ignore[attr-defined]
    return transport


NOT_REACHED = "not delivered: the receiver could not be reached or did not answer within {timeout:g} s"


@dataclass
class _Job:
    url: str
    body: bytes
    kind: str
    on_result: OnResult
    attempts: int = 0


class WebhookDispatcher:
    """Deliver JSON events to webhook URLs without blocking the caller.

    `workers` threads send; each attempt ends within `timeout_s` (one deadline over
    connect, send and the whole answer, of which at most `MAX_ANSWER_BYTES` are read); up to `attempts` attempts, `backoff_s` then twice that between them. At
    most `max_pending` deliveries wait at once: beyond that a delivery is refused at once
    (reported, not queued), so a dead receiver cannot grow memory without bound.
    """

    def __init__(
        self,
        workers: int = 8,
        timeout_s: float = 5.0,
        attempts: int = 3,
        backoff_s: float = 1.0,
        max_pending: int = 1000,
        name: str = "webhook",
        policy: WebhookPolicy | None = None,
    ) -> None:
        self.timeout_s = timeout_s
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.max_pending = max_pending
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=False,
            trust_env=False,
            transport=checked_transport(policy or WebhookPolicy()),
            headers={"User-Agent": f"ksync/{__version__}", "Content-Type": "application/json"},
        )
        self._ready: queue.Queue[_Job | None] = queue.Queue()
        self._later: list[tuple[float, int, _Job]] = []
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self._pending = 0
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True) for i in range(workers)
        ]
        self._threads.append(threading.Thread(target=self._timer, name=f"{name}-retry", daemon=True))
        for thread in self._threads:
            thread.start()

    # ---- the caller's side --------------------------------------------------------------

    def deliver(self, urls: Sequence[str], payload: dict[str, Any], on_result: OnResult) -> None:
        """Queue `payload` for every URL and return at once; outcomes go to `on_result`."""
        body = json.dumps(payload, separators=(",", ":"), default=str).encode()
        kind = str(payload.get("event", ""))
        for url in urls:
            job = _Job(url, body, kind, on_result)
            with self._cv:
                refused = self._closed or self._pending >= self.max_pending
                if not refused:
                    self._pending += 1
            if refused:
                why = "the dispatcher is shut down" if self._closed else (
                    f"not sent: {self.max_pending} deliveries are already waiting (receivers too slow)"
                )
                log.warning("webhook %s: %s", url, why)
                self._report(job, Delivery(None, 0, why, False))
                continue
            self._ready.put(job)

    @property
    def pending(self) -> int:
        """Deliveries queued, in flight or waiting to be retried."""
        with self._cv:
            return self._pending

    def close(self) -> None:
        """Stop sending; deliveries not yet finished are abandoned (threads are daemons)."""
        with self._cv:
            self._closed = True
            self._cv.notify_all()
        for _ in self._threads:
            self._ready.put(None)

    # ---- the dispatcher's threads --------------------------------------------------------

    def _work(self) -> None:
        while True:
            job = self._ready.get()
            if job is None or self._closed:
                return
            try:
                self._attempt(job)
            except Exception:  # never lose a thread to a bug in one delivery
                log.exception("webhook %s: delivery crashed", job.url)
                self._finish(job, Delivery(None, job.attempts, "internal error while sending", False))

    def _attempt(self, job: _Job) -> None:
        job.attempts += 1
        status: int | None = None
        try:
            with _deadline(self.timeout_s):
                status = self._post(job)
        except httpx.ConnectError as exc:
            if isinstance(exc.__cause__, _Refused):
                log.warning("webhook %s: %s", job.url, exc)
                self._finish(job, Delivery(None, job.attempts, f"refused: {exc}", False))
                return
            log.info("webhook %s: attempt %d: %r", job.url, job.attempts, exc)
            error = NOT_REACHED.format(timeout=self.timeout_s)
        except httpx.HTTPError as exc:
            log.info("webhook %s: attempt %d: %r", job.url, job.attempts, exc)
            error = NOT_REACHED.format(timeout=self.timeout_s)
        else:
            if 200 <= status < 300:
                self._finish(job, Delivery(status, job.attempts, None, False))
                return
            error = f"HTTP {status}"
            if 300 <= status < 400:
                error += " (redirects are not followed)"
        retry = (status is None or status in RETRY_STATUSES) and job.attempts < self.attempts
        if not retry:
            log.warning("webhook %s: %s after %d attempt(s); giving up", job.url, error, job.attempts)
            self._finish(job, Delivery(status, job.attempts, error, False))
            return
        self._report(job, Delivery(status, job.attempts, error, True))
        delay = self.backoff_s * 2 ** (job.attempts - 1)
        with self._cv:
            heapq.heappush(self._later, (time.monotonic() + delay, next(self._seq), job))
            self._cv.notify()

    def _post(self, job: _Job) -> int:
        """Send one attempt; the answer is read as a stream, at most `MAX_ANSWER_BYTES`
        of it (closing the connection when there is more). Once the status is in, an
        answer that does not end by the deadline changes nothing: the receiver has the
        event, and another attempt would send it twice."""
        headers = {"X-Ksync-Event": job.kind}
        with self._client.stream("POST", job.url, content=job.body, headers=headers) as response:
            answer = b""
            try:
                for chunk in response.iter_raw():
                    answer += chunk
                    if len(answer) >= MAX_ANSWER_BYTES:
                        break
            except httpx.TimeoutException:
                log.info(
                    "webhook %s: HTTP %d, the answer's body did not end within %g s; not read further",
                    job.url, response.status_code, self.timeout_s,
                )
            if not response.is_success:
                log.info(
                    "webhook %s: HTTP %d: %r", job.url, response.status_code, answer[:200]
                )
            return response.status_code

    def _timer(self) -> None:
        """Moves retries whose backoff has passed back to the ready queue."""
        with self._cv:
            while not self._closed:
                if not self._later:
                    self._cv.wait()
                    continue
                due = self._later[0][0] - time.monotonic()
                if due > 0:
                    self._cv.wait(due)
                    continue
                _, _, job = heapq.heappop(self._later)
                self._ready.put(job)

    def _finish(self, job: _Job, outcome: Delivery) -> None:
        with self._cv:
            self._pending -= 1
        self._report(job, outcome)

    @staticmethod
    def _report(job: _Job, outcome: Delivery) -> None:
        try:
            job.on_result(job.url, outcome)
        except Exception:
            log.exception("webhook %s: could not record the delivery outcome", job.url)
