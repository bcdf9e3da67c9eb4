"""What a missing, quoted, unknown or wrong `cal-api-version` reaches: Cal.com's older controllers.

Cal.com routes by the header and falls back to `2024-04-15` when it is missing or unknown, so a
request without the right value is not refused: it is served by an undocumented controller. The
simulator models that coarsely, to make such a client fail the way it would against Cal.com:

- a route the older controller does not have (`GET /v2/slots`, reschedule, mark-absent,
  references), or a known version no controller of that resource has → 404 `Cannot METHOD url`;
- writes validate against the old input classes, which a 2024-style body does not satisfy → 400;
- reads answer 200 in the old, different shapes (simplified; never the documented one);
- the old cancel parses the uid as a numeric id and fails → 500.
"""

from __future__ import annotations

from typing import Any

from calcom_client.simulator.errors import not_found, unhandled_response, validation_failed
from calcom_client.simulator.http import Response
from calcom_client.simulator.routing import Call, Handler, success
from calcom_client.simulator.state import Booking, EventType
from calcom_client.simulator.timefmt import js_iso

FALLBACK_VERSION = "2024-04-15"
KNOWN_VERSIONS = ("2024-04-15", "2024-06-11", "2024-06-14", "2024-08-13", "2024-09-04")
REQUIRED_VERSION = {"event-types": "2024-06-14", "bookings": "2024-08-13", "slots": "2024-09-04"}
LEGACY_VERSIONS = {
    "event-types": ("2024-04-15", "2024-06-11"),
    "bookings": ("2024-04-15", "2024-06-11", "2024-06-14"),
    "slots": ("2024-04-15", "2024-06-11", "2024-06-14", "2024-08-13"),
}


def effective_version(header: str | None) -> str:
    """The version Cal.com's custom extractor picks: the header if known, else 2024-04-15."""
    return header if header in KNOWN_VERSIONS else FALLBACK_VERSION


def _missing(body: dict[str, Any], required: dict[str, tuple[str, str]]) -> list[dict[str, Any]]:
    errors = []
    for name, (constraint, text) in required.items():
        if body.get(name) is None:
            errors.append(
                {"target": body, "property": name, "children": [], "constraints": {constraint: f"{name} {text}"}}
            )
    return errors


def _event_type(event_type: EventType) -> dict[str, Any]:
    return {
        "id": event_type.id,
        "title": event_type.title,
        "slug": event_type.slug,
        "length": event_type.length,
        "description": event_type.description,
        "hidden": False,
        "userId": event_type.owner_id,
        "minimumBookingNotice": event_type.minimum_booking_notice,
        "slotInterval": event_type.slot_interval,
        "beforeEventBuffer": event_type.before_event_buffer,
        "afterEventBuffer": event_type.after_event_buffer,
    }


def _booking(booking: Booking) -> dict[str, Any]:
    return {
        "id": booking.id,
        "uid": booking.uid,
        "title": booking.title,
        "description": booking.description,
        "startTime": js_iso(booking.start),
        "endTime": js_iso(booking.end),
        "status": booking.status,
        "eventTypeId": booking.event_type_id,
        "userId": booking.owner_id,
        "location": booking.location,
        "metadata": dict(booking.metadata),
        "responses": dict(booking.responses),
        "attendees": [
            {"name": a.name, "email": a.email, "timeZone": a.time_zone, "locale": a.language} for a in booking.attendees
        ],
    }


def create_event_type(call: Call) -> Response:
    """The 2024-04-15 input wants `length`, not `lengthInMinutes`."""
    body = call.json()
    raise validation_failed(
        _missing(
            body,
            {
                "length": ("isInt", "must be an integer number"),
                "slug": ("isString", "must be a string"),
                "title": ("isString", "must be a string"),
            },
        )
    )


def list_event_types(call: Call) -> Response:
    """The old list is the caller's event-type groups (and needs auth)."""
    owned = [_event_type(et) for et in call.store.event_types.values() if et.owner_id == call.caller().id]
    return success(200, {"eventTypeGroups": [{"eventTypes": owned}], "profiles": []})


