"""`/widget/{mentorId}` and `/embed.js`: the booking widget a Thotis page embeds (R9, R15).

The page is server-rendered (profile card, prefilled form, all user text escaped) and carries a
short-lived widget token for that mentor; `widget.js` (a static, content-hashed file: no inline
script) loads the slots and books through the API with it, and tells the parent page what
happened with postMessage, addressed to the configured Thotis origins only.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import msgspec
from litestar import Request, Response, get
from litestar.params import FromPath

from adapter.guards import public_guard, services_of
from adapter.pages.render import local_time, page, page_locale
from core.errors import NotFound
from core.i18n import translate
from core.settings import Environment
from core.tokens import Role, mint_token
from thotis_ext.profiles.service import InvalidUserId, ProfileNotFound, check_user_id

#: A widget token lives this long; reloading the page gets a new one.
WIDGET_TOKEN_SECONDS = 30 * 60
EMBED_JS = Path(__file__).parent / "embed" / "embed.js"
#: Strings widget.js shows, by key, in the page's language.
SCRIPT_STRINGS = (
    "loading", "no_slots", "choose_slot", "chosen", "booking", "booked", "meet", "calendar",
    "error.generic", "error.SLOT_UNAVAILABLE", "error.VALIDATION_ERROR", "error.CONSENT_REQUIRED",
    "error.PARENTAL_CONSENT_REQUIRED", "error.BOOKING_TOO_SOON", "error.RATE_LIMITED", "error.CALCOM_UNAVAILABLE",
    "error.NETWORK", "summary",
)  # fmt: skip


def widget_csp(origins: list[str]) -> str:
    """Scripts and calls only from here; framed only by the Thotis origins."""
    ancestors = " ".join(origins) or "'none'"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        f"form-action 'self'; frame-ancestors {ancestors}; base-uri 'none'"
    )


def _prefill(request: Request[Any, Any, Any]) -> dict[str, str]:
    """`name`, `email`, `language` and `timeZone` from the URL (escaped when rendered, capped here)."""
    query = request.query_params
    return {key: (query.get(key) or "")[:200] for key in ("name", "email", "timeZone")}


@get("/widget/{mentor_id:str}", guards=[public_guard], include_in_schema=False)
async def widget(mentor_id: FromPath[str], request: Request[Any, Any, Any]) -> Response[str]:
    services = services_of(request)
    settings = services.settings
    locale = page_locale(request, request.query_params.get("language"))
    prefill = _prefill(request)
    try:
        check_user_id(mentor_id)
        profile = msgspec.json.decode(await services.profile_reads.public_json(mentor_id))
    except (ProfileNotFound, InvalidUserId):
        return page("widget.html", locale, status=404, mentor=None, data={}, prefill={}, next_available=None)
    token = mint_token(
        settings.jwt_secret.get_secret_value(),
        settings.jwt_audience,
        role=Role.WIDGET,
        sub=mentor_id,
        ttl_seconds=WIDGET_TOKEN_SECONDS,
    )
    data = {
        "mentorId": mentor_id,
        "token": token,
        "origins": settings.allowed_origins,
        "locale": locale,
        "timeZone": prefill["timeZone"],
        "strings": {key: translate(f"page.widget.{key}", locale) for key in SCRIPT_STRINGS},
    }
    next_at = profile.get("nextAvailableAt")
    response = page(
        "widget.html", locale, mentor=profile, prefill=prefill, data=data,
        next_available=local_time(next_at, locale, prefill["timeZone"]) if next_at else None,
    )  # fmt: skip
    response.headers["Content-Security-Policy"] = widget_csp(settings.allowed_origins)
    return response


@functools.cache
def _embed_js() -> bytes:
    return EMBED_JS.read_bytes()  # read once, not on every host page view


@get("/embed.js", include_in_schema=False)
async def embed_script() -> Response[bytes]:
    """The host pages' snippet: one <script> tag plus an element with `data-thotis-mentor`."""
    return Response(
        _embed_js(),
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
    )


DEMO_SNIPPET = (
    '<div data-thotis-mentor="{mentor}" data-language="fr" data-time-zone="Europe/Paris"></div>\n'
    '<script src="{base}/embed.js" defer></script>'
)


@get("/demo/host", guards=[public_guard], include_in_schema=False)
async def demo_host(request: Request[Any, Any, Any]) -> Response[str]:
    """A stand-in for a Thotis web page, embedding the widget with the documented snippet (demo only)."""
    settings = services_of(request).settings
    if settings.env is not Environment.DEMO:
        raise NotFound("No such page.", code="NOT_FOUND")
    mentor = request.query_params.get("mentor") or "demo-mentor-01"
    locale = page_locale(request)
    snippet = DEMO_SNIPPET.format(mentor=mentor, base=settings.base_url)
    response = page("demo_host.html", locale, mentor=mentor, snippet=snippet)
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; frame-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    return response


ROUTES = [widget, embed_script, demo_host]
