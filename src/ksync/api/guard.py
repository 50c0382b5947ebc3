"""Requests a browser could be tricked into sending are refused before any route runs.

* **Host.** A page on a domain the attacker controls can make that domain resolve to
  127.0.0.1 (DNS rebinding) and then read and write the keyless API as its own origin; its
  requests still carry `Host: attacker.domain`. Only the server's names are answered
  (`ksync.api.hosts`), except `/healthz`, which liveness probes call by any address.
* **Origin.** A write (POST, PUT, PATCH, DELETE) that a browser marks as coming from
  another origin (`Origin`, or `Sec-Fetch-Site: cross-site` when there is no Origin) is
  refused: the console calls the API from its own origin.
* **Content type.** A write that carries a body or a Content-Type must be JSON: a
  cross-site form or `text/plain` fetch needs no CORS preflight, a JSON one does. The
  console's login form (`POST /login`) is the one form, and `/logout` takes no body.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ksync.api.auth import is_connect_path
from ksync.api.errors import error_body
from ksync.api.hosts import HostNames

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FORM = "application/x-www-form-urlencoded"
# Paths that take something other than JSON: the login form, and a logout link.
_OTHER_BODIES = {"/login": FORM, "/logout": None}
_DEFAULT_PORTS = (":80", ":443")


def _refuse(path: str, status: int, code: str, message: str) -> JSONResponse:
    if is_connect_path(path):
        return JSONResponse({"error_code": status, "message": message}, status_code=status)
    return JSONResponse(error_body(code, message), status_code=status)


def is_json(content_type: str) -> bool:
    media = content_type.split(";")[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def _netloc(netloc: str) -> str:
    """host[:port] lower-cased, without a default port (80, 443): behind a TLS proxy the
    browser's origin is https while the server sees http."""
    netloc = netloc.lower()
    for port in _DEFAULT_PORTS:
        if netloc.endswith(port):
            return netloc.removesuffix(port)
    return netloc


def same_origin(origin: str, host: str) -> bool:
    """Whether an Origin header names this server as the request reached it."""
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False  # "null" (sandboxed frames, file:) and anything odd
    return _netloc(parts.netloc) == _netloc(host)


class RequestGuard:
    """ASGI middleware for the three checks above."""

    def __init__(self, app: ASGIApp, hosts: HostNames) -> None:
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self.check(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def check(self, scope: Scope) -> JSONResponse | None:
        """The refusal for this request, or None to let it through."""
        headers = Headers(scope=scope)
        path: str = scope["path"]
        host = headers.get("host", "")
        if path != "/healthz" and not self.hosts.allows(host):
            return _refuse(
                path,
                400,
                "host_not_allowed",
                f"Host '{host}' is not a name this server answers to; the operator adds the "
                "names clients use with --allowed-host (localhost and IP addresses are "
                "always accepted)",
            )
        if scope["method"] not in WRITES:
            return None
        origin = headers.get("origin")
        cross = (
            not same_origin(origin, host)
            if origin is not None
            else headers.get("sec-fetch-site") == "cross-site"
        )
        if cross:
            return _refuse(
                path,
                403,
                "cross_origin",
                f"a {scope['method']} from another origin ({origin or 'a cross-site page'}) is "
                "refused: call the API from the console's own origin or from a script",
            )
        content_type = headers.get("content-type")
        has_body = headers.get("transfer-encoding") is not None or headers.get("content-length", "0") != "0"
        if path in _OTHER_BODIES:
            expected = _OTHER_BODIES[path]
            if expected is None or content_type is None:
                return None
            if content_type.split(";")[0].strip().lower() == expected:
                return None
        elif content_type is None and not has_body or content_type is not None and is_json(content_type):
            return None
        return _refuse(
            path,
            415,
            "unsupported_media_type",
            f"a {scope['method']} with a body must send JSON with 'Content-Type: "
            f"application/json' (got {content_type or 'no Content-Type'})",
        )
