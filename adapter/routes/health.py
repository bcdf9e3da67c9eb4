"""Liveness and readiness for orchestrators; unauthenticated, never rate limited."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response, get
from litestar.openapi.datastructures import ResponseSpec

from adapter.envelope import Envelope, ok
from adapter.guards import services_of
from adapter.routes.docs import errors
from adapter.schemas import HealthOut
from core.errors import DependencyUnavailable

log = logging.getLogger(__name__)


@get("/health/live", tags=["health"], summary="The process is up", responses={200: ResponseSpec(Envelope[HealthOut])})
async def live() -> Response[bytes]:
    return ok({"status": "ok", "checks": {}})


@get(
    "/health/ready",
    tags=["health"],
    summary="Ready to serve: the database answers (Redis down → `degraded`, still ready)",
    responses={200: ResponseSpec(Envelope[HealthOut]), **errors(503, api=False)},
)
async def ready(request: Request[Any, Any, Any]) -> Response[bytes]:
    services = services_of(request)
    checks = {"database": "ok", "redis": "ok" if await services.redis.ping() else "down"}
    try:
        await services.database.ping()
    except Exception as exc:  # any failure means not ready; the reason goes to the log
        log.warning("readiness: database unavailable: %s", exc)
        raise DependencyUnavailable(
            "The database is unavailable.",
            code="DATABASE_UNAVAILABLE",
            details={"checks": {**checks, "database": "down"}},
        ) from exc
    status = "ok" if checks["redis"] == "ok" else "degraded"
    return ok({"status": status, "checks": checks})
