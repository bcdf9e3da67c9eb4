"""Request-side values: what callers hand the client, checked before anything is sent.

Checking here what Cal.com would reject anyway (metadata limits, naive datetimes, unknown webhook
triggers) turns a round trip and an opaque 400 into an immediate ``ValueError`` naming the mistake.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

METADATA_MAX_KEYS = 50
METADATA_MAX_KEY_LENGTH = 40
METADATA_MAX_VALUE_LENGTH = 500

MetadataValue = str | int | float | bool

GOOGLE_MEET: Mapping[str, str] = {"type": "integration", "integration": "google-meet"}
"""The event-type (and booking) location that gives each booking a Google Meet link (contract §3)."""


class WebhookTrigger(enum.StrEnum):
    """Cal.com's ``WebhookTriggerEvents`` (contract §8.1); the only values a subscription accepts."""

    BOOKING_CREATED = "BOOKING_CREATED"
    BOOKING_PAYMENT_INITIATED = "BOOKING_PAYMENT_INITIATED"
    BOOKING_PAID = "BOOKING_PAID"
    BOOKING_RESCHEDULED = "BOOKING_RESCHEDULED"
    BOOKING_REQUESTED = "BOOKING_REQUESTED"
    BOOKING_CANCELLED = "BOOKING_CANCELLED"
    BOOKING_REJECTED = "BOOKING_REJECTED"
    BOOKING_NO_SHOW_UPDATED = "BOOKING_NO_SHOW_UPDATED"
    FORM_SUBMITTED = "FORM_SUBMITTED"
    MEETING_ENDED = "MEETING_ENDED"
    MEETING_STARTED = "MEETING_STARTED"
    RECORDING_READY = "RECORDING_READY"
    INSTANT_MEETING = "INSTANT_MEETING"
    RECORDING_TRANSCRIPTION_GENERATED = "RECORDING_TRANSCRIPTION_GENERATED"
    OOO_CREATED = "OOO_CREATED"
    AFTER_HOSTS_CAL_VIDEO_NO_SHOW = "AFTER_HOSTS_CAL_VIDEO_NO_SHOW"
    AFTER_GUESTS_CAL_VIDEO_NO_SHOW = "AFTER_GUESTS_CAL_VIDEO_NO_SHOW"
    FORM_SUBMITTED_NO_EVENT = "FORM_SUBMITTED_NO_EVENT"


class BookingStatusFilter(enum.StrEnum):
    """Values of the ``status`` filter of ``GET /v2/bookings`` (not the booking's own status)."""

    UPCOMING = "upcoming"
    RECURRING = "recurring"
    PAST = "past"
    CANCELLED = "cancelled"
    UNCONFIRMED = "unconfirmed"


@dataclass(frozen=True, slots=True)
class Attendee:
    """The person booking (``CreateBookingAttendee``); ``language`` is Cal.com's locale code (``fr``, ``en``…)."""

    name: str
    email: str
    time_zone: str
    language: str | None = None

    def to_json(self) -> dict[str, str]:
        body = {"name": self.name, "email": self.email, "timeZone": self.time_zone}
        if self.language:
            body["language"] = self.language
        return body


@dataclass(frozen=True, slots=True)
class BookingFilter:
    """Filters of ``GET /v2/bookings``; all combine with AND, unset ones are not sent.

    ``after_updated_at`` is what the reconciliation job needs (contract §11: webhooks are at most once).
    """

    status: Sequence[BookingStatusFilter] = ()
    event_type_ids: Sequence[int] = ()
    attendee_email: str | None = None
    booking_uid: str | None = None
    after_start: datetime | None = None
    before_end: datetime | None = None
    after_created_at: datetime | None = None
    before_created_at: datetime | None = None
    after_updated_at: datetime | None = None
    before_updated_at: datetime | None = None
    sort_start: Literal["asc", "desc"] | None = None
    sort_updated_at: Literal["asc", "desc"] | None = None

    def to_params(self) -> dict[str, str]:
        """Query parameters as the document names them; lists are comma-separated (contract §12.6)."""
        params: dict[str, str | None] = {
            "status": ",".join(BookingStatusFilter(value).value for value in self.status) or None,
            "eventTypeIds": ",".join(str(int(value)) for value in self.event_type_ids) or None,
            "attendeeEmail": self.attendee_email,
            "bookingUid": self.booking_uid,
            "afterStart": _optional_iso(self.after_start),
            "beforeEnd": _optional_iso(self.before_end),
            "afterCreatedAt": _optional_iso(self.after_created_at),
            "beforeCreatedAt": _optional_iso(self.before_created_at),
            "afterUpdatedAt": _optional_iso(self.after_updated_at),
            "beforeUpdatedAt": _optional_iso(self.before_updated_at),
            "sortStart": self.sort_start,
            "sortUpdatedAt": self.sort_updated_at,
        }
        return {key: value for key, value in params.items() if value is not None}


