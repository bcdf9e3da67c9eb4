"""Cal.com webhook bodies built from the payload descriptions of calcom-contract.md §8.6.

Each builder returns the body bytes exactly as Cal.com sends them: `JSON.stringify` of the
envelope (no whitespace), or the flat MEETING_* body of the pinned version.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class Booking:
    """The booking a webhook talks about."""

    uid: str
    booking_id: int
    event_type_id: int
    start: datetime
    organizer_email: str = "mentor@example.org"
    attendee_email: str = "lea@example.org"
    attendee_name: str = "Léa Martin"

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=15)


def _z(moment: datetime) -> str:
    """`YYYY-MM-DDTHH:mm:ssZ`, as CalendarEvent's startTime/endTime."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _offset(moment: datetime) -> str:
    """dayjs().format(): with `+00:00` (BOOKING_CANCELLED)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _ms(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _people(booking: Booking) -> dict[str, Any]:
    return {
        "organizer": {
            "id": 7,
            "name": "Mentor",
            "email": booking.organizer_email,
            "username": "mentor",
            "timeZone": "Europe/Paris",
            "language": {"locale": "fr"},
            "timeFormat": "HH:mm",
            "utcOffset": 60,
        },
        "attendees": [
            {
                "email": booking.attendee_email,
                "name": booking.attendee_name,
                "firstName": "Léa",
                "lastName": "Martin",
                "timeZone": "Europe/Paris",
                "language": {"locale": "fr"},
                "utcOffset": 60,
            }
        ],
    }


def envelope(trigger: str, payload: dict[str, Any], sent: datetime) -> bytes:
    body = {"triggerEvent": trigger, "createdAt": _ms(sent), "payload": payload}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def created(booking: Booking, sent: datetime, *, metadata: dict[str, str] | None = None) -> bytes:
    payload = {
        "bookerUrl": "https://cal.example",
        "type": "thotis-15",
        "title": "Thotis between Mentor and Léa Martin",
        "description": "Comment se passe la première année ?",
        "additionalNotes": "Comment se passe la première année ?",
        "customInputs": {},
        "startTime": _z(booking.start),
        "endTime": _z(booking.end),
        **_people(booking),
        "responses": {"name": {"label": "your_name", "value": booking.attendee_name, "isHidden": False}},
        "location": "integrations:google:meet",
        "eventTypeId": booking.event_type_id,
        "uid": booking.uid,
        "iCalUID": f"{booking.uid}@cal.example",
        "eventTitle": "Thotis — 15 min Q&A",
        "length": 15,
        "bookingId": booking.booking_id,
        "metadata": {"videoCallUrl": f"https://meet.google.com/{booking.uid[:3]}-abcd-efg", **(metadata or {})},
        "status": "ACCEPTED",
    }
    return envelope("BOOKING_CREATED", payload, sent)


def rescheduled(new: Booking, old: Booking, sent: datetime, *, by: str | None = None) -> bytes:
    body = json.loads(created(new, sent))
    body["triggerEvent"] = "BOOKING_RESCHEDULED"
    body["payload"].update(
        {
            "rescheduleId": old.booking_id,
            "rescheduleUid": old.uid,
            "rescheduleStartTime": _z(old.start),
            "rescheduleEndTime": _z(old.end),
            "rescheduledBy": by or new.attendee_email,
        }
    )
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def cancelled(booking: Booking, sent: datetime, *, by: str, reason: str = "Empêchement") -> bytes:
    payload = {
        "title": "Thotis between Mentor and Léa Martin",
        "length": 15,
        "type": "thotis-15",
        "additionalNotes": None,
        "eventTypeId": booking.event_type_id,
        "startTime": _offset(booking.start),
        "endTime": _offset(booking.end),
        **_people(booking),
        "uid": booking.uid,
        "bookingId": booking.booking_id,
        "location": "integrations:google:meet",
        "cancellationReason": reason,
        "status": "CANCELLED",
        "cancelledBy": by,
    }
    return envelope("BOOKING_CANCELLED", payload, sent)


def no_show(booking: Booking, sent: datetime, *, attendee: bool = True) -> bytes:
    payload = {
        "message": f"{booking.attendee_email} marked as no-show",
        "attendees": [{"email": booking.attendee_email, "noShow": attendee}],
        "bookingUid": booking.uid,
        "bookingId": booking.booking_id,
    }
    return envelope("BOOKING_NO_SHOW_UPDATED", payload, sent)


def meeting_ended(booking: Booking, *, flat: bool = True, sent: datetime | None = None) -> bytes:
    """The pinned version's flat body (no createdAt), or the later enveloped one."""
    row = {
        "id": booking.booking_id,
        "uid": booking.uid,
        "userId": 7,
        "eventTypeId": booking.event_type_id,
        "title": "Thotis between Mentor and Léa Martin",
        "startTime": _ms(booking.start),
        "endTime": _ms(booking.end),
        "attendees": [{"email": booking.attendee_email, "name": booking.attendee_name, "timeZone": "Europe/Paris"}],
        "user": {"email": booking.organizer_email, "name": "Mentor", "timeZone": "Europe/Paris", "username": "mentor"},
        "payment": [],
        "references": [],
        "metadata": {},
        "responses": {},
        "status": "ACCEPTED",
    }
    if flat:
        return json.dumps({"triggerEvent": "MEETING_ENDED", **row}, separators=(",", ":")).encode()
    assert sent is not None
    return envelope("MEETING_ENDED", row, sent)
