"""`/api/v1/workers`: the processes that run members."""

from __future__ import annotations

from fastapi import APIRouter

from ksync.api.deps import StoreDep
from ksync.api.schemas import Worker, WorkerList

router = APIRouter(prefix="/api/v1/workers", tags=["workers"])


@router.get("", response_model=WorkerList)
def list_workers(store: StoreDep) -> WorkerList:
    """Live workers with their last heartbeat and the members they run."""
    members = store.workers.members()
    return WorkerList(workers=[Worker.of(w, members) for w in store.workers.all()])
