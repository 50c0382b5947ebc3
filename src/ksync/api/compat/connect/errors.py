"""Errors in Kafka Connect's shape, `{"error_code": N, "message": "…"}`, translated in
one place: the route class every route of this face uses.

400 a bad config or request (`ConfigError`, `InvalidField`, a body that does not parse),
404 an unknown connector (`NotFound`), 409 a conflict with the current state
(`Conflict`); anything unexpected is logged and answered 500.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import Scope

from ksync.api.compat.connect.config import ConfigError
from ksync.domain.errors import Conflict, InvalidField, NotFound

log = logging.getLogger("ksync.api.compat.connect")


class ConnectError(Exception):
    """An error answered in Connect's shape with `status`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error_response(status: int, message: str) -> JSONResponse:
    """An error answer in Connect's shape."""
    return JSONResponse({"error_code": status, "message": message}, status_code=status)


def describe_validation(errors: list[Any]) -> str:
    """A request validation failure in one sentence: each field and what is wrong."""
    parts = []
    for err in errors:
        if err.get("type") == "json_invalid":
            reason = (err.get("ctx") or {}).get("error", "JSON decode error")
            parts.append(f"body: is not valid JSON ({reason})")
            continue
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{loc}: {'is required' if err.get('type') == 'missing' else msg}")
    return "; ".join(parts)


class ConnectRoute(APIRoute):
    """Routes of this face: errors in Connect's shape, and `GET /` left to the web
    console when the client asks for HTML."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def connect_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except ConnectError as exc:
                return error_response(exc.status, exc.message)
            except (ConfigError, InvalidField) as exc:
                return error_response(400, str(exc))
            except RequestValidationError as exc:
                return error_response(400, describe_validation(list(exc.errors())))
            except NotFound as exc:
                return error_response(404, str(exc))
            except Conflict as exc:
                return error_response(409, str(exc))
            except StarletteHTTPException as exc:
                # A body over the size cap (ksync.api.limits), raised while it is read.
                return error_response(exc.status_code, str(exc.detail))
            except Exception:
                log.exception("Kafka Connect face: %s %s failed", request.method, request.url.path)
                return error_response(500, "internal error; the server log has the details")

        return connect_handler

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if self.path == "/" and _wants_html(scope):
            return Match.NONE, {}
        return super().matches(scope)


def _wants_html(scope: Scope) -> bool:
    return any(
        name == b"accept" and b"text/html" in value for name, value in scope.get("headers", ())
    )
