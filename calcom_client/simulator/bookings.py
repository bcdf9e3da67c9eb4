"""`/v2/bookings` (cal-api-version 2024-08-13): create, get, list, cancel, reschedule, mark absent, references."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from calcom_client.simulator.errors import bad_request, not_found
from calcom_client.simulator.http import Response
from calcom_client.simulator.outputs import DEFAULT_FIELD_SLUGS, booking_output, reference_output
from calcom_client.simulator.routing import Call, query_numbers, success
from calcom_client.simulator.state import Attendee, Booking, EventType
from calcom_client.simulator.validation import Checker, check_metadata

LANGUAGES = frozenset(
    {"ar", "ca", "de", "es", "eu", "he", "id", "ja", "lv", "pl", "ro", "sr", "th", "vi", "az", "cs", "el", "es-419"}
    | {"fi", "hr", "it", "km", "nl", "pt", "ru", "sv", "tr", "zh-CN", "bg", "da", "en", "et", "fr", "hu", "iw", "ko"}
    | {"no", "pt-BR", "sk", "ta", "uk", "zh-TW", "bn"}
)
STATUSES = ("upcoming", "recurring", "past", "cancelled", "unconfirmed")
SORTS = ("sortStart", "sortEnd", "sortCreated", "sortUpdatedAt")


def create_booking(call: Call) -> Response:
    """`POST /v2/bookings` → 201 with the booking; a taken or unavailable time is a 400."""
    body = call.json()
    check = Checker(body)
    start = check.date_string("start", required=True)
    raw_attendee = check.obj("attendee", required=True)
    attendee_check = Checker(raw_attendee or {})
    name = attendee_check.string("name", required=raw_attendee is not None)
    time_zone = attendee_check.time_zone("timeZone", required=raw_attendee is not None)
    email = attendee_check.email("email")
    phone = attendee_check.string("phoneNumber")
    language = attendee_check.choice("language", LANGUAGES)
    check.nested("attendee", attendee_check)
    event_type_id = check.integer("eventTypeId")
    check.string("eventTypeSlug")
    check.string("username")
    guests = check.array("guests")
    fields = check.obj("bookingFieldsResponses")
    metadata = check.obj("metadata")
    check_metadata(check, metadata)
    length = check.integer("lengthInMinutes", minimum=1)
    location = check.obj("location")
    check.raise_if_invalid()

    event_type = _booked_event_type(call, body, event_type_id)
    _check_length(event_type, length)
    _check_required_fields(event_type, fields or {})
    attendee = Attendee(
        name=name or "",
        email=email or f"{(phone or 'guest').lstrip('+')}@sms.cal.com",
        time_zone=time_zone or "UTC",
        language=language or "en",
        phone_number=phone,
    )
    assert start is not None
    booking = call.service.create_booking(
        event_type,
        start=start,
        attendee=attendee,
        guests=[str(g) for g in guests or []],
        fields=fields,
        metadata=metadata,
        length=length,
        location=location,
    )
    return success(201, booking_output(booking, call.store))


def _booked_event_type(call: Call, body: dict[str, Any], event_type_id: int | None) -> EventType:
    slug, username = body.get("eventTypeSlug"), body.get("username")
    if event_type_id is not None:
        found = call.store.event_types.get(event_type_id)
    elif slug and username:
        user = call.store.user_by_username(str(username))
        if user is None:
            raise not_found(f"User with username {username} not found")
        found = next((et for et in call.store.event_types.values() if et.owner_id == user.id and et.slug == slug), None)
        if found is None:
            raise not_found(f"Event type with slug {slug} belonging to user {username} not found.")
    else:
        found = None
    if found is None:
        shown = event_type_id if event_type_id is not None else "undefined"
        raise not_found(f"Event type with id {shown} not found.")
    return found


def _check_length(event_type: EventType, length: int | None) -> None:
    if length is None or (length == event_type.length and not event_type.length_options):
        return
    if not event_type.length_options:
        raise bad_request(
            "Can't specify 'lengthInMinutes' because event type does not have multiple possible lengths. "
            "Please, remove the 'lengthInMinutes' field from the request."
        )
    if length not in event_type.length_options:
        allowed = ", ".join(str(option) for option in event_type.length_options)
        raise bad_request(
            f"Provided 'lengthInMinutes' is not one of the possible lengths for the event type. "
            f"The possible lengths are: {allowed}"
        )


def _check_required_fields(event_type: EventType, fields: dict[str, Any]) -> None:
    for field in event_type.booking_fields:
        slug = field.get("slug")
        if slug in DEFAULT_FIELD_SLUGS or not field.get("required"):
            continue
        if fields.get(str(slug)) is None:
            raise bad_request(
                f"Missing required booking field response: {slug} - it is required by the event type booking "
                f"fields, but missing in the bookingFieldsResponses. You can fetch the event type with ID "
                f"{event_type.id} to see the required fields."
            )


def get_booking(call: Call) -> Response:
    """`GET /v2/bookings/{bookingUid}` (no auth: the uid is the capability)."""
    uid = call.params["bookingUid"]
    booking = call.store.bookings.get(uid)
    if booking is None:
        raise not_found(f"Booking with uid={uid} was not found in the database")
    return success(200, booking_output(booking, call.store))


def list_bookings(call: Call) -> Response:
    """`GET /v2/bookings`: the caller's bookings, filtered, sorted and paginated."""
    user = call.caller()
    query = query_numbers(call.request.query, ("take", "skip"))
    check = Checker(query)
    take = check.integer("take", minimum=1) or 100
    skip = check.integer("skip", minimum=0) or 0
    dates = {name: check.date_string(name) for name in _DATE_FILTERS}
    sorts = {name: check.choice(name, ("asc", "desc")) for name in SORTS}
    statuses = [s for s in str(query.get("status", "")).split(",") if s]
    if any(s not in STATUSES for s in statuses):
        check.choice("status", STATUSES)
    check.raise_if_invalid()

    now = call.service.clock.now()
    mine = [
        b
        for b in call.store.bookings.values()
        if b.owner_id == user.id or any(a.email.lower() == user.email.lower() for a in b.attendees)
    ]
    found = [b for b in mine if _matches(b, query, dates, statuses, now)]
    found.sort(key=lambda b: b.start, reverse=statuses in (["past"], ["cancelled"]))
    for name, direction in sorts.items():
        if direction is not None:
            found.sort(key=_SORT_KEYS[name], reverse=direction == "desc")
            break
    page = found[skip : skip + take]
    total = len(found)
    pagination = {
        "totalItems": total,
        "remainingItems": max(total - skip - len(page), 0),
        "returnedItems": len(page),
        "itemsPerPage": take,
        "currentPage": skip // take + 1,
        "totalPages": -(-total // take),
        "hasNextPage": skip + take < total,
        "hasPreviousPage": skip > 0,
    }
    return success(200, [booking_output(b, call.store) for b in page], pagination=pagination)


_DATE_FILTERS = ("afterStart", "beforeEnd", "afterCreatedAt", "beforeCreatedAt", "afterUpdatedAt", "beforeUpdatedAt")
_SORT_KEYS = {
    "sortStart": lambda b: b.start,
    "sortEnd": lambda b: b.end,
    "sortCreated": lambda b: b.created_at,
    "sortUpdatedAt": lambda b: b.updated_at,
}


def _status_matches(booking: Booking, status: str, now: datetime) -> bool:
    """Cal.com's booking listing filters (`getAllUserBookings`)."""
    if status == "cancelled":
        return not booking.active
    if status == "past":
        return booking.end <= now and booking.active
    if status == "unconfirmed":
        return booking.end >= now and booking.status == "PENDING"
    if status == "recurring":
        return False  # recurring bookings are not modelled
    return booking.end >= now and booking.active


def _matches(
    booking: Booking, query: dict[str, Any], dates: dict[str, datetime | None], statuses: list[str], now: datetime
) -> bool:
    if statuses and not any(_status_matches(booking, s, now) for s in statuses):
        return False
    bounds = (
        (dates["afterStart"], booking.start, True),
        (dates["beforeEnd"], booking.end, False),
        (dates["afterCreatedAt"], booking.created_at, True),
        (dates["beforeCreatedAt"], booking.created_at, False),
        (dates["afterUpdatedAt"], booking.updated_at, True),
        (dates["beforeUpdatedAt"], booking.updated_at, False),
    )
    for bound, value, after in bounds:
        if bound is not None and (value < bound if after else value > bound):
            return False
    event_type_ids = {s for s in str(query.get("eventTypeIds", "")).split(",") if s}
    if query.get("eventTypeId"):
        event_type_ids.add(str(query["eventTypeId"]))
    if event_type_ids and str(booking.event_type_id) not in event_type_ids:
        return False
    if query.get("bookingUid") and booking.uid != query["bookingUid"]:
        return False
    email, name = query.get("attendeeEmail"), query.get("attendeeName")
    if email and not any(a.email.lower() == str(email).lower() for a in booking.attendees):
        return False
    return not name or any(a.name.lower() == str(name).lower() for a in booking.attendees)


def cancel_booking(call: Call) -> Response:
    """`POST /v2/bookings/{bookingUid}/cancel` → 200 with the cancelled booking."""
    check = Checker(call.json())
    reason = check.string("cancellationReason")
    check.boolean("cancelSubsequentBookings")
    seat_uid = check.string("seatUid")
    check.raise_if_invalid()
    if seat_uid is not None:
        raise bad_request("Invalid seatUid: this seat does not exist or has already been cancelled.")
    user = call.user
    booking = call.service.cancel_booking(
        call.params["bookingUid"], reason=reason, cancelled_by=user.email if user else None, host=user
    )
    return success(200, booking_output(booking, call.store))


def reschedule_booking(call: Call) -> Response:
    """`POST /v2/bookings/{bookingUid}/reschedule` → 201 with the **new** booking."""
    check = Checker(call.json())
    start = check.date_string("start", required=True)
    rescheduled_by = check.string("rescheduledBy")
    reason = check.string("reschedulingReason")
    check.raise_if_invalid()
    assert start is not None
    booking = call.service.reschedule_booking(
        call.params["bookingUid"], start=start, rescheduled_by=rescheduled_by, reason=reason
    )
    return success(201, booking_output(booking, call.store))


def mark_absent(call: Call) -> Response:
    """`POST /v2/bookings/{bookingUid}/mark-absent` (organizer only, after the start) → 200."""
    check = Checker(call.json())
    host = check.boolean("host")
    raw = check.array("attendees") or []
    marked: list[tuple[str, bool]] = []
    for index, item in enumerate(raw):
        item_check = Checker(item if isinstance(item, dict) else {})
        email = item_check.email("email", required=True)
        absent = item_check.boolean("absent", required=True)
        check.nested(str(index), item_check)
        if email is not None and absent is not None:
            marked.append((email, absent))
    check.raise_if_invalid()
    booking = call.service.mark_absent(call.params["bookingUid"], call.caller(), host=host, attendees=marked)
    return success(200, booking_output(booking, call.store))


def booking_references(call: Call) -> Response:
    """`GET /v2/bookings/{bookingUid}/references[?type=google_video…]` (organizer only)."""
    uid = call.params["bookingUid"]
    booking = call.store.bookings.get(uid)
    if booking is None:
        raise not_found(f"Booking with uid {uid} not found")
    if booking.owner_id != call.caller().id:
        raise bad_request(f"Booking with uid {uid} does not belong to user")
    kind = call.request.query.get("type")
    data = [reference_output(r) for r in booking.references if not kind or r.type == kind]
    return success(200, data)