@dataclass(frozen=True, slots=True)
class EventTypeFields:
    """Fields of an event type to create or update; unset ones are not sent.

    Create needs ``title``, ``slug`` and ``length_in_minutes``; update sends only what is set.
    ``booking_window_days`` becomes a rolling calendar-days window; ``extra`` carries any other
    documented ``CreateEventTypeInput_2024_06_14`` field as given (Cal.com silently drops unknown ones).
    """

    title: str | None = None
    slug: str | None = None
    length_in_minutes: int | None = None
    description: str | None = None
    locations: Sequence[Mapping[str, Any]] | None = None
    minimum_booking_notice: int | None = None
    slot_interval: int | None = None
    before_event_buffer: int | None = None
    after_event_buffer: int | None = None
    booking_window_days: int | None = None
    extra: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        body = compact(
            {
                "title": self.title,
                "slug": self.slug,
                "lengthInMinutes": self.length_in_minutes,
                "description": self.description,
                "locations": None if self.locations is None else [dict(location) for location in self.locations],
                "minimumBookingNotice": self.minimum_booking_notice,
                "slotInterval": self.slot_interval,
                "beforeEventBuffer": self.before_event_buffer,
                "afterEventBuffer": self.after_event_buffer,
                "bookingWindow": (
                    None
                    if self.booking_window_days is None
                    else {"type": "calendarDays", "value": self.booking_window_days, "rolling": True}
                ),
            }
        )
        body.update(self.extra or {})
        return body


def webhook_body(
    subscriber_url: str, triggers: Sequence[WebhookTrigger], secret: str | None, active: bool
) -> dict[str, Any]:
    """``CreateWebhookInputDto``: ``triggers`` is an array of the enum (contract §6, §12.3).

    No ``payloadTemplate``: a template changes the body (and content type) Cal.com signs (§8.2).

    Raises:
        ValueError: no trigger, or one that is not a Cal.com trigger.
    """
    if not triggers:
        raise ValueError("a webhook needs at least one trigger")
    chosen = [WebhookTrigger(trigger).value for trigger in triggers]
    return compact({"subscriberUrl": subscriber_url, "triggers": chosen, "active": active, "secret": secret})


def utc_iso(moment: datetime) -> str:
    """``moment`` as the UTC ISO 8601 string Cal.com expects (``2025-01-31T09:00:00Z``).

    Raises:
        ValueError: ``moment`` is naive; Cal.com would read it as UTC, which is rarely what was meant.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("Cal.com times must be timezone-aware")
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds" if moment.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def _optional_iso(moment: datetime | None) -> str | None:
    return None if moment is None else utc_iso(moment)


def check_metadata(metadata: Mapping[str, MetadataValue]) -> dict[str, MetadataValue]:
    """Return ``metadata`` as a dict if Cal.com will accept it.

    Raises:
        ValueError: more than 50 keys, a key over 40 characters, a string value over 500 characters,
            or a value that is not a string, number or boolean.
    """
    if len(metadata) > METADATA_MAX_KEYS:
        raise ValueError(f"booking metadata has {len(metadata)} keys; Cal.com allows {METADATA_MAX_KEYS}")
    checked: dict[str, MetadataValue] = {}
    for key, value in metadata.items():
        if len(key) > METADATA_MAX_KEY_LENGTH:
            raise ValueError(f"booking metadata key {key!r} is longer than {METADATA_MAX_KEY_LENGTH} characters")
        if not isinstance(value, str | int | float | bool):
            raise ValueError(f"booking metadata value for {key!r} must be a string, number or boolean")
        if isinstance(value, str) and len(value) > METADATA_MAX_VALUE_LENGTH:
            raise ValueError(
                f"booking metadata value for {key!r} is longer than {METADATA_MAX_VALUE_LENGTH} characters"
            )
        checked[key] = value
    return checked


def compact(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Drop the ``None`` values, so only what the caller set is sent (PATCH semantics, defaults kept)."""
    return {key: value for key, value in fields.items() if value is not None}
