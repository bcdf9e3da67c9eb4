"""Response models: only the fields the sidecar reads, tolerant of everything else.

Cal.com adds fields between versions and the OpenAPI document is loose in places (contract §12), so
every model ignores unknown fields, accepts camelCase (the wire) or snake_case (Python) names, and
types optional or loosely documented fields as optional. Times are parsed as aware datetimes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel


class CalcomModel(BaseModel):
    """Base of every response model: camelCase aliases, unknown fields ignored, immutable."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        frozen=True,
    )


class Me(CalcomModel):
    """The owner of the API key (``GET /v2/me``)."""

    id: int
    username: str | None = None
    email: str
    time_zone: str | None = None
    organization_id: int | None = None


class Location(CalcomModel):
    """An event-type location, e.g. ``{"type": "integration", "integration": "google-meet"}``."""

    type: str
    integration: str | None = None
    link: str | None = None
    address: str | None = None
    phone: str | None = None


class EventType(CalcomModel):
    """An event type (``EventTypeOutput_2024_06_14``)."""

    id: int
    slug: str
    title: str
    length_in_minutes: int
    description: str | None = None
    locations: list[Location] = Field(default_factory=list)
    minimum_booking_notice: int | None = None
    before_event_buffer: int | None = None
    after_event_buffer: int | None = None
    # Documented as ``object`` with example 60 (contract §12.7); a number or null in practice.
    slot_interval: int | None = None
    booking_window: list[dict[str, Any]] = Field(default_factory=list)
    owner_id: int | None = None
    # The document types users as strings; the service returns user objects. Keep them raw.
    users: list[Any] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    hidden: bool | None = None

    @field_validator("slot_interval", mode="before")
    @classmethod
    def _slot_interval_number(cls, value: Any) -> Any:
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None

    @field_validator("booking_window", mode="before")
    @classmethod
    def _booking_window_list(cls, value: Any) -> Any:
        # Output is an array, input an object: accept both.
        if isinstance(value, dict):
            return [value]
        return value if isinstance(value, list) else []

    @field_validator("metadata", mode="before")
    @classmethod
    def _metadata_dict(cls, value: Any) -> Any:
        return value if isinstance(value, dict) else {}

    @property
    def uses_google_meet(self) -> bool:
        """Whether Google Meet is one of the event type's locations."""
        return any(loc.type == "integration" and loc.integration == "google-meet" for loc in self.locations)


class Slot(msgspec.Struct, frozen=True):
    """A free slot; ``end`` is present with ``format=range``.

    A msgspec struct, unlike the other models: an answer holds some 700 slots per month, and
    validating them as pydantic models cost 0.8 ms of CPU against 0.1 ms (unknown fields are
    ignored all the same).
    """

    start: Annotated[datetime, msgspec.Meta(tz=True)]
    end: Annotated[datetime, msgspec.Meta(tz=True)] | None = None


class BookingHost(CalcomModel):
    """The host (event-type owner) of a booking."""

    id: int | None = None
    name: str | None = None
    email: str | None = None
    username: str | None = None
    time_zone: str | None = None


class BookingAttendee(CalcomModel):
    """An attendee of a booking; ``absent`` is Cal.com's no-show flag."""

    name: str
    email: str | None = None
    time_zone: str | None = None
    language: str | None = None
    absent: bool | None = None
    phone_number: str | None = None


class BookingEventType(CalcomModel):
    """The ``eventType`` summary embedded in a booking."""

    id: int
    slug: str | None = None


class Booking(CalcomModel):
    """A booking (``BookingOutput_2024_08_13``; recurring and seated variants parse too).

    ``status`` is one of ``accepted``, ``cancelled``, ``rejected``, ``pending``; a booking that ended is
    still ``accepted`` (Cal.com has no "completed" status, contract §5).
    """

    id: int
    uid: str
    title: str | None = None
    description: str | None = None
    status: str
    start: AwareDatetime
    end: AwareDatetime
    duration: int | None = None
    event_type_id: int | None = None
    event_type: BookingEventType | None = None
    hosts: list[BookingHost] = Field(default_factory=list)
    attendees: list[BookingAttendee] = Field(default_factory=list)
    guests: list[str] = Field(default_factory=list)
    location: str | None = None
    meeting_url: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    booking_fields_responses: dict[str, Any] = Field(default_factory=dict)
    cancellation_reason: str | None = None
    cancelled_by_email: str | None = None
    rescheduling_reason: str | None = None
    rescheduled_by_email: str | None = None
    rescheduled_from_uid: str | None = None
    rescheduled_to_uid: str | None = None
    absent_host: bool | None = None
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None

    @field_validator("metadata", "booking_fields_responses", mode="before")
    @classmethod
    def _dict_or_empty(cls, value: Any) -> Any:
        return value if isinstance(value, dict) else {}

    @property
    def resolved_event_type_id(self) -> int | None:
        """``eventType.id``, falling back to the deprecated top-level ``eventTypeId``."""
        return self.event_type.id if self.event_type is not None else self.event_type_id

    @property
    def video_url(self) -> str | None:
        """The meeting link, if Cal.com has one.

        Cal.com returns ``location = metadata.videoCallUrl or booking.location`` and strips
        ``videoCallUrl`` from ``metadata`` (contract §5): with Google Meet, ``location`` holds the
        ``https://meet.google.com/…`` link once the Google event exists, and the raw
        ``integrations:google:meet`` otherwise, which is not a link.
        """
        for candidate in (self.location, self.meeting_url, self.metadata.get("videoCallUrl")):
            if isinstance(candidate, str) and candidate.startswith(("https://", "http://")):
                return candidate
        return None


class Pagination(CalcomModel):
    """``PaginationMetaDto`` of list endpoints."""

    total_items: int | None = None
    remaining_items: int | None = None
    returned_items: int | None = None
    items_per_page: int | None = None
    current_page: int | None = None
    total_pages: int | None = None
    has_next_page: bool = False
    has_previous_page: bool = False


class BookingPage(CalcomModel):
    """One page of ``GET /v2/bookings``."""

    bookings: list[Booking]
    pagination: Pagination | None = None


class BookingReference(CalcomModel):
    """A booking reference (calendar event or video meeting attached to a booking)."""

    id: int
    type: str
    event_uid: str | None = None
    destination_calendar_id: str | None = None
    # Not in the [C] document, but video references carry it (contract §5); read it when present.
    meeting_url: str | None = None


class Webhook(CalcomModel):
    """A webhook subscription (user or event-type level).

    ``id`` is documented as a number but is a UUID string (contract §6, §12.4).
    """

    id: str
    subscriber_url: str
    triggers: list[str] = Field(default_factory=list)
    active: bool
    payload_template: str | None = None
    secret: str | None = None
    user_id: int | None = None
    event_type_id: int | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value
