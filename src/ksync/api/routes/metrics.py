"""`/metrics`: Prometheus exposition (open even when API keys are required)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

router = APIRouter(tags=["monitoring"])


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """This process's members, every task's status and every worker's liveness."""
    registry = getattr(request.app.state, "metrics_registry", None)
    body = generate_latest(registry) if registry is not None else b""
    return Response(content=body, media_type=CONTENT_TYPE_LATEST)
