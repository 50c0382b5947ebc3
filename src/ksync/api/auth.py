"""API keys and who may call what.

Keys live in a JSON file (`--api-keys-file`, env `KSYNC_API_KEYS_FILE`): a list of
`{"id": "AKID…", "secret": "…"}`, each optionally `"read_only": true` (`ksync key new
--read-only` appends one). With the file set, every call needs a key:

* native API and Kafka Connect face: `Authorization: Bearer <secret>`;
* Tencent Cloud face: a TC3-HMAC-SHA256 signature made with SecretId = id and
  SecretKey = secret (verified by that face itself, since its errors have their own shape);
* console: a login form that starts a session (`ksync.store.session_repo`: a random token
  in an HttpOnly cookie, kept server-side with a lifetime, ended by logout), accepted like
  a Bearer key.

Failed authentications (a wrong login secret, Bearer key or session cookie) count per
client address in one `LoginThrottle`: past `LOGIN_FAILURES` a minute the address gets
429 with Retry-After, whatever it sends, so keys cannot be guessed at speed. Failures are
logged with the address and never with what was sent. Websocket connections (no route
takes one) need a key like any call.

A read-only key (for dashboards and monitoring) may read and nothing else: on the native
API, the console and the Connect face it may GET and HEAD, and any other method is
answered 403 with a sentence saying the key is read-only, in the face's error shape; on
the Tencent face, where every action is a POST, it may call the `Describe*` actions
(`UnauthorizedOperation` for the others, checked by that face). Logging in and out of the
console stays open to it.

`/healthz` and the console's login page and static files stay open; `/metrics` too with
`--metrics-open`. Secrets never appear in responses, logs or error messages; comparisons
are constant-time.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from ksync.api.counters import SecurityCounters
from ksync.store.session_repo import ConsoleSessions

log = logging.getLogger(__name__)

SESSION_COOKIE = "ksync_session"

# Paths anyone may call: liveness, and what the console needs to show its login.
OPEN_PATHS = ("/healthz", "/login", "/logout")
OPEN_PREFIXES = ("/static/",)
METRICS_PATH = "/metrics"

# Failed console logins one client address may make in LOGIN_WINDOW_S.
LOGIN_FAILURES = 10
LOGIN_WINDOW_S = 60.0


# Methods a read-only key may use: they change nothing.
READ_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True)
class ApiKey:
    id: str
    secret: str
    read_only: bool = False

    def __repr__(self) -> str:  # never print the secret
        return f"ApiKey(id={self.id!r})"


KEY_FIELDS = frozenset({"id", "secret", "read_only"})


class KeyRing:
    """The configured keys; look them up by id (TC3) or by secret (Bearer, cookie)."""

    def __init__(self, keys: list[ApiKey]) -> None:
        self._by_id = {k.id: k for k in keys}

    @classmethod
    def load(cls, path: Path) -> KeyRing:
        """Read and validate a keys file; raises ValueError naming what is wrong."""
        try:
            data = json.loads(path.read_text())
        except OSError as exc:
            raise ValueError(f"--api-keys-file {path}: cannot read it ({exc.strerror})") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"--api-keys-file {path}: not JSON ({exc.msg} at line {exc.lineno})") from None
        if not isinstance(data, list) or not data:
            raise ValueError(f"--api-keys-file {path}: must be a non-empty JSON list of {{\"id\", \"secret\"}}")
        keys = []
        for i, item in enumerate(data):
            if (
                not isinstance(item, dict)
                or not isinstance(item.get("id"), str)
                or not isinstance(item.get("secret"), str)
                or not item["id"]
                or len(item["secret"]) < 8
                or not isinstance(item.get("read_only", False), bool)
                or not set(item) <= KEY_FIELDS
            ):
                raise ValueError(
                    f"--api-keys-file {path}: entry {i} must be {{\"id\": non-empty string, "
                    "\"secret\": string of at least 8 characters, optionally \"read_only\": "
                    "true or false} and nothing else"
                )
            keys.append(ApiKey(item["id"], item["secret"], item.get("read_only", False)))
        if len({k.id for k in keys}) != len(keys):
            raise ValueError(f"--api-keys-file {path}: key ids must be unique")
        return cls(keys)

    def by_id(self, key_id: str) -> ApiKey | None:
        return self._by_id.get(key_id)

    def by_secret(self, secret: str) -> ApiKey | None:
        found = None
        for key in self._by_id.values():
            # Check every key so timing does not tell which one matched.
            if hmac.compare_digest(key.secret.encode(), secret.encode()):
                found = key
        return found


class LoginThrottle:
    """At most `failures` failed logins per client address in `window_s`; then the
    address waits, right secret or not, so secrets cannot be guessed at speed. Bounded:
    past `max_addresses` the oldest address is forgotten."""

    def __init__(
        self,
        failures: int = LOGIN_FAILURES,
        window_s: float = LOGIN_WINDOW_S,
        max_addresses: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failures = failures
        self.window_s = window_s
        self.max_addresses = max_addresses
        self._clock = clock
        self._seen: OrderedDict[str, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def wait_s(self, address: str) -> float:
        """Seconds `address` must wait before trying again (0: it may try now)."""
        now = self._clock()
        with self._lock:
            recent = [t for t in self._seen.get(address, []) if now - t < self.window_s]
            if len(recent) < self.failures:
                return 0.0
            return self.window_s - (now - recent[0])

    def failed(self, address: str) -> None:
        now = self._clock()
        with self._lock:
            recent = [t for t in self._seen.pop(address, []) if now - t < self.window_s]
            self._seen[address] = [*recent, now][-self.failures :]
            while len(self._seen) > self.max_addresses:
                self._seen.popitem(last=False)

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._seen.pop(address, None)


def is_tencent_call(request: Request) -> bool:
    """The Tencent Cloud face authenticates with its own TC3 signatures."""
    return request.method == "POST" and request.url.path in ("/", "/ckafka")


def is_connect_path(path: str) -> bool:
    return path.startswith(("/connectors", "/connector-plugins"))


def client_address(conn: HTTPConnection) -> str:
    """The address the connection comes from (a reverse proxy's, behind one)."""
    return conn.client.host if conn.client else "unknown"


def credential_kind(conn: HTTPConnection) -> str | None:
    """What the request authenticates with: "bearer", "cookie", or None (nothing)."""
    scheme, _, value = conn.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value:
        return "bearer"
    return "cookie" if conn.cookies.get(SESSION_COOKIE) else None


def caller(conn: HTTPConnection, keys: KeyRing) -> ApiKey | None:
    """The key that authenticates `conn` (Bearer header or console session), if any."""
    kind = credential_kind(conn)
    if kind == "bearer":
        return keys.by_secret(conn.headers["authorization"].partition(" ")[2].strip())
    if kind == "cookie":
        token, _, seal = conn.cookies[SESSION_COOKIE].partition(".")
        key_id = ConsoleSessions(conn.app.state.store).key_id(token)
        key = keys.by_id(key_id) if key_id is not None else None
        # A key removed from the keys file, or given a new secret, ends its sessions.
        if key is not None and hmac.compare_digest(seal, _seal(key, token)):
            return key
    return None


def session_cookie(key: ApiKey, token: str) -> str:
    """The cookie of a session `token` started by `key`: the token sealed with the key's
    secret, so a rotated secret (same id, new secret) ends the sessions of the old one.
    The seal is an HMAC under the secret: it tells nothing about the secret."""
    return f"{token}.{_seal(key, token)}"


def session_token(cookie: str) -> str:
    """The store's token in a session cookie."""
    return cookie.partition(".")[0]


def _seal(key: ApiKey, token: str) -> str:
    return hmac.new(key.secret.encode(), token.encode(), "sha256").hexdigest()[:32]


def throttled(conn: HTTPConnection, wait_s: float) -> Response:
    """The 429 for an address past its failed authentications, in its face's shape."""
    seconds = max(1, math.ceil(wait_s))
    message = f"too many failed authentications from this address: try again in {seconds} s"
    headers = {"retry-after": str(seconds)}
    if is_connect_path(conn.url.path) or conn.url.path == "/":
        return JSONResponse({"error_code": 429, "message": message}, status_code=429, headers=headers)
    return JSONResponse(
        {"error": {"code": "too_many_requests", "message": message}}, status_code=429, headers=headers
    )


def read_only_refusal(conn: HTTPConnection, key: ApiKey, method: str) -> Response:
    """The 403 for a write by a read-only key, in the shape of the face it was for."""
    message = (
        f"the API key {key.id} is read-only: it may GET and HEAD, and a {method} needs a key "
        "without \"read_only\""
    )
    if is_connect_path(conn.url.path):
        return JSONResponse({"error_code": 403, "message": message}, status_code=403)
    return JSONResponse({"error": {"code": "read_only_key", "message": message}}, status_code=403)


def refusal(request: Request) -> Response:
    """The answer to a call without a valid key, in the shape of the face it was for."""
    path = request.url.path
    if request.method == "GET" and path == "/" and "text/html" in request.headers.get("accept", ""):
        return Response(status_code=303, headers={"location": "/login"})
    message = "a valid API key is required: send 'Authorization: Bearer <secret>'"
    if is_connect_path(path) or path == "/":
        return JSONResponse({"error_code": 401, "message": message}, status_code=401)
    return JSONResponse(
        {"error": {"code": "unauthorized", "message": message}},
        status_code=401,
        headers={"www-authenticate": "Bearer"},
    )


class RequireKey:
    """ASGI middleware: refuse calls without a key (plain ASGI, so the request body
    streams through untouched and errors raised while reading it reach the app's
    handlers). Only the lifespan scope passes unchecked: a websocket needs a key too.

    A wrong Bearer key or session cookie counts in `throttle` like a failed login; an
    address past its limit gets 429 with Retry-After, right key or not."""

    def __init__(
        self,
        app: ASGIApp,
        keys: KeyRing,
        open_paths: tuple[str, ...],
        throttle: LoginThrottle,
        counters: SecurityCounters,
    ) -> None:
        self.app = app
        self.keys = keys
        self.open_paths = open_paths
        self.throttle = throttle
        self.counters = counters

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        if scope["type"] == "http":
            request = Request(scope)
            path = request.url.path
            if path in self.open_paths or path.startswith(OPEN_PREFIXES) or is_tencent_call(request):
                await self.app(scope, receive, send)
                return
        refused = self.check(conn)
        if refused is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "http":
            await refused(scope, receive, send)
        else:  # a websocket: closing before accepting is answered 403
            await send({"type": "websocket.close", "code": 1008})

    def check(self, conn: HTTPConnection) -> Response | None:
        """The refusal for a call that needs a key, or None to let it through."""
        address = client_address(conn)
        wait = self.throttle.wait_s(address)
        if wait > 0:
            self.counters.add("auth_throttled")
            return throttled(conn, wait)
        key = caller(conn, self.keys)
        if key is not None:
            method = conn.scope.get("method", "GET")
            if key.read_only and conn.scope["type"] == "http" and method not in READ_METHODS:
                return read_only_refusal(conn, key, method)
            return None
        kind = credential_kind(conn)
        if kind is not None:
            # Never log what was sent: a mistyped key is often a real key of another system.
            log.warning("authentication failed from %s: wrong %s for %s", address, kind, conn.url.path)
            self.throttle.failed(address)
            self.counters.add("auth_failures")
        if conn.scope["type"] != "http":
            return JSONResponse({}, status_code=401)
        return refusal(Request(conn.scope))


def install(app: FastAPI, keys: KeyRing | None, metrics_open: bool = False) -> None:
    """Refuse unauthenticated calls when keys are configured (no-op without keys);
    `/metrics` stays open only with `metrics_open`."""
    app.state.keys = keys
    app.state.login_throttle = throttle = LoginThrottle()
    if keys is not None:
        open_paths = (*OPEN_PATHS, METRICS_PATH) if metrics_open else OPEN_PATHS
        app.add_middleware(
            RequireKey,
            keys=keys,
            open_paths=open_paths,
            throttle=throttle,
            counters=app.state.security_counters,
        )