def _owned(call: Call) -> EventType:
    raw = call.params["eventTypeId"]
    event_type = call.store.event_types.get(int(raw)) if raw.isdigit() else None
    if event_type is None or event_type.owner_id != call.caller().id:
        raise not_found(f"Event type with id {raw} not found")
    return event_type


def get_event_type(call: Call) -> Response:
    """The old single read wraps the event type in `{eventType}`."""
    return success(200, {"eventType": _event_type(_owned(call))})


def update_event_type(call: Call) -> Response:
    """Only fields with the same name in the old input apply; `lengthInMinutes`, `locations` are dropped."""
    event_type = _owned(call)
    body = call.json()
    names = {
        "title": "title",
        "slug": "slug",
        "description": "description",
        "minimumBookingNotice": "minimum_booking_notice",
        "slotInterval": "slot_interval",
        "beforeEventBuffer": "before_event_buffer",
        "afterEventBuffer": "after_event_buffer",
    }
    for key, attribute in names.items():
        if key in body and body[key] is not None:
            setattr(event_type, attribute, body[key])
    return success(200, _event_type(event_type))


def delete_event_type(call: Call) -> Response:
    """The old delete answers `{id, length, slug, title}`."""
    event_type = _owned(call)
    del call.store.event_types[event_type.id]
    data = {"id": event_type.id, "length": event_type.length, "slug": event_type.slug, "title": event_type.title}
    return success(200, data)


def create_booking(call: Call) -> Response:
    """The 2024-04-15 input needs `responses`, `timeZone`, `language`, `metadata`, `eventTypeId`."""
    body = call.json()
    raise validation_failed(
        _missing(
            body,
            {
                "start": ("isDateString", "must be a valid ISO 8601 date string"),
                "eventTypeId": ("isNumber", "must be a number conforming to the specified constraints"),
                "timeZone": ("isTimeZone", "must be a valid IANA time zone"),
                "language": ("isString", "must be a string"),
                "metadata": ("isObject", "must be an object"),
                "responses": ("isObject", "must be an object"),
            },
        )
    )


def list_bookings(call: Call) -> Response:
    """The old list: `{bookings, recurringInfo, nextCursor}` with Prisma-shaped bookings."""
    user = call.caller()
    mine = [_booking(b) for b in call.store.bookings.values() if b.owner_id == user.id]
    return success(200, {"bookings": mine, "recurringInfo": [], "nextCursor": None})


def get_booking(call: Call) -> Response:
    """The old single read returns the Prisma-shaped booking."""
    uid = call.params["bookingUid"]
    booking = call.store.bookings.get(uid)
    if booking is None:
        raise not_found(f"Booking with UID={uid} does not exist.")
    return success(200, _booking(booking))


def cancel_booking(call: Call) -> Response:
    """The old cancel does `parseInt(bookingId)` on the uid and fails inside Cal.com's library."""
    return unhandled_response()


# (method, template) → (auth mode, handler) for the routes the older controllers have.
ROUTES: dict[tuple[str, str], tuple[str, Handler]] = {
    ("POST", "/v2/event-types"): ("required", create_event_type),
    ("GET", "/v2/event-types"): ("required", list_event_types),
    ("GET", "/v2/event-types/{eventTypeId}"): ("required", get_event_type),
    ("PATCH", "/v2/event-types/{eventTypeId}"): ("required", update_event_type),
    ("DELETE", "/v2/event-types/{eventTypeId}"): ("required", delete_event_type),
    ("POST", "/v2/bookings"): ("optional", create_booking),
    ("GET", "/v2/bookings"): ("required", list_bookings),
    ("GET", "/v2/bookings/{bookingUid}"): ("none", get_booking),
    ("POST", "/v2/bookings/{bookingUid}/cancel"): ("optional", cancel_booking),
}
