"""API errors: one shape for every failure, with the field and what is allowed."""

from __future__ import annotations

import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from ksync.domain.errors import (
    Conflict,
    DomainError,
    InstanceUnreachable,
    InvalidField,
    LimitExceeded,
    NotFound,
    RateLimited,
)

HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    """The shape of every failure: `{"error": {"code", "message"}}`."""

    error: ErrorDetail


_MEANING = {
    404: "No such resource.",
    409: "Not allowed in the resource's current state, or a cap is reached (`limit_exceeded`, "
    "naming the server option that raises it); the message says why and what to do.",
    422: "Invalid input: the message names the field and what is allowed. Nothing was written.",
    429: "Too many calls of this kind for now; Retry-After says when to try again.",
    502: "The Kafka instance could not be reached; the message carries the client's error.",
}


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the error statuses a route answers with (one shape for all)."""
    return {status: {"model": ErrorBody, "description": _MEANING[status]} for status in statuses}


class ApiError(Exception):
    """An error answered as `{"error": {"code", "message"}}` with `status`."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def domain_answer(exc: DomainError) -> tuple[int, str]:
    """The HTTP status and error code of a domain error: the one place that decides them
    for the native API (the compatible faces answer in their own shapes)."""
    if isinstance(exc, NotFound):
        return 404, "not_found"
    if isinstance(exc, LimitExceeded):
        return 409, "limit_exceeded"
    if isinstance(exc, RateLimited):
        return 429, "too_many_requests"
    if isinstance(exc, Conflict):
        return 409, "conflict"
    if isinstance(exc, InvalidField):
        return 422, "invalid_request"
    if isinstance(exc, InstanceUnreachable):
        # The user's addresses or settings while registering; a stored instance is down.
        return (422 if exc.while_registering else 502), "instance_unreachable"
    return 400, "bad_request"


def invalid(field: str, message: str) -> ApiError:
    """A 422 for one field of the request."""
    return ApiError(422, "invalid_request", f"{field}: {message}")


def error_body(code: str, message: str) -> dict[str, Any]:
    """The JSON of an error answer; `ErrorBody` is its documented shape."""
    return ErrorBody(error=ErrorDetail(code=code, message=message)).model_dump()


def _describe(err: dict[str, Any]) -> str:
    if err.get("type") == "json_invalid":
        # loc is ("body", <character position>): not a field name.
        reason = (err.get("ctx") or {}).get("error", "JSON decode error")
        return f"body: is not valid JSON ({reason} at character {err['loc'][-1]})"
    loc = [str(p) for p in err.get("loc", ()) if p != "body"]
    # Model-level validators report at the model's own location; say which model.
    field = ".".join(loc) or "body"
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    if err.get("type") == "missing":
        msg = "is required"
    elif err.get("type") == "extra_forbidden":
        msg = "is not a known field"
    return f"{field}: {msg}"


def install(app: FastAPI) -> None:
    """Register the handlers that give every error the same shape."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        message = "; ".join(_describe(e) for e in exc.errors())
        return JSONResponse(error_body("invalid_request", message), status_code=422)

    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        status, code = domain_answer(exc)
        headers = None
        if isinstance(exc, RateLimited):
            headers = {"retry-after": str(max(1, math.ceil(exc.retry_after_s)))}
        return JSONResponse(error_body(code, str(exc)), status_code=status, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}.get(
            exc.status_code, "http_error"
        )
        message = str(exc.detail)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # A 405 must carry Allow (RFC 9110); the router names only the first route that
            # matched the path, and each method of a path is its own route here.
            allow = ", ".join(_allowed_methods(request))
            headers["Allow"] = allow
            message = f"{message}: {request.url.path} accepts {allow}"
        return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route accepts for the request's path (asked of the routes
    themselves, so included routers count too)."""
    routes = request.app.router.routes
    return [
        method
        for method in HTTP_METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes
        )
    ]
