"""The request body cap: every body is refused past `max_bytes`, before it is read and
before anyone is authenticated, so an anonymous client cannot make the server buffer
hundreds of megabytes (one `POST /` of 400 MB used to).

A declared `Content-Length` over the cap is answered at once; a body without one (chunked)
is counted as it arrives, and the route reading it gets `BodyTooLarge` (a 413) the moment
it passes the cap: the rest is never read.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ksync.api.auth import is_connect_path
from ksync.api.errors import error_body

DEFAULT_MAX_BODY_BYTES = 1 << 20


class BodyTooLarge(HTTPException):
    """Raised from `receive` when a streamed body passes the cap; answered as a 413 by
    the app's error handlers (or by `BodyLimit` if it escapes them)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, too_large_message(max_bytes))


def too_large_message(max_bytes: int) -> str:
    return (
        f"the request body is larger than this server accepts ({max_bytes} bytes; the "
        "operator sets it with --max-body-bytes)"
    )


def too_large_response(path: str, max_bytes: int) -> JSONResponse:
    """A 413 in the shape of the face the path belongs to."""
    message = too_large_message(max_bytes)
    if is_connect_path(path):
        return JSONResponse({"error_code": 413, "message": message}, status_code=413)
    return JSONResponse(error_body("body_too_large", message), status_code=413)


class BodyLimit:
    """ASGI middleware: cap request bodies at `max_bytes`."""

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            # A malformed Content-Length never gets here: the HTTP server refuses it.
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await too_large_response(scope["path"], self.max_bytes)(scope, receive, send)
                return
        received = 0
        started = False

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited, tracked)
        except BodyTooLarge:
            if started:
                raise
            await too_large_response(scope["path"], self.max_bytes)(scope, receive, send)
