"""GDPR for administrators (R14.2, R14.3): export everything held about an email, erase it."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, delete, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, QueryParameter

from adapter.auth import Role
from adapter.envelope import Envelope, ok
from adapter.guards import allow, services_of
from adapter.routes.docs import errors
from core.errors import InvalidInput
from thotis_ext.privacy import erase_subject, export_subject
from webhooks_in.privacy import forget_raw_events


def _email(value: str) -> str:
    """Raises:
    InvalidInput (INVALID_EMAIL): not something an email address could be.
    """
    value = value.strip()
    if not 3 <= len(value) <= 320 or "@" not in value or any(ord(c) < 32 for c in value):
        raise InvalidInput("Give the person's email address.", code="INVALID_EMAIL")
    return value


@get(
    "/privacy/export",
    opt=allow(Role.ADMIN),
    tags=["privacy"],
    responses={200: ResponseSpec(Envelope[dict[str, Any]]), **errors(400, 403)},
    summary="Everything held about an email: sessions, ratings, mentor profile, emails (R14.2)",
)
async def privacy_export(
    request: Request[Any, Any, Any], email: Annotated[str, QueryParameter(max_length=320)]
) -> Response[bytes]:
    async with services_of(request).database.session() as db:
        return ok(await export_subject(db, _email(email)))


@delete(
    "/privacy/subjects/{email:str}",
    opt=allow(Role.ADMIN),
    tags=["privacy"],
    status_code=200,
    responses={200: ResponseSpec(Envelope[dict[str, int]]), **errors(400, 403)},
    summary="Erase a person: personal data removed or anonymised, statistics unchanged (R14.3)",
    description="Also erase the person in Cal.com: bookings there still hold their name and email.",
)
async def privacy_erase(email: FromPath[str], request: Request[Any, Any, Any]) -> Response[bytes]:
    address = _email(email)
    services = services_of(request)
    async with services.database.session() as db:
        counts, uids = await erase_subject(db, services.cache, address)
        counts["calcomEvents"] = await forget_raw_events(db, uids, address)
    return ok(counts)
