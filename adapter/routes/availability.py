"""Free 15-minute slots of a mentor: /api/v2/students/{id}/availability (R5.1, R8.2)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, QueryParameter
from pydantic import BaseModel

from adapter.auth import Role
from adapter.envelope import Envelope, ok_json
from adapter.guards import allow
from adapter.routes.docs import errors
from core.errors import InvalidInput
from thotis_ext.availability import AvailabilityService

MAX_RANGE = timedelta(days=31)


class SlotOut(BaseModel):
    start: str
    end: str


def _instant(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidInput(
            f"{name} must be an ISO 8601 date-time with an offset, e.g. 2026-12-01T09:00:00+01:00.",
            code="INVALID_DATETIME",
            details={"field": name},
        )
    return moment


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"Unknown time zone {name[:64]!r}; use an IANA name such as Europe/Paris.", code="INVALID_TIME_ZONE"
        ) from None


@get(
    "/students/{user_id:str}/availability",
    opt=allow(Role.SERVICE, Role.ADMIN, owner=(Role.WIDGET, Role.MENTOR)),
    tags=["students"],
    summary="Free 15-minute slots between start and end, clipped to now+2 h … now+30 days (R5.1)",
    responses={
        200: ResponseSpec(Envelope[list[SlotOut]], description="Slots in the requested time zone, ascending"),
        **errors(400, 403, 404, 409, 502, 504),
    },
)
async def availability(
    user_id: FromPath[str],
    availability: NamedDependency[AvailabilityService],
    start: Annotated[str | None, QueryParameter(description="ISO 8601 with offset; default now + 2 h")] = None,
    end: Annotated[str | None, QueryParameter(description="ISO 8601 with offset; default now + 30 days")] = None,
    time_zone: Annotated[str, QueryParameter(name="timeZone", description="IANA zone of the answer")] = "UTC",
) -> Response[bytes]:
    zone = _zone(time_zone)
    lower, upper = _instant(start, "start"), _instant(end, "end")
    if lower is not None and upper is not None and (upper <= lower or upper - lower > MAX_RANGE):
        raise InvalidInput("end must be after start, at most 31 days later.", code="INVALID_RANGE")
    return ok_json(await availability.free_slots_json(user_id, lower, upper, zone))
