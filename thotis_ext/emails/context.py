"""Everything one email needs, frozen when it is queued so a retry days later says the same thing."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.i18n import normalise_locale
from thotis_ext.emails.kinds import EmailKind, Recipient

_DATETIME_FIELDS = ("start", "end", "previous_start", "previous_end")


@dataclass(frozen=True, kw_only=True)
class EmailContext:
    """The facts of one email to one recipient; stored as JSON in the outbox (`to_payload`).

    Datetimes are aware UTC (a naive one is taken as UTC); `locale` is normalised to fr or en and
    an unknown `time_zone` becomes UTC, so rendering never fails on what a user typed long ago.
    Session fields are optional because an admin alert is about no session.
    """

    kind: EmailKind
    recipient: Recipient
    to_email: str
    to_name: str = ""
    locale: str = "fr"
    #: IANA name of the zone times are shown in, for this recipient.
    time_zone: str = "UTC"
    session_uid: str | None = None
    #: The calendar event's UID: the first booking's, so a reschedule updates the same event.
    ics_uid: str | None = None
    ics_sequence: int = 0
    start: datetime | None = None
    end: datetime | None = None
    mentor_name: str | None = None
    student_name: str | None = None
    meet_url: str | None = None
    question: str | None = None
    mentor_university: str | None = None
    previous_start: datetime | None = None
    previous_end: datetime | None = None
    cancellation_reason: str | None = None
    #: "mentor" or "student" (also "admin" or "system", as `CancelledBy` says).
    cancelled_by: str | None = None
    rating_url: str | None = None
    alert_title: str | None = None
    alert_body: str | None = None

    def __post_init__(self) -> None:
        # Frozen: normalising in place is the only way to keep one canonical form per email.
        object.__setattr__(self, "locale", normalise_locale(self.locale))
        object.__setattr__(self, "time_zone", _known_zone(self.time_zone))
        for name in _DATETIME_FIELDS:
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _as_utc(value))

    @property
    def zone(self) -> ZoneInfo:
        """The recipient's time zone."""
        return ZoneInfo(self.time_zone)

    def to_payload(self) -> dict[str, Any]:
        """A JSON-ready dict: enums as their values, datetimes as ISO 8601 strings in UTC."""
        payload: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, Enum):
                value = value.value  # also a caller's StrEnum, such as CancelledBy
            payload[field.name] = value
        return payload

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> EmailContext:
        """The context `to_payload` wrote; unknown keys (from a newer version) are ignored.

        Raises:
            ValueError: the kind or recipient is unknown, or a datetime is not ISO 8601.
            TypeError: a required field is missing.
        """
        known = {field.name for field in dataclasses.fields(cls)}
        values = {name: value for name, value in payload.items() if name in known}
        if "kind" in values:
            values["kind"] = EmailKind(values["kind"])
        if "recipient" in values:
            values["recipient"] = Recipient(values["recipient"])
        for name in _DATETIME_FIELDS:
            if isinstance(values.get(name), str):
                values[name] = datetime.fromisoformat(values[name])
        return cls(**values)


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _known_zone(name: str | None) -> str:
    """`name` when it is a time zone this machine knows, else UTC."""
    if not name:
        return "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return "UTC"
    return name
