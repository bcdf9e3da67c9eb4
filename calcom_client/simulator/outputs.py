"""API v2 response bodies (`data`) for the simulator's records, shaped as Cal.com's output services.

Notable Cal.com behaviours kept on purpose: a booking's `location` (and deprecated `meetingUrl`) is
`metadata.videoCallUrl || location`, and `videoCallUrl` is removed from the `metadata` returned;
optional fields Cal.com leaves `undefined` are omitted rather than sent as null.
"""

from __future__ import annotations

from typing import Any

from calcom_client.simulator.state import Booking, EventType, Reference, Store, Subscription, User
from calcom_client.simulator.timefmt import js_iso

# Cal.com's default booking fields as the 2024-06-14 output transformer lists them.
_DEFAULT_BOOKING_FIELDS: tuple[dict[str, Any], ...] = (
    {"isDefault": True, "type": "name", "slug": "name", "required": True, "disableOnPrefill": False},
    {"isDefault": True, "type": "email", "slug": "email", "required": True, "hidden": False},
    {"isDefault": True, "type": "radioInput", "slug": "location", "required": False, "hidden": False},
    {"isDefault": True, "type": "text", "slug": "title", "required": True, "hidden": True},
    {"isDefault": True, "type": "textarea", "slug": "notes", "required": False, "hidden": False},
    {"isDefault": True, "type": "multiemail", "slug": "guests", "required": False, "hidden": False},
    {"isDefault": True, "type": "textarea", "slug": "rescheduleReason", "required": False, "hidden": False},
    {
        "isDefault": True,
        "type": "phone",
        "slug": "attendeePhoneNumber",
        "label": "Phone number",
        "required": False,
        "hidden": True,
    },
)
DEFAULT_FIELD_SLUGS = frozenset(field["slug"] for field in _DEFAULT_BOOKING_FIELDS)


def booking_fields_output(event_type: EventType) -> list[dict[str, Any]]:
    """Default fields (with any overrides the event type set) followed by its custom fields."""
    overrides = {f.get("slug"): f for f in event_type.booking_fields if f.get("slug") in DEFAULT_FIELD_SLUGS}
    fields = [{**default, **_known(overrides.get(default["slug"], {}))} for default in _DEFAULT_BOOKING_FIELDS]
    for custom in event_type.booking_fields:
        if custom.get("slug") not in DEFAULT_FIELD_SLUGS:
            fields.append({"hidden": False, **custom, "isDefault": False})
    return fields


def _known(override: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in override.items() if k in ("required", "hidden", "label", "placeholder")}


def location_output(location: dict[str, Any]) -> dict[str, Any]:
    """An event-type location as output: the input shape, with `public` defaulted where it exists."""
    kind = location.get("type")
    if kind == "integration":
        return {"type": "integration", "integration": location.get("integration")}
    if kind in ("address", "link", "phone"):
        return {"type": kind, kind: location.get(kind), "public": bool(location.get("public", False))}
    return {"type": kind}


def user_output(user: User) -> dict[str, Any]:
    """An entry of `EventTypeOutput.users` (Cal.com's `User_2024_06_14`)."""
    return {
        "id": user.id,
        "name": user.name,
        "username": user.username,
        "avatarUrl": None,
        "weekStart": user.week_start,
        "brandColor": None,
        "darkBrandColor": None,
        "metadata": {},
    }


def event_type_output(event_type: EventType, owner: User) -> dict[str, Any]:
    """`EventTypeOutput_2024_06_14`."""
    data: dict[str, Any] = {
        "id": event_type.id,
        "lengthInMinutes": event_type.length,
        "title": event_type.title,
        "slug": event_type.slug,
        "description": event_type.description,
        "locations": [location_output(loc) for loc in event_type.locations],
        "bookingFields": booking_fields_output(event_type),
        "disableGuests": event_type.disable_guests,
        "slotInterval": event_type.slot_interval,
        "minimumBookingNotice": event_type.minimum_booking_notice,
        "beforeEventBuffer": event_type.before_event_buffer,
        "afterEventBuffer": event_type.after_event_buffer,
        "recurrence": None,
        "metadata": dict(event_type.metadata),
        "price": 0,
        "currency": "usd",
        "lockTimeZoneToggleOnBookingPage": event_type.lock_time_zone_toggle,
        "seatsPerTimeSlot": None,
        "forwardParamsSuccessRedirect": True,
        "successRedirectUrl": None,
        "isInstantEvent": False,
        "seatsShowAvailabilityCount": True,
        "scheduleId": None,
        "onlyShowFirstAvailableSlot": False,
        "requiresBookerEmailVerification": False,
        "hideCalendarNotes": False,
        "hideCalendarEventDetails": False,
        "hideOrganizerEmail": False,
        "useDestinationCalendarEmail": False,
        "ownerId": owner.id,
        "users": [user_output(owner)],
    }
    if event_type.length_options:
        data["lengthInMinutesOptions"] = list(event_type.length_options)
    return data


