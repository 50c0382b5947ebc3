"""`/metrics`: Prometheus exposition (needs a key like the API unless --metrics-open)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

router = APIRouter(tags=["monitoring"])


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """This process's members, every task's status and every worker's liveness, and the
    API's security counters."""
    registry = getattr(request.app.state, "metrics_registry", None)
    body = generate_latest(registry) if registry is not None else b""
    body += generate_latest(request.app.state.security_counters.registry())
    return Response(content=body, media_type=CONTENT_TYPE_LATEST)
