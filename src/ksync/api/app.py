"""The FastAPI application: routes per resource over one store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from ksync import __version__
from ksync.api import auth, errors
from ksync.api.compat import connect, tencent
from ksync.api.routes import health, instances, tasks, workers
from ksync.settings import Settings
from ksync.store.repo import Store


def create_app(
    store: Store,
    settings: Settings,
    keys: auth.KeyRing | None = None,
    on_shutdown: Callable[[], None] | None = None,
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
    auth.install(app, keys)
    for module in (health, instances, tasks, workers, connect, tencent):
        app.include_router(module.router)
    return app
