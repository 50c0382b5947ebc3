"""Dependencies injected into routes, and the query parameters several routes share."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from ksync.api.task_listing import TaskListing
from ksync.settings import Settings
from ksync.store.repo import Store


def get_store(request: Request) -> Store:
    return request.app.state.store  # type: ignore[no-any-return]


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_task_listing(request: Request) -> TaskListing:
    return request.app.state.task_listing  # type: ignore[no-any-return]


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
TaskListingDep = Annotated[TaskListing, Depends(get_task_listing)]

# A window of the 24 h metric history: how far back, and how long each point is.
HistorySince = Annotated[int, Query(ge=10, le=86_400, description="seconds back from now")]
HistoryStep = Annotated[
    int, Query(ge=10, le=86_400, multiple_of=10, description="seconds per point")
]
