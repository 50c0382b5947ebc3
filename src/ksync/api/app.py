"""The FastAPI application: routes per resource over one store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ksync import __version__, console
from ksync.api import auth, errors
from ksync.api.compat import connect, tencent
from ksync.api.counters import SecurityCounters
from ksync.api.guard import RequestGuard
from ksync.api.hosts import HostNames
from ksync.api.limits import BodyLimit
from ksync.api.routes import alarms, health, instances, metrics, tasks, workers
from ksync.api.task_listing import TaskListing
from ksync.settings import Settings
from ksync.store.repo import Store

# Writes that never change desired state: the console's login and logout, and the
# Tencent face, which answers 200 to every call (refusals included) and wakes the
# controller itself after an action that succeeded.
_NO_NUDGE = frozenset({"/login", "/logout", "/", "/ckafka"})


class NudgeOnWrite:
    """ASGI middleware: after a write that succeeded, call `on_change` (any write may
    change desired state: the controller acts now, not at its next tick). Requests that
    change nothing (`_NO_NUDGE`, refusals) do not wake it: an anonymous client could
    otherwise make it tick (a lease write and a scan of every task) at will."""

    def __init__(self, app: ASGIApp, on_change: Callable[[], None]) -> None:
        self.app = app
        self.on_change = on_change

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD") or scope["path"] in _NO_NUDGE:
            await self.app(scope, receive, send)
            return
        status = 500

        async def tracked(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, tracked)
        if status < 400:
            self.on_change()


def create_app(
    store: Store,
    settings: Settings,
    keys: auth.KeyRing | None = None,
    on_shutdown: Callable[[], None] | None = None,
    on_change: Callable[[], None] | None = None,
) -> FastAPI:
    """Build the app; `on_shutdown` runs before the server process exits (stop loops)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if on_shutdown is not None:
            on_shutdown()

    app = FastAPI(
        title="ksync",
        version=__version__,
        summary="Kafka data sync service",
        lifespan=lifespan,
        # FastAPI's /docs and /redoc load their UI from a CDN into the authenticated
        # origin; the schema stays at /openapi.json for any viewer to load.
        docs_url=None,
        redoc_url=None,
    )
    app.state.store = store
    app.state.settings = settings
    app.state.task_listing = TaskListing(partial(tasks.render_task_list, store, settings), store.revision)
    app.state.security_counters = counters = SecurityCounters()
    # The Tencent face wakes the controller itself (see NudgeOnWrite).
    app.state.on_change = on_change
    errors.install(app)

    if on_change is not None:
        app.add_middleware(NudgeOnWrite, on_change=on_change)

    hosts = HostNames(settings.host_names)
    auth.install(app, keys, metrics_open=settings.metrics_open)
    if keys is not None:
        app.state.tencent_auth = tencent.Auth(
            keys, hosts, tencent.ReplayCache(strict=settings.tc3_strict), counters
        )
    for module in (console, health, metrics, instances, tasks, workers, alarms, connect, tencent):
        app.include_router(module.router)
    # Added last, so they run first (the last added is outermost): bodies are capped, then
    # Host, Origin and content type are checked, before anything reads the body or
    # authenticates the caller.
    app.add_middleware(RequestGuard, hosts=hosts)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    return app
