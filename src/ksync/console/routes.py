"""Routes of the console: `/` (HTML only), `/login`, `/logout`, `/static/…`."""

from __future__ import annotations

import html
import math
import mimetypes
import re
from pathlib import Path
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import Scope

from ksync.api.auth import (
    SESSION_COOKIE,
    KeyRing,
    LoginThrottle,
    caller,
    client_address,
    session_cookie,
    session_token,
)
from ksync.api.errors import error_body
from ksync.settings import Settings
from ksync.store.session_repo import ConsoleSessions

STATIC_DIR = Path(__file__).parent / "static"
# The names the console's files have; anything else is not one of them.
_STATIC_PATH = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,200}")
# Static files change with each release; browsers revalidate (ETag) instead of guessing.
NO_CACHE = {"cache-control": "no-cache"}
SECURITY_HEADERS = {
    # Everything the console loads comes from this server: no CDN, no inline script.
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


def wants_html(scope: Scope) -> bool:
    return any(
        name == b"accept" and b"text/html" in value for name, value in scope.get("headers", ())
    )


class HtmlOnlyRoute(APIRoute):
    """Matches only requests that accept HTML, so `GET /` from an API client falls
    through to the Kafka Connect face's server info."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if not wants_html(scope):
            return Match.NONE, {}
        return super().matches(scope)


router = APIRouter(include_in_schema=False)
html_router = APIRouter(include_in_schema=False, route_class=HtmlOnlyRoute)


def _keys(request: Request) -> KeyRing | None:
    return getattr(request.app.state, "keys", None)  # type: ignore[no-any-return]


@html_router.get("/", response_class=HTMLResponse)
def shell(request: Request) -> Response:
    """The app shell; the pages are drawn by /static/app.js from the REST API. It says
    whether the caller's key is read-only, so that the pages hide what it may not do (the
    API refuses it anyway)."""
    page = (STATIC_DIR / "index.html").read_text()
    keys = _keys(request)
    key = caller(request, keys) if keys is not None else None
    access = "read-only" if key is not None and key.read_only else "full"
    page = page.replace("{{auth}}", "on" if keys is not None else "off").replace("{{access}}", access)
    return HTMLResponse(page, headers={**NO_CACHE, **SECURITY_HEADERS})


router.include_router(html_router)


def login_page(error: str | None = None, status_code: int = 200) -> HTMLResponse:
    error_html = (
        f'<p class="field-error" id="secret-error" role="alert">{html.escape(error)}</p>'
        if error
        else '<p class="field-error" id="secret-error" role="alert" hidden></p>'
    )
    body = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Log in · ksync</title>
<link rel="stylesheet" href="/static/style.css">
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
</head>
<body class="login-body">
<main class="login-card">
  <h1 class="brand"><span class="brand-mark">⇄</span> ksync</h1>
  <p class="muted">This server needs an API key. Enter the secret of one of the keys in
  its <code>--api-keys-file</code>.</p>
  <form method="post" action="/login" class="form" id="login-form">
    <div class="field" data-field="secret">
      <label for="secret">API secret</label>
      <input id="secret" name="secret" type="password" autocomplete="current-password"
             required autofocus>
      {error_html}
    </div>
    <button type="submit" class="btn primary">Log in</button>
  </form>
</main>
</body>
</html>
"""
    return HTMLResponse(body, status_code=status_code, headers={**NO_CACHE, **SECURITY_HEADERS})


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    """The login form; without API keys there is nothing to log in to."""
    if _keys(request) is None:
        return RedirectResponse("/", status_code=303)
    return login_page()


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    """Check the secret; on success start a session and go to the console. Failures are
    limited per client address (then 429 with Retry-After)."""
    keys = _keys(request)
    if keys is None:
        return RedirectResponse("/", status_code=303)
    throttle: LoginThrottle = request.app.state.login_throttle
    address = client_address(request)
    wait = throttle.wait_s(address)
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        page = login_page(
            f"too many failed logins from this address: try again in {seconds} s", status_code=429
        )
        page.headers["retry-after"] = str(seconds)
        return page
    form = parse_qs((await request.body()).decode("utf-8", errors="replace"))
    secret = (form.get("secret") or [""])[0]
    key = keys.by_secret(secret) if secret else None
    if key is None:
        if secret:
            throttle.failed(address)
            request.app.state.security_counters.add("auth_failures")
        message = (
            "enter an API secret"
            if not secret
            else "this secret is not one of the server's API keys"
        )
        return login_page(message, status_code=401)
    throttle.succeeded(address)
    settings: Settings = request.app.state.settings
    token = ConsoleSessions(request.app.state.store).start(key.id, settings.session_lifetime_s)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_cookie(key, token),
        max_age=int(settings.session_lifetime_s),
        httponly=True,
        samesite="strict",
        secure=secure_cookie(request, settings),
        path="/",
    )
    return response


def secure_cookie(request: Request, settings: Settings) -> bool:
    """Whether the session cookie is marked Secure: on https, behind a TLS proxy that says
    so (`X-Forwarded-Proto: https`; uvicorn trusts forwarded headers from loopback only, and
    a forged header can only make the caller's own cookie stricter), or always with
    `--secure-cookies`."""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return settings.secure_cookies or request.url.scheme == "https" or forwarded == "https"


@router.api_route("/logout", methods=["GET", "POST"])
def logout(request: Request) -> Response:
    """End the session on the server and forget the cookie."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        ConsoleSessions(request.app.state.store).end(session_token(cookie))
    target = "/login" if _keys(request) is not None else "/"
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.api_route("/static/{path:path}", methods=["GET", "HEAD"])
def static(path: str) -> Response:
    """A file under console/static/ (never outside it); 404 for any other path, however
    odd (a NUL byte, an over-long name), since the file system refuses those with errors
    that would be 500s."""
    root = STATIC_DIR.resolve()
    not_found = JSONResponse(error_body("not_found", f"no console file {path!r:.200}"), status_code=404)
    if not _STATIC_PATH.fullmatch(path):
        return not_found
    try:
        file = (root / path).resolve()
        if not file.is_file() or not file.is_relative_to(root) or file.name == "index.html":
            return not_found
    except (OSError, ValueError):
        return not_found
    media_type = (
        "text/javascript" if file.suffix in (".js", ".mjs") else mimetypes.guess_type(file.name)[0]
    )
    return FileResponse(
        file, media_type=media_type, headers={**NO_CACHE, "x-content-type-options": "nosniff"}
    )