def meeting_location(booking: Booking) -> str:
    """What Cal.com returns as `location`: the conference link if one was made, else the stored value."""
    link = booking.metadata.get("videoCallUrl")
    return link if isinstance(link, str) and link else booking.location


def booking_output(booking: Booking, store: Store) -> dict[str, Any]:
    """`BookingOutput_2024_08_13` (metadata without `videoCallUrl`, optional fields omitted)."""
    host = store.users[booking.owner_id]
    event_type = store.event_types.get(booking.event_type_id)
    location = meeting_location(booking)
    data: dict[str, Any] = {
        "id": booking.id,
        "uid": booking.uid,
        "title": booking.title,
        "description": booking.description or "",
        "hosts": [
            {
                "id": host.id,
                "name": host.name,
                "email": host.email,
                "username": host.username,
                "timeZone": host.time_zone,
            }
        ],
        "status": booking.status.lower(),
        "start": js_iso(booking.start),
        "end": js_iso(booking.end),
        "duration": int((booking.end - booking.start).total_seconds() // 60),
        "eventTypeId": booking.event_type_id,
        "eventType": {"id": booking.event_type_id, "slug": event_type.slug if event_type else ""},
        "meetingUrl": location,
        "location": location,
        "absentHost": booking.absent_host,
        "createdAt": js_iso(booking.created_at),
        "updatedAt": js_iso(booking.updated_at),
        "metadata": {k: v for k, v in booking.metadata.items() if k != "videoCallUrl"},
        "icsUid": booking.ical_uid,
        "attendees": [_attendee_output(a) for a in booking.attendees],
        "bookingFieldsResponses": dict(booking.responses),
    }
    if booking.guests:
        data["guests"] = list(booking.guests)
    if booking.status == "CANCELLED":
        if booking.cancellation_reason:
            data["cancellationReason"] = booking.cancellation_reason
        if booking.cancelled_by:
            data["cancelledByEmail"] = booking.cancelled_by
    if booking.rescheduling_reason:
        data["reschedulingReason"] = booking.rescheduling_reason
    if booking.from_reschedule:
        data["rescheduledFromUid"] = booking.from_reschedule
    successor = store.booking_rescheduled_to(booking.uid) if booking.rescheduled else None
    if successor is not None:
        data["rescheduledToUid"] = successor.uid
    rescheduled_by = successor.rescheduled_by if successor is not None else booking.rescheduled_by
    if rescheduled_by:
        data["rescheduledByEmail"] = rescheduled_by
    return data


def _attendee_output(attendee: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "name": attendee.name,
        "email": attendee.email,
        "timeZone": attendee.time_zone,
        "language": attendee.language,
        "absent": attendee.absent,
    }
    if attendee.phone_number:
        item["phoneNumber"] = attendee.phone_number
    return item


def reference_output(reference: Reference) -> dict[str, Any]:
    """A booking reference: the documented fields, plus `meetingUrl` for video references (contract §5)."""
    data: dict[str, Any] = {
        "id": reference.id,
        "type": reference.type,
        "eventUid": reference.event_uid,
        "destinationCalendarId": reference.destination_calendar_id,
    }
    if reference.meeting_url:
        data["meetingUrl"] = reference.meeting_url
    return data


def webhook_output(sub: Subscription) -> dict[str, Any]:
    """A webhook subscription: UUID `id`, `triggers` list, `payloadTemplate` null unless set."""
    data: dict[str, Any] = {
        "id": sub.id,
        "subscriberUrl": sub.subscriber_url,
        "triggers": list(sub.triggers),
        "active": sub.active,
        "payloadTemplate": sub.payload_template,
    }
    if sub.secret:
        data["secret"] = sub.secret
    if sub.user_id is not None:
        data["userId"] = sub.user_id
    if sub.event_type_id is not None:
        data["eventTypeId"] = sub.event_type_id
    return data


def me_output(user: User) -> dict[str, Any]:
    """`MeOutput`."""
    return {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "timeFormat": user.time_format,
        "defaultScheduleId": user.default_schedule_id,
        "weekStart": user.week_start,
        "timeZone": user.time_zone,
        "organizationId": None,
    }
