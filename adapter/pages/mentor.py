"""`/mentor`: a mentor's own space (R1, R7.1, R13) — profile, photo, status, Cal.com link health,
statistics, and their sessions with cancel and reschedule under the 2-hour rule.

Sign-in exchanges a mentor token for a session cookie, as for administrators; every change is a
POST form with a CSRF token and goes through the same services (and validation) as the API.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath
from litestar.response import Redirect
from pydantic import ValidationError
from pydantic.alias_generators import to_camel

from adapter.auth import Principal, Role
from adapter.deps import availability_service, session_service
from adapter.guards import services_of
from adapter.pages.browser_session import check_csrf, csrf_token, session_principal, sign_in_routes
from adapter.pages.render import local_time, page, page_locale
from core.errors import InvalidInput, ThotisError
from core.i18n import translate
from thotis_ext.enums import AcademicField, CancelledBy
from thotis_ext.profiles.schemas import ProfileUpdate
from thotis_ext.profiles.service import ProfileService
from thotis_ext.sessions.service import Caller

ROLE = Role.MENTOR
PHOTO_BODY_LIMIT = 6 * 1024 * 1024
FIELDS = ("name", "email", "locale", "university", "degree", "field", "currentYear", "bio", "linkedInUrl")
#: How far ahead reschedule choices go.
RESCHEDULE_HORIZON = timedelta(days=7)


def _signed_out() -> Redirect:
    return Redirect("/mentor/login", status_code=303)


async def _space(request: Request[Any, Any, Any], principal: Principal, *, status: int = 200,
                 errors: dict[str, str] | None = None, values: dict[str, str] | None = None,
                 notice: str | None = None) -> Response[Any]:  # fmt: skip
    """The mentor's page, with what a failed form needs shown again."""
    services = services_of(request)
    locale = page_locale(request)
    async with services.database.session() as db:
        try:
            profile = msgspec.json.decode(await services.profile_reads.private_json(principal.sub))
        except ThotisError:
            profile = None
        sessions = session_service(services, db)
        upcoming = await sessions.of_mentor(principal.sub, upcoming=True)
        past = await sessions.of_mentor(principal.sub, upcoming=False)
        choices = await _reschedule_choices(request, principal.sub) if upcoming and profile else []
    now = services.clock.now()

    def when(iso: str) -> str:
        return local_time(iso, locale)

    for item in upcoming:
        start = datetime.fromisoformat(item["start"])
        item["changeable"] = item["status"] == "scheduled" and start - now >= timedelta(hours=2)
    shown = values or {key: _as_text(profile.get(key)) for key in FIELDS} if profile else (values or {})
    return page(
        "mentor.html",
        locale,
        status=status,
        mentor=principal.sub,
        profile=profile,
        values=shown,
        errors=errors or {},
        notice=notice,
        fields=[f.value for f in AcademicField],
        upcoming=upcoming,
        past=past[:20],
        choices=choices,
        when=when,
        csrf=csrf_token(request, ROLE),
    )


def _as_text(value: Any) -> str:
    return "" if value is None else str(value)


async def _reschedule_choices(request: Request[Any, Any, Any], mentor_id: str) -> list[str]:
    services = services_of(request)
    now = services.clock.now()
    try:
        availability = availability_service(services)
        slots = await availability.free_slots(mentor_id, None, now + RESCHEDULE_HORIZON)
    except ThotisError:
        return []  # Cal.com unreachable or the mentor unlinked: no choice offered, the page still works
    return [slot.start.isoformat() for slot in slots[:100]]


@get("/mentor", include_in_schema=False)
async def space(request: Request[Any, Any, Any]) -> Response[Any]:
    principal = await session_principal(request, ROLE)
    if principal is None:
        return _signed_out()
    notice = request.query_params.get("done")
    return await _space(request, principal, notice=f"page.mentor.done.{notice}" if notice in _DONE else None)


_DONE = {"profile", "photo", "status", "cancelled", "rescheduled"}


