"""Webhook payloads per trigger, with the fields Cal.com puts in each (contract §8.6).

BOOKING_CREATED / BOOKING_RESCHEDULED carry the whole `CalendarEvent` plus event-type info and
extras, with the Meet link only in `metadata.videoCallUrl`; BOOKING_CANCELLED is a rebuilt event
without metadata (so without the link); BOOKING_NO_SHOW_UPDATED is a short summary; MEETING_*
are the flat booking row captured at booking time.
"""

from __future__ import annotations

from typing import Any

from calcom_client.simulator.state import Booking, EventType, User
from calcom_client.simulator.timefmt import dayjs_default, js_iso, seconds_z, utc_offset_minutes

# The labels Cal.com's default booking fields carry in `responses` (translation keys).
_SYSTEM_LABELS = {
    "name": "your_name",
    "email": "email_address",
    "location": "location",
    "title": "what_is_this_meeting_about",
    "notes": "additional_notes",
    "guests": "additional_guests",
    "rescheduleReason": "reason_for_reschedule",
    "attendeePhoneNumber": "phone_number",
}

INTEGRATION_LOCATIONS = {
    "google-meet": "integrations:google:meet",
    "cal-video": "integrations:daily",
    "zoom": "integrations:zoom",
    "office365-video": "integrations:office365_video",
}


def _organizer(user: User, booking: Booking) -> dict[str, Any]:
    return {
        "id": user.id,
        "name": user.name,
        "email": user.email,
        "username": user.username,
        "timeZone": user.time_zone,
        "language": {"locale": user.locale},
        "timeFormat": "HH:mm" if user.time_format == 24 else "h:mma",
        "utcOffset": utc_offset_minutes(user.time_zone, booking.start),
    }


def _attendees(booking: Booking) -> list[dict[str, Any]]:
    attendees = []
    for attendee in booking.attendees:
        item: dict[str, Any] = {
            "email": attendee.email,
            "name": attendee.name,
            # Cal.com fills these only when the booker's name is a {firstName, lastName} object.
            "firstName": "",
            "lastName": "",
            "timeZone": attendee.time_zone,
            "language": {"locale": attendee.language},
            "utcOffset": utc_offset_minutes(attendee.time_zone, booking.start),
        }
        if attendee.phone_number:
            item["phoneNumber"] = attendee.phone_number
        attendees.append(item)
    return attendees


def _responses(booking: Booking, event_type: EventType) -> tuple[dict[str, Any], dict[str, Any]]:
    """`responses` ({field: {label, value, isHidden}}) and `userFieldsResponses` (custom fields only)."""
    custom = {f.get("slug"): f for f in event_type.booking_fields if f.get("slug") not in _SYSTEM_LABELS}
    responses: dict[str, Any] = {}
    user_fields: dict[str, Any] = {}
    for name, value in booking.responses.items():
        field = custom.get(name)
        label = _SYSTEM_LABELS.get(name) or (field.get("label") if field else None) or name
        entry = {"label": label, "value": value, "isHidden": bool(field.get("hidden")) if field else False}
        responses[name] = entry
        if name not in _SYSTEM_LABELS:
            user_fields[name] = entry
    return responses, user_fields


def _destination_calendar(owner: User) -> list[dict[str, Any]]:
    if not owner.google_meet:
        return []
    return [
        {
            "id": owner.id,
            "integration": "google_calendar",
            "externalId": owner.email,
            "primaryEmail": owner.email,
            "userId": owner.id,
            "eventTypeId": None,
            "credentialId": owner.id,
        }
    ]


def _event_type_info(event_type: EventType) -> dict[str, Any]:
    return {
        "eventTitle": event_type.title,
        "eventDescription": event_type.description or None,
        "price": 0,
        "currency": "usd",
        "length": event_type.length,
    }


def _common(booking: Booking, event_type: EventType, owner: User) -> dict[str, Any]:
    responses, user_fields = _responses(booking, event_type)
    notes = booking.responses.get("notes")
    return {
        "type": event_type.slug,
        "title": booking.title,
        # sendPayload sets `description` to `description || additionalNotes` before sending.
        "description": booking.description or notes or event_type.description or None,
        "additionalNotes": notes,
        "customInputs": {},
        "organizer": _organizer(owner, booking),
        "responses": responses,
        "userFieldsResponses": user_fields,
        "attendees": _attendees(booking),
        "location": booking.location,
        "destinationCalendar": _destination_calendar(owner),
        "hideCalendarNotes": False,
        "hideCalendarEventDetails": False,
        "hideOrganizerEmail": False,
        "eventTypeId": event_type.id,
        "seatsShowAttendees": False,
        "seatsShowAvailabilityCount": True,
        "seatsPerTimeSlot": None,
        "schedulingType": None,
        "iCalUID": booking.ical_uid,
        "iCalSequence": booking.ical_sequence,
        "uid": booking.uid,
        "bookingId": booking.id,
    }


