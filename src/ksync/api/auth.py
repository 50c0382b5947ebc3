"""API keys and who may call what.

Keys live in a JSON file (`--api-keys-file`, env `KSYNC_API_KEYS_FILE`): a list of
`{"id": "AKID…", "secret": "…"}`. With the file set, every call needs a key:

* native API and Kafka Connect face: `Authorization: Bearer <secret>`;
* Tencent Cloud face: a TC3-HMAC-SHA256 signature made with SecretId = id and
  SecretKey = secret (verified by that face itself, since its errors have their own shape);
* console: a login form that starts a session (`ksync.store.session_repo`: a random token
  in an HttpOnly cookie, kept server-side with a lifetime, ended by logout), accepted like
  a Bearer key. Failed logins are limited per client address (`LoginThrottle`).

`/healthz` and the console's login page and static files stay open; `/metrics` too with
`--metrics-open`. Secrets never appear in responses, logs or error messages; comparisons
are constant-time.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ksync.store.session_repo import ConsoleSessions

SESSION_COOKIE = "ksync_session"

# Paths anyone may call: liveness, and what the console needs to show its login.
OPEN_PATHS = ("/healthz", "/login", "/logout")
OPEN_PREFIXES = ("/static/",)
METRICS_PATH = "/metrics"

# Failed console logins one client address may make in LOGIN_WINDOW_S.
LOGIN_FAILURES = 10
LOGIN_WINDOW_S = 60.0


@dataclass(frozen=True)
class ApiKey:
    id: str
    secret: str

    def __repr__(self) -> str:  # never print the secret
        return f"ApiKey(id={self.id!r})"


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
            ):
                raise ValueError(
                    f"--api-keys-file {path}: entry {i} must be {{\"id\": non-empty string, "
                    "\"secret\": string of at least 8 characters}"
                )
            keys.append(ApiKey(item["id"], item["secret"]))
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


def caller(request: Request, keys: KeyRing) -> ApiKey | None:
    """The key that authenticates `request` (Bearer header or console session), if any."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        return keys.by_secret(value.strip())
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        key_id = ConsoleSessions(request.app.state.store).key_id(cookie)
        # A key removed from the keys file ends its sessions too.
        return keys.by_id(key_id) if key_id is not None else None
    return None


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
    handlers)."""

    def __init__(self, app: ASGIApp, keys: KeyRing, open_paths: tuple[str, ...]) -> None:
        self.app = app
        self.keys = keys
        self.open_paths = open_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        path = request.url.path
        if (
            path in self.open_paths
            or path.startswith(OPEN_PREFIXES)
            or is_tencent_call(request)
            or caller(request, self.keys) is not None
        ):
            await self.app(scope, receive, send)
            return
        await refusal(request)(scope, receive, send)


def install(app: FastAPI, keys: KeyRing | None, metrics_open: bool = False) -> None:
    """Refuse unauthenticated calls when keys are configured (no-op without keys);
    `/metrics` stays open only with `metrics_open`."""
    app.state.keys = keys
    app.state.login_throttle = LoginThrottle()
    if keys is not None:
        open_paths = (*OPEN_PATHS, METRICS_PATH) if metrics_open else OPEN_PATHS
        app.add_middleware(RequireKey, keys=keys, open_paths=open_paths)
