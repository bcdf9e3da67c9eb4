"""`/rate/{token}`: the prospective student rates a session from the emailed link (R19).

The token is the capability (role `rating`, subject = the session): no sign-in, no cookie, so no
cross-site request can rate without it. The page works without JavaScript: a plain form.
"""

from __future__ import annotations

from typing import Any

from babel.dates import format_date, format_time
from litestar import Request, Response, get, post
from litestar.params import FromPath
from pydantic import ValidationError

from adapter.auth import Role, TokenExpired
from adapter.guards import public_guard, services_of
from adapter.pages.render import page, page_locale
from core.errors import BusinessRuleViolation, Unauthenticated
from thotis_ext.ratings.schemas import RatingCreate
from thotis_ext.ratings.service import RatingExists, RatingPhase, RatingService, RatingState
from thotis_ext.sessions.service import SessionNotFound

TEMPLATE = "rate.html"
#: HTTP status of each page state; the page itself explains in words.
STATUS = {
    RatingPhase.OPEN: 200,
    RatingPhase.RATED: 409,
    RatingPhase.NOT_ENDED: 409,
    RatingPhase.NOT_RATEABLE: 409,
}


async def _session_of(request: Request[Any, Any, Any], token: str) -> str | Response[str]:
    """The session uid the link names, or the page that says why the link does not work."""
    locale = page_locale(request)
    try:
        principal = await services_of(request).verifier.verify(token)
    except TokenExpired:
        return page(TEMPLATE, locale, status=410, phase="expired")
    except Unauthenticated:
        return page(TEMPLATE, locale, status=400, phase="invalid")
    if principal.role is not Role.RATING:
        return page(TEMPLATE, locale, status=400, phase="invalid")
    return principal.sub


async def _state(request: Request[Any, Any, Any], uid: str) -> RatingState | None:
    services = services_of(request)
    async with services.database.session() as db:
        try:
            return await RatingService(db, services.cache, services.clock).state(uid)
        except SessionNotFound:
            return None


def _show(request: Request[Any, Any, Any], state: RatingState, *, status: int | None = None,
          **context: Any) -> Response[str]:  # fmt: skip
    locale = page_locale(request, state.language)
    day = format_date(state.start.astimezone(state.zone), "full", locale=locale)
    when = f"{day}, {format_time(state.start, 'short', tzinfo=state.zone, locale=locale)} ({state.zone.key})"
    context.setdefault("errors", {})
    context.setdefault("feedback", "")
    return page(
        TEMPLATE,
        locale,
        status=status or STATUS[state.phase],
        phase=state.phase.value,
        mentor=state.mentor_name,
        when=when,
        rating=state.rating,
        **context,
    )


@get("/rate/{token:str}", guards=[public_guard], include_in_schema=False)
async def rating_page(token: FromPath[str], request: Request[Any, Any, Any]) -> Response[str]:
    uid = await _session_of(request, token)
    if isinstance(uid, Response):
        return uid
    state = await _state(request, uid)
    if state is None:
        return page(TEMPLATE, page_locale(request), status=404, phase="invalid")
    return _show(request, state)


@post("/rate/{token:str}", guards=[public_guard], include_in_schema=False, status_code=200)
async def submit_rating(token: FromPath[str], request: Request[Any, Any, Any]) -> Response[str]:
    uid = await _session_of(request, token)
    if isinstance(uid, Response):
        return uid
    state = await _state(request, uid)
    if state is None:
        return page(TEMPLATE, page_locale(request), status=404, phase="invalid")
    form = await request.form()
    stars, feedback = str(form.get("rating") or ""), str(form.get("feedback") or "")
    errors = {}
    if stars not in {"1", "2", "3", "4", "5"}:
        errors["rating"] = "page.rate.error.rating"
    try:
        data = RatingCreate.model_validate({"rating": int(stars) if not errors else 1, "feedback": feedback or None})
    except ValidationError:
        errors["feedback"] = "page.rate.error.feedback"
    if errors:
        return _show(request, state, status=400, errors=errors, feedback=feedback)
    services = services_of(request)
    try:
        async with services.database.session() as db:
            await RatingService(db, services.cache, services.clock).rate(uid, data)
    except RatingExists:
        state = await _state(request, uid) or state
        return _show(request, state)
    except BusinessRuleViolation:
        return _show(request, await _state(request, uid) or state)
    return _show(request, await _state(request, uid) or state, status=200, thanks=True)


ROUTES = [rating_page, submit_rating]
