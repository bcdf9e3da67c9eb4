"""Input shapes of booking requests (SPEC.md §3), camelCase in JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, StringConstraints
from pydantic.alias_generators import to_camel

from thotis_ext.enums import CancelledBy, Locale
from thotis_ext.profiles.schemas import Flag, Printable, exactly


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("must be an IANA time zone such as Europe/Paris") from None
    return value


TimeZoneName = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_zone)]
PersonName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), Printable]
Question = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000), Printable]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500), Printable]


class _Body(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, extra="forbid", str_max_length=5000)


class ProspectiveStudent(_Body):
    """The high-school pupil who books (R5.2, R14.4)."""

    name: PersonName
    email: EmailStr
    time_zone: TimeZoneName
    language: Locale = Locale.FR
    question: Question | None = None
    is_minor: Flag = False
    parent_email: EmailStr | None = None
    parental_consent: Flag = False


class BookingCreate(_Body):
    """Body of POST /bookings."""

    mentor_id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    start: AwareDatetime = Field(description="ISO 8601 with an offset")
    duration_minutes: Annotated[int, exactly(int, "a whole number")] | None = Field(
        None, description="Optional; must be 15"
    )
    consent: Flag = Field(description="Explicit consent to data processing (R14.1); must be true")
    prospective_student: ProspectiveStudent


class BookingReschedule(_Body):
    """Body of PATCH /bookings/{uid}/reschedule."""

    start: AwareDatetime = Field(description="The new start, ISO 8601 with an offset")
    reason: Reason | None = None


class BookingCancel(_Body):
    """Optional body of DELETE /bookings/{uid}."""

    reason: Reason | None = None
    cancelled_by: CancelledBy | None = None


def as_utc(moment: datetime) -> datetime:
    return moment.astimezone(ZoneInfo("UTC"))
