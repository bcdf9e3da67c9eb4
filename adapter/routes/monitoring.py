"""Service health for administrators: /api/v2/platform/health (R20.4) and Prometheus /metrics."""

from __future__ import annotations

import re
import time
from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import QueryParameter
from pydantic import BaseModel

from adapter.auth import Role
from adapter.envelope import Envelope, ok
from adapter.guards import allow, api_guard
from adapter.monitoring import metrics_of
from adapter.routes.docs import errors
from core.errors import InvalidInput
from core.metrics import MAX_WINDOW_SECONDS, HealthSnapshot, RouteHealth

# ruff: noqa: N815  (JSON field names are camelCase)

MIN_WINDOW_SECONDS = 60
_WHOLE_NUMBER = re.compile(r"[0-9]{1,6}")


class RouteHealthOut(BaseModel):
    method: str
    route: str
    requests: int
    clientErrors: int
    serverErrors: int
    errorRate: float
    p50Ms: float | None
    p95Ms: float | None
    p99Ms: float | None


class PlatformHealthOut(BaseModel):
    startedAt: str
    uptimeSeconds: float
    windowSeconds: int
    requests: int
    errorRate: float
    p50Ms: float | None
    p95Ms: float | None
    p99Ms: float | None
    routes: list[RouteHealthOut]


def _window(value: str | None, default: int, maximum: int) -> int:
    """Raises:
    InvalidInput (INVALID_WINDOW): not a whole number of seconds between 60 and `maximum`.
    """
    if value is None:
        return default
    seconds = int(value) if _WHOLE_NUMBER.fullmatch(value) else -1
    if not MIN_WINDOW_SECONDS <= seconds <= maximum:
        raise InvalidInput(
            f"windowSeconds must be a whole number of seconds between {MIN_WINDOW_SECONDS} and {maximum}.",
            code="INVALID_WINDOW",
            details={"field": "windowSeconds", "min": MIN_WINDOW_SECONDS, "max": maximum},
        )
    return seconds


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _route_json(route: RouteHealth) -> dict[str, Any]:
    return {
        "method": route.method,
        "route": route.route,
        "requests": route.requests,
        "clientErrors": route.client_errors,
        "serverErrors": route.server_errors,
        "errorRate": route.error_rate,
        "p50Ms": _ms(route.p50_ms),
        "p95Ms": _ms(route.p95_ms),
        "p99Ms": _ms(route.p99_ms),
    }


def health_json(snapshot: HealthSnapshot) -> dict[str, Any]:
    """The snapshot as the API shows it (camelCase, milliseconds rounded to the µs)."""
    return {
        "startedAt": snapshot.started_at.isoformat(),
        "uptimeSeconds": round(snapshot.uptime_seconds, 3),
        "windowSeconds": snapshot.window_seconds,
        "requests": snapshot.requests,
        "errorRate": snapshot.error_rate,
        "p50Ms": _ms(snapshot.p50_ms),
        "p95Ms": _ms(snapshot.p95_ms),
        "p99Ms": _ms(snapshot.p99_ms),
        "routes": [_route_json(route) for route in snapshot.routes],
    }


@get(
    "/platform/health",
    opt=allow(Role.ADMIN),
    tags=["platform"],
    responses={200: ResponseSpec(Envelope[PlatformHealthOut]), **errors(400, 403)},
    summary="This process's latency percentiles, error rates per route and uptime over a window (R20.4)",
    description=(
        "Counted in this process since it started, per route template. errorRate is 5xx ÷ requests; "
        "percentiles are within 2.5 %. The window counts whole minutes; beyond the last hour, whole hours "
        "at its old end. Errors: INVALID_WINDOW."
    ),
)
async def platform_health(
    request: Request[Any, Any, Any],
    window: Annotated[
        str | None,
        QueryParameter(name="windowSeconds", description=f"Whole seconds, 60 to {MAX_WINDOW_SECONDS}; default 900"),
    ] = None,
) -> Response[bytes]:
    metrics = metrics_of(request)
    seconds = _window(window, min(900, metrics.window_seconds), metrics.window_seconds)
    return ok(health_json(metrics.snapshot(time.time(), seconds)))


@get(
    "/metrics",
    guards=[api_guard],
    opt=allow(Role.ADMIN),
    include_in_schema=False,
    summary="Prometheus metrics of this process (admin token)",
)
async def prometheus_metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    body, content_type = metrics_of(request).render_prometheus()
    return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})
