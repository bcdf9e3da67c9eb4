"""`/admin`: the administrators' dashboard (R20) — the platform at a glance, and the few actions
an administrator takes: resolve a low rating, redeliver a webhook, export CSV.

Sign-in exchanges an admin token for a session cookie (adapter.pages.browser_session); every
change is a POST form with a CSRF token. Figures come from the same services as the API.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from adapter.auth import Role
from adapter.guards import services_of
from adapter.pages.browser_session import check_csrf, csrf_token, session_principal, sign_in_routes
from adapter.pages.charts import bar_chart
from adapter.pages.render import page, page_locale
from core.errors import NotFound
from core.i18n import translate
from core.settings import Environment
from jobs.runlog import all_runs
from thotis_ext.ratings.service import RatingService
from thotis_ext.stats.csv_export import to_csv
from thotis_ext.stats.service import SORT_KEYS, PlatformStats
from webhooks_out.endpoints import EndpointService, UrlPolicy

GRANULARITIES = ("day", "week", "month")
#: How far back each granularity's trend goes.
TREND_SPAN = {"day": 30, "week": 7 * 12, "month": 365}
REPORTS = ("mentors", "sessions", "ratings")
ROLE = Role.ADMIN


def _signed_out() -> Redirect:
    return Redirect("/admin/login", status_code=303)


@get("/admin", include_in_schema=False)
async def dashboard(request: Request[Any, Any, Any]) -> Response[Any]:
    principal = await session_principal(request, ROLE)
    if principal is None:
        return _signed_out()
    services = services_of(request)
    locale = page_locale(request)
    granularity = request.query_params.get("granularity", "month")
    granularity = granularity if granularity in GRANULARITIES else "month"
    sort = request.query_params.get("sort", "completionRate")
    sort = sort if sort in SORT_KEYS else "completionRate"
    descending = request.query_params.get("order", "desc") != "asc"
    today = services.clock.now().date()
    async with services.database.session() as db:
        stats = PlatformStats(db)
        overview = await stats.totals_and_trends(granularity, today - timedelta(days=TREND_SPAN[granularity]), today)
        fields = await stats.field_distribution()
        mentors, mentor_total = await stats.mentors(sort, descending, 1, 100)
        reviews = await RatingService(db, services.cache, services.clock).review_queue()
        endpoints = await EndpointService(db, services.box, services.clock, _policy(request)).all()
    runs = await all_runs(services.database)
    metrics = request.app.state.metrics
    health = metrics.snapshot(time.time(), 900)

    def t(key: str, **params: Any) -> str:
        return translate(key, locale, **params)

    trends = overview["trends"]
    trend_chart = bar_chart(
        t("page.admin.trends"),
        [row["period"] for row in trends],
        [
            (t("page.admin.booked"), [row["booked"] for row in trends]),
            (t("page.admin.completed"), [row["completed"] for row in trends]),
            (t("page.admin.cancelled"), [row["cancelled"] for row in trends]),
        ],
    )
    field_chart = bar_chart(
        t("page.admin.fields"),
        [t(f"field.{row['field']}") for row in fields],
        [(t("page.admin.mentors"), [row["mentors"] for row in fields]),
         (t("page.admin.completed"), [row["completedSessions"] for row in fields])],
    )  # fmt: skip
    return page(
        "admin.html",
        locale,
        admin=principal.sub,
        csrf=csrf_token(request, ROLE),
        totals=overview["totals"],
        trends=trends,
        granularity=granularity,
        granularities=GRANULARITIES,
        trend_chart=trend_chart,
        fields=fields,
        field_chart=field_chart,
        mentors=mentors,
        mentor_total=mentor_total,
        sort=sort,
        descending=descending,
        sort_keys=("name", "completionRate", "cancellationRate", "averageRating", "completedSessions"),
        reviews=reviews,
        endpoints=endpoints,
        runs=runs,
        health=health,
        reports=REPORTS,
    )


def _policy(request: Request[Any, Any, Any]) -> UrlPolicy:
    return UrlPolicy(production=services_of(request).settings.env is Environment.PRODUCTION)


@get("/admin/export/{name:str}", include_in_schema=False)
async def export(name: FromPath[str], request: Request[Any, Any, Any]) -> Response[Any]:
    if await session_principal(request, ROLE) is None:
        return _signed_out()
    report = name.removesuffix(".csv")
    if report not in REPORTS:
        raise NotFound("No such report.", code="INVALID_REPORT")
    async with services_of(request).database.session() as db:
        header, rows = await PlatformStats(db).export_rows(report)
    return Response(
        to_csv(header, rows),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="thotis-{report}.csv"', "Cache-Control": "no-store"},
    )


@post("/admin/reviews/{rating_id:int}/resolve", include_in_schema=False, status_code=303)
async def resolve_review(rating_id: FromPath[int], request: Request[Any, Any, Any]) -> Response[Any]:
    if await session_principal(request, ROLE) is None:
        return _signed_out()
    await check_csrf(request, ROLE)
    services = services_of(request)
    async with services.database.session() as db:
        await RatingService(db, services.cache, services.clock).resolve(rating_id)
    return Redirect("/admin#reviews", status_code=303)


@get("/admin/webhooks/{endpoint_id:str}", include_in_schema=False)
async def deliveries(endpoint_id: FromPath[str], request: Request[Any, Any, Any]) -> Response[Any]:
    if await session_principal(request, ROLE) is None:
        return _signed_out()
    services = services_of(request)
    async with services.database.session() as db:
        log = await EndpointService(db, services.box, services.clock, _policy(request)).deliveries(endpoint_id)
    return page(
        "admin_deliveries.html", page_locale(request), endpoint_id=endpoint_id, deliveries=log,
        csrf=csrf_token(request, ROLE),
    )  # fmt: skip


@post("/admin/webhooks/{endpoint_id:str}/deliveries/{delivery_id:int}/redeliver", include_in_schema=False,
      status_code=303)  # fmt: skip
async def redeliver(
    endpoint_id: FromPath[str], delivery_id: FromPath[int], request: Request[Any, Any, Any]
) -> Response[Any]:
    if await session_principal(request, ROLE) is None:
        return _signed_out()
    await check_csrf(request, ROLE)
    services = services_of(request)
    async with services.database.session() as db:
        await EndpointService(db, services.box, services.clock, _policy(request)).redeliver(endpoint_id, delivery_id)
    return Redirect(f"/admin/webhooks/{endpoint_id}", status_code=303)


ROUTES = [*sign_in_routes(ROLE, "/admin"), dashboard, export, resolve_review, deliveries, redeliver]
