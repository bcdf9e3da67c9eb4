"""Platform statistics for administrators: /api/v2/platform/stats, /mentors, /export.csv (R20)."""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator
from datetime import date
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import QueryParameter
from pydantic import BaseModel
from typing_extensions import TypedDict

from adapter.auth import Role
from adapter.deps import unit_of_work
from adapter.envelope import Envelope, PageEnvelope, ok, ok_page
from adapter.guards import allow, services_of
from adapter.routes.docs import errors
from core.errors import InvalidInput
from thotis_ext.stats.csv_export import to_csv
from thotis_ext.stats.service import MAX_PAGE_SIZE, SORT_KEYS, PlatformStats, default_range

# ruff: noqa: N815  (JSON field names are camelCase)

Platform = NamedDependency[PlatformStats]
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
#: Sorting by a name reads best A→Z; by a number, best first.
_NATURAL_DESCENDING = {key: key != "name" for key in SORT_KEYS}


class TotalsOut(BaseModel):
    mentors: int
    activeMentors: int
    completedSessions: int
    scheduledSessions: int
    cancelledSessions: int
    mentorCancellations: int
    noShowSessions: int
    completionRate: float
    cancellationRate: float
    totalRatings: int
    averageRating: float | None


class TrendOut(BaseModel):
    period: str
    booked: int
    completed: int
    cancelled: int
    noShow: int


# Functional syntax: `from` is a Python keyword but the JSON field name clients use.
PlatformStatsOut = TypedDict(
    "PlatformStatsOut", {"granularity": str, "from": str, "to": str, "totals": TotalsOut, "trends": list[TrendOut]}
)


class PlatformMentorOut(BaseModel):
    userId: str
    name: str
    university: str | None
    field: str | None
    isActive: bool
    completedSessions: int
    scheduledSessions: int
    cancelledSessions: int
    mentorCancellations: int
    noShowSessions: int
    completionRate: float
    cancellationRate: float
    averageRating: float | None
    totalRatings: int


async def provide_platform(request: Request[Any, Any, Any]) -> AsyncGenerator[PlatformStats, None]:
    async for session in unit_of_work(request):
        yield PlatformStats(session)


_DEPENDENCIES = {"platform": Provide(provide_platform)}


def _date(value: str | None, name: str) -> date | None:
    """Raises:
    InvalidInput (INVALID_DATE): not a calendar date written YYYY-MM-DD.
    """
    if value is None:
        return None
    try:
        if _ISO_DATE.fullmatch(value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise InvalidInput(f"{name} must be a date written YYYY-MM-DD.", code="INVALID_DATE", details={"field": name})


def _descending(order: str | None, sort: str) -> bool:
    """Raises:
    InvalidInput (INVALID_ORDER): neither asc nor desc.
    """
    if order is None:
        return _NATURAL_DESCENDING.get(sort, True)
    if order not in ("asc", "desc"):
        raise InvalidInput("order must be asc or desc.", code="INVALID_ORDER", details={"allowed": ["asc", "desc"]})
    return order == "desc"


@get(
    "/platform/stats",
    opt=allow(Role.ADMIN),
    tags=["platform"],
    dependencies=_DEPENDENCIES,
    responses={200: ResponseSpec(Envelope[PlatformStatsOut]), **errors(400, 403)},
    summary="Platform totals and session trends per day, ISO week or month (R20.1, R20.2)",
    description=(
        "Totals are sums of every mentor's counters. Trends count sessions by their UTC start; the "
        "range is widened to whole periods and every period is listed, even when empty. "
        "Errors: INVALID_GRANULARITY, INVALID_DATE, INVALID_RANGE (to before from, or more than "
        "366 days / 260 weeks / 120 months)."
    ),
)
async def platform_stats(
    platform: Platform,
    request: Request[Any, Any, Any],
    granularity: Annotated[str, QueryParameter(description="day, week or month")] = "month",
    start: Annotated[str | None, QueryParameter(name="from", description="YYYY-MM-DD; default 11 months back")] = None,
    end: Annotated[str | None, QueryParameter(name="to", description="YYYY-MM-DD; default today (UTC)")] = None,
) -> Response[bytes]:
    upper = _date(end, "to") or services_of(request).clock.now().date()
    lower = _date(start, "from") or default_range(upper)[0]
    return ok(await platform.totals_and_trends(granularity, lower, upper))


@get(
    "/platform/mentors",
    opt=allow(Role.ADMIN),
    tags=["platform"],
    dependencies=_DEPENDENCIES,
    responses={200: ResponseSpec(PageEnvelope[PlatformMentorOut]), **errors(400, 403)},
    summary="Every mentor with completion rate, cancellation rate and average rating (R20.3)",
    description=(
        f"sort: one of {', '.join(SORT_KEYS)}; order: asc or desc (default: A→Z for name, highest "
        "first otherwise). Ties go by user id; mentors without ratings come last. "
        "Errors: INVALID_SORT, INVALID_ORDER, VALIDATION_ERROR (page, pageSize)."
    ),
)
async def platform_mentors(
    platform: Platform,
    sort: Annotated[str, QueryParameter(description="Sort key")] = "completionRate",
    order: Annotated[str | None, QueryParameter(description="asc or desc")] = None,
    page: Annotated[int, QueryParameter(ge=1, le=10_000, description="1-based page")] = 1,
    page_size: Annotated[int, QueryParameter(name="pageSize", ge=1, le=MAX_PAGE_SIZE)] = 50,
) -> Response[bytes]:
    items, total = await platform.mentors(sort, _descending(order, sort), page, page_size)
    return ok_page(msgspec.json.encode(items), total=total, page=page, page_size=page_size)


@get(
    "/platform/export.csv",
    opt=allow(Role.ADMIN),
    tags=["platform"],
    dependencies=_DEPENDENCIES,
    responses={
        200: ResponseSpec(str, media_type="text/csv", description="RFC 4180 CSV, UTF-8 with BOM, with a header"),
        **errors(400, 403),
    },
    summary="Download a report as CSV: mentors, sessions or ratings (R20.5)",
    description=(
        "Sessions carry no prospective-student name or e-mail. Cells that a spreadsheet would run "
        "as a formula (starting with = + - @, tab or CR) are prefixed with an apostrophe. "
        "Errors: INVALID_REPORT."
    ),
)
async def platform_export(
    platform: Platform,
    report: Annotated[str, QueryParameter(description="mentors, sessions or ratings")],
) -> Response[bytes]:
    header, rows = await platform.export_rows(report)  # INVALID_REPORT before `report` reaches a header
    return Response(
        to_csv(header, rows),
        media_type="text/csv",  # Litestar appends "; charset=utf-8" to text/* types
        headers={
            "Content-Disposition": f'attachment; filename="thotis-{report}.csv"',
            "Cache-Control": "no-store",
        },
    )
