"""The calendar invitation attached to session emails (RFC 5545 event, RFC 5546 method)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal

from icalendar import Calendar, Event, vCalAddress

PRODID = "-//Thotis//Thotis sidecar//FR"
IcsMethod = Literal["REQUEST", "CANCEL"]
_STATUS: dict[str, str] = {"REQUEST": "CONFIRMED", "CANCEL": "CANCELLED"}


def session_ics(
    *,
    uid: str,
    sequence: int,
    start: datetime,
    end: datetime,
    summary: str,
    description: str,
    location: str | None,
    organizer_email: str | None = None,
    attendee_emails: Sequence[str] = (),
    method: IcsMethod,
    now: datetime,
) -> bytes:
    """One session as an iCalendar invitation (REQUEST) or withdrawal (CANCEL).

    Calendars match updates by UID and keep the highest SEQUENCE, so a reschedule or a cancellation
    must reuse the first invitation's UID with a larger sequence to replace it rather than add one.
    """
    event = Event()
    event.add("uid", uid)
    event.add("sequence", sequence)
    event.add("dtstamp", now.astimezone(UTC))
    event.add("dtstart", start.astimezone(UTC))
    event.add("dtend", end.astimezone(UTC))
    event.add("summary", summary)
    event.add("description", description)
    if location:
        event.add("location", location)
    event.add("status", _STATUS[method])
    event.add("transp", "OPAQUE")
    if organizer_email:
        event.add("organizer", vCalAddress(f"mailto:{organizer_email}"))
    for email in attendee_emails:
        attendee = vCalAddress(f"mailto:{email}")
        attendee.params["ROLE"] = "REQ-PARTICIPANT"
        if method == "REQUEST":
            attendee.params["PARTSTAT"] = "NEEDS-ACTION"
            attendee.params["RSVP"] = "FALSE"  # the organiser is a no-reply address: nobody reads replies
        event.add("attendee", attendee)

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    calendar.add_component(event)
    data: bytes = calendar.to_ical()
    return data