def booking_payload(
    booking: Booking,
    event_type: EventType,
    owner: User,
    *,
    booker_url: str,
    previous: Booking | None = None,
) -> dict[str, Any]:
    """BOOKING_CREATED, or BOOKING_RESCHEDULED when `previous` (the old booking) is given."""
    payload: dict[str, Any] = {"bookerUrl": booker_url, **_common(booking, event_type, owner)}
    payload["startTime"] = seconds_z(booking.start)
    payload["endTime"] = seconds_z(booking.end)
    payload["requiresConfirmation"] = False
    link = booking.metadata.get("videoCallUrl")
    if booking.location == INTEGRATION_LOCATIONS["google-meet"]:
        payload["appsStatus"] = [_app_status("Google Calendar", "google_calendar")]
    else:
        payload["appsStatus"] = [_app_status("Cal Video", "daily_video")]
        if isinstance(link, str):
            # Dedicated video apps (Cal Video here) add videoCallData; Google Meet does not.
            payload["videoCallData"] = {"type": "daily_video", "id": booking.uid, "password": "", "url": link}
    payload.update(_event_type_info(event_type))
    payload["metadata"] = dict(booking.metadata)
    payload["status"] = "ACCEPTED"
    if previous is not None:
        payload["rescheduleId"] = previous.id
        payload["rescheduleUid"] = previous.uid
        payload["rescheduleStartTime"] = seconds_z(previous.start)
        payload["rescheduleEndTime"] = seconds_z(previous.end)
        if booking.rescheduled_by:
            payload["rescheduledBy"] = booking.rescheduled_by
    return _without_none(payload)


def cancelled_payload(booking: Booking, event_type: EventType, owner: User) -> dict[str, Any]:
    """BOOKING_CANCELLED: a rebuilt event with the stored location and no metadata."""
    payload = _common(booking, event_type, owner)
    payload["startTime"] = dayjs_default(booking.start)
    payload["endTime"] = dayjs_default(booking.end)
    payload["cancellationReason"] = booking.cancellation_reason
    payload.update(_event_type_info(event_type))
    payload["status"] = "CANCELLED"
    if booking.cancelled_by:
        payload["cancelledBy"] = booking.cancelled_by
    return _without_none(payload)


def no_show_payload(booking: Booking, marked: list[tuple[str, bool]], host: bool | None) -> dict[str, Any]:
    """BOOKING_NO_SHOW_UPDATED: `{message, attendees:[{email, noShow}], noShowHost?, bookingUid, bookingId}`."""
    if len(marked) == 1:
        email, absent = marked[0]
        message = f"{email} marked as no-show" if absent else f"{email} unmarked as no-show"
    else:
        message = "No-show status updated for attendees"
    payload: dict[str, Any] = {
        "message": message,
        "attendees": [{"email": email, "noShow": absent} for email, absent in marked],
        "bookingUid": booking.uid,
        "bookingId": booking.id,
    }
    if host is not None:
        payload["noShowHost"] = host
    return payload


def meeting_snapshot(booking: Booking, event_type: EventType, owner: User) -> dict[str, Any]:
    """The flat booking row Cal.com stores for MEETING_STARTED / MEETING_ENDED at booking time.

    It is captured before the booking is updated with the conference link, so
    `metadata.videoCallUrl` is usually missing, as the contract notes.
    """
    responses, user_fields = _responses(booking, event_type)
    return {
        "id": booking.id,
        "uid": booking.uid,
        "userId": owner.id,
        "eventTypeId": event_type.id,
        "title": booking.title,
        "description": booking.description,
        "customInputs": {},
        "responses": responses,
        "userFieldsResponses": user_fields,
        "startTime": js_iso(booking.start),
        "endTime": js_iso(booking.end),
        "location": booking.location,
        "status": "ACCEPTED",
        "paid": False,
        "destinationCalendarId": None,
        "cancellationReason": None,
        "rejectionReason": None,
        "rescheduled": None,
        "fromReschedule": booking.from_reschedule,
        "recurringEventId": None,
        "smsReminderNumber": None,
        "metadata": {k: v for k, v in booking.metadata.items() if k != "videoCallUrl"},
        "isRecorded": False,
        "iCalUID": booking.ical_uid,
        "iCalSequence": booking.ical_sequence,
        "rating": None,
        "noShowHost": False,
        "attendees": [
            {"name": a.name, "email": a.email, "timeZone": a.time_zone, "locale": a.language, "noShow": False}
            for a in booking.attendees
        ],
        "user": {"email": owner.email, "name": owner.name, "timeZone": owner.time_zone, "username": owner.username},
        "payment": [],
        "references": [],
    }


def _app_status(name: str, kind: str) -> dict[str, Any]:
    return {"appName": name, "type": kind, "success": 1, "failures": 0, "errors": [], "warnings": []}


def _without_none(payload: dict[str, Any]) -> dict[str, Any]:
    """Drop keys whose value is None where Cal.com's value would be `undefined` (omitted by JSON)."""
    keep_null = {"eventDescription", "seatsPerTimeSlot", "schedulingType", "cancellationReason"}
    return {k: v for k, v in payload.items() if v is not None or k in keep_null}
