"""Rendering pages: one Jinja2 environment (autoescaped), the caller's language, the security headers."""

from __future__ import annotations

import functools
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import Request, Response

from adapter.pages.assets import asset_url
from core.i18n import negotiate, normalise_locale, translate

TEMPLATES = Path(__file__).parent / "templates"

#: No script, nothing from elsewhere, no framing: what these server-rendered pages need and no more.
PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": PAGE_CSP,
    "X-Content-Type-Options": "nosniff",
    # A rating page's URL is its capability: never hand it to another site in a Referer.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@functools.cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["asset_url"] = asset_url
    return env


#: Where pages show times when they do not know the reader's zone (Thotis is French).
DEFAULT_ZONE = "Europe/Paris"


def local_time(value: str | datetime, locale: str, zone: str | None = None) -> str:
    """An instant (ISO 8601 or aware datetime) as the reader reads it, in `zone` or Paris time."""
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    try:
        tzinfo = ZoneInfo(zone or DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        tzinfo = ZoneInfo(DEFAULT_ZONE)
    return format_datetime(instant, "medium", tzinfo=tzinfo, locale=locale)


def page_locale(request: Request[Any, Any, Any], preferred: str | None = None) -> str:
    """`?lang=` first, then what the page knows (a session's language), then Accept-Language."""
    asked = request.query_params.get("lang")
    if asked:
        return normalise_locale(asked)
    if preferred:
        return normalise_locale(preferred)
    return negotiate(request.headers.get("accept-language"), "fr")


def page(template: str, locale: str, *, status: int = 200, **context: Any) -> Response[str]:
    """Render `template` in `locale` with `t(key, **params)` for its strings."""

    def t(key: str, **params: Any) -> str:
        return translate(key, locale, **params)

    body = environment().get_template(template).render(locale=locale, t=t, **context)
    return Response(body, status_code=status, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)