@post("/mentor/profile", include_in_schema=False, status_code=303)
async def save_profile(request: Request[Any, Any, Any]) -> Response[Any]:
    principal = await session_principal(request, ROLE)
    if principal is None:
        return _signed_out()
    await check_csrf(request, ROLE)
    form = await request.form()
    values = {key: str(form.get(key) or "").strip() for key in FIELDS}
    body: dict[str, Any] = {key: value or None for key, value in values.items()}
    body["currentYear"] = int(values["currentYear"]) if values["currentYear"].isdigit() else body["currentYear"]
    try:
        update = ProfileUpdate.model_validate(body)
    except ValidationError as exc:
        errors = {to_camel(str(error["loc"][0])): str(error["msg"]) for error in exc.errors() if error["loc"]}
        return await _space(request, principal, status=400, errors=errors, values=values)
    services = services_of(request)
    try:
        async with services.database.session() as db:
            profiles = ProfileService(db, services.cache, services.box, services.profile_config, services.linker)
            await profiles.update(principal.sub, update)
    except ThotisError as exc:
        return await _space(request, principal, status=exc.status_code, errors={"form": exc.message}, values=values)
    return Redirect("/mentor?done=profile", status_code=303)


@post("/mentor/photo", include_in_schema=False, status_code=303, request_max_body_size=PHOTO_BODY_LIMIT)
async def upload_photo(request: Request[Any, Any, Any]) -> Response[Any]:
    principal = await session_principal(request, ROLE)
    if principal is None:
        return _signed_out()
    await check_csrf(request, ROLE)
    upload = (await request.form()).get("photo")
    services = services_of(request)
    try:
        if not isinstance(upload, UploadFile):
            raise InvalidInput(translate("page.mentor.photo_missing", page_locale(request)), code="PHOTO_MISSING")
        async with services.database.session() as db:
            profiles = ProfileService(db, services.cache, services.box, services.profile_config)
            await profiles.set_photo(principal.sub, await upload.read())
    except ThotisError as exc:
        return await _space(request, principal, status=max(exc.status_code, 400), errors={"photo": exc.message})
    return Redirect("/mentor?done=photo#photo", status_code=303)


@post("/mentor/status", include_in_schema=False, status_code=303)
async def set_status(request: Request[Any, Any, Any]) -> Response[Any]:
    principal = await session_principal(request, ROLE)
    if principal is None:
        return _signed_out()
    await check_csrf(request, ROLE)
    active = (await request.form()).get("active") == "true"
    services = services_of(request)
    async with services.database.session() as db:
        await ProfileService(db, services.cache, services.box, services.profile_config).set_active(
            principal.sub, active
        )
    return Redirect("/mentor?done=status", status_code=303)


@post("/mentor/sessions/{uid:str}/cancel", include_in_schema=False, status_code=303)
async def cancel(uid: FromPath[str], request: Request[Any, Any, Any]) -> Response[Any]:
    principal = await session_principal(request, ROLE)
    if principal is None:
        return _signed_out()
    await check_csrf(request, ROLE)
    reason = str((await request.form()).get("reason") or "").strip()[:500] or None
    services = services_of(request)
    try:
        async with services.database.session() as db:
            sessions = session_service(services, db)
            await sessions.cancel(uid, Caller(principal.sub), reason=reason, cancelled_by=CancelledBy.MENTOR)
    except ThotisError as exc:
        return await _space(request, principal, status=max(exc.status_code, 400), errors={"sessions": exc.message})
    return Redirect("/mentor?done=cancelled#sessions", status_code=303)


@post("/mentor/sessions/{uid:str}/reschedule", include_in_schema=False, status_code=303)
async def reschedule(uid: FromPath[str], request: Request[Any, Any, Any]) -> Response[Any]:
    principal = await session_principal(request, ROLE)
    if principal is None:
        return _signed_out()
    await check_csrf(request, ROLE)
    chosen = str((await request.form()).get("start") or "")
    services = services_of(request)
    try:
        start = datetime.fromisoformat(chosen)
        async with services.database.session() as db:
            sessions = session_service(services, db)
            await sessions.reschedule(uid, Caller(principal.sub), start=start, reason=None)
    except ValueError:
        message = translate("page.mentor.choose_time", page_locale(request))
        return await _space(request, principal, status=400, errors={"sessions": message})
    except ThotisError as exc:
        return await _space(request, principal, status=max(exc.status_code, 400), errors={"sessions": exc.message})
    return Redirect("/mentor?done=rescheduled#sessions", status_code=303)


ROUTES = [*sign_in_routes(ROLE, "/mentor"), space, save_profile, upload_photo, set_status, cancel, reschedule]
