"""`/mentors`: the public mentor directory (R4, R18) — cards, filters, count, pages, empty state.

Server-rendered from the same cached list as the API, so it costs what a list request costs.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

import msgspec
from litestar import Request, Response, get

from adapter.guards import public_guard, services_of
from adapter.pages.render import local_time, page, page_locale
from thotis_ext import rules
from thotis_ext.enums import AcademicField
from thotis_ext.profiles.repository import ProfileFilters

PAGE_SIZE = 12
MAX_PAGE = 1000
#: Longest free text kept from the query string.
MAX_TEXT = 200


def _clean(value: str | None) -> str | None:
    """Free text from the query string: trimmed, capped, control characters refused (ignored)."""
    if not value or not value.strip() or rules.has_control_characters(value):
        return None
    return value.strip()[:MAX_TEXT]


def _page_number(value: str | None) -> int:
    try:
        return min(max(int(value or "1"), 1), MAX_PAGE)
    except ValueError:
        return 1


def _filters(request: Request[Any, Any, Any]) -> tuple[ProfileFilters, dict[str, str]]:
    """The filters asked for (unknown or malformed values are dropped, not errors: it is a page)."""
    query = request.query_params
    field = (query.get("field") or "").upper()
    chosen = {
        "field": field if field in AcademicField.__members__ else "",
        "university": _clean(query.get("university")) or "",
        "available": "1" if query.get("available") in ("1", "true", "on") else "",
        "q": _clean(query.get("q")) or "",
    }
    filters = ProfileFilters(
        field=chosen["field"] or None,
        university=chosen["university"] or None,
        available=True if chosen["available"] else None,
        text=chosen["q"] or None,
    )
    return filters, chosen


def _link(chosen: dict[str, str], locale: str, **changes: Any) -> str:
    params = {k: v for k, v in {**chosen, "lang": locale, **changes}.items() if v not in ("", None)}
    return "/mentors?" + urlencode(params)


def _card(item: dict[str, Any], locale: str) -> dict[str, Any]:
    next_at = item.get("nextAvailableAt")
    # In Paris time: the directory does not know the visitor's zone (the widget does).
    return {**item, "nextAvailable": local_time(next_at, locale) if next_at else None}


@get("/mentors", guards=[public_guard], include_in_schema=False)
async def directory(request: Request[Any, Any, Any]) -> Response[str]:
    services = services_of(request)
    locale = page_locale(request)
    filters, chosen = _filters(request)
    number = _page_number(request.query_params.get("page"))
    reads = services.profile_reads
    found = await reads.list_public(filters, page=number, page_size=PAGE_SIZE)
    universities = await reads.universities()
    items = [_card(item, locale) for item in msgspec.json.decode(found.items_json)]
    pages = max(1, math.ceil(found.total / PAGE_SIZE))
    return page(
        "directory.html",
        locale,
        mentors=items,
        total=found.total,
        page=number,
        pages=pages,
        chosen=chosen,
        fields=[f.value for f in AcademicField],
        universities=universities,
        previous_url=_link(chosen, locale, page=number - 1) if number > 1 else None,
        next_url=_link(chosen, locale, page=number + 1) if number < pages else None,
        clear_url=f"/mentors?lang={locale}",
        other_language_url=_link(chosen, "en" if locale == "fr" else "fr", page=number if number > 1 else ""),
    )


ROUTES = [directory]
