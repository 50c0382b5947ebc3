"""The FastAPI application: routes per resource over one store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response

from ksync import __version__, console
from ksync.api import auth, errors
from ksync.api.compat import connect, tencent
from ksync.api.hosts import HostNames
from ksync.api.routes import alarms, health, instances, metrics, tasks, workers
from ksync.settings import Settings
from ksync.store.repo import Store


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
        title="ksync", version=__version__, summary="Kafka data sync service", lifespan=lifespan
    )
    app.state.store = store
    app.state.settings = settings
    errors.install(app)

    if on_change is not None:

        @app.middleware("http")
        async def _nudge(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
            # Any write may change desired state: let the controller act now, not next tick.
            response = await call_next(request)
            if request.method != "GET" and response.status_code < 400:
                on_change()
            return response

    auth.install(app, keys)
    if keys is not None:
        app.state.tencent_auth = tencent.Auth(
            keys, HostNames(settings.host_names), tencent.ReplayCache()
        )
    for module in (console, health, metrics, instances, tasks, workers, alarms, connect, tencent):
        app.include_router(module.router)
    return app
