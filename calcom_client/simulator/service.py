"""What Cal.com does when an event type is created or a booking is made, moved, cancelled or marked.

Shared by the HTTP handlers and by the simulator's Python API (so a test can act "directly in
Cal.com", as a mentor using the web app would), and the single place where webhooks are emitted.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from calcom_client.simulator.errors import bad_request, forbidden, not_found
from calcom_client.simulator.payloads import (
    INTEGRATION_LOCATIONS,
    booking_payload,
    cancelled_payload,
    meeting_snapshot,
    no_show_payload,
)
from calcom_client.simulator.schedules import SlotRules, busy_intervals, free_slots, is_bookable, working_windows
from calcom_client.simulator.state import Attendee, Booking, Clock, EventType, Reference, Store, User
from calcom_client.simulator.timefmt import load_zone
from calcom_client.simulator.webhooks import WebhookDispatcher

OUT_OF_BOUNDS = (
    "The event type can't be booked at the \"start\" time provided. This could be because it's too soon "
    "(violating the minimum booking notice) or too far in the future (outside the event's scheduling window). "
    'Try fetching available slots first using the GET /v2/slots endpoint and then make a booking with "start" '
    "time equal to one of the available slots: https://cal.com/docs/api-reference/v2/slots"
)
UNAVAILABLE = "User either already has booking at this time or is not available"
GOOGLE_MEET = INTEGRATION_LOCATIONS["google-meet"]
CAL_VIDEO = INTEGRATION_LOCATIONS["cal-video"]


class CalcomService:
    """Event-type and booking operations on the store, emitting the webhooks Cal.com would."""

    def __init__(
        self, store: Store, clock: Clock, dispatcher: WebhookDispatcher, *, web_url: str, keep_meet_link: bool = True
    ) -> None:
        self.store = store
        self.clock = clock
        self.dispatcher = dispatcher
        self.web_url = web_url
        self.keep_meet_link_on_reschedule = keep_meet_link

    # Event types

    def create_event_type(self, owner: User, **fields: Any) -> EventType:
        """Store a new event type for `owner`.

        Raises:
            CalcomError: 400 for a duplicate slug or a Google Meet location the user has not connected.
        """
        slug = fields["slug"]
        if any(et.owner_id == owner.id and et.slug == slug for et in self.store.event_types.values()):
            raise bad_request("User already has an event type with this slug.")
        locations = fields.pop("locations", None) or [{"type": "integration", "integration": "cal-video"}]
        self.check_locations(owner, locations)
        event_type = EventType(id=self.store.next_id("event_type"), owner_id=owner.id, locations=locations, **fields)
        self.store.event_types[event_type.id] = event_type
        return event_type

    @staticmethod
    def check_locations(owner: User, locations: list[dict[str, Any]]) -> None:
        """Cal.com refuses a Google Meet location until the user has installed the Meet app.

        Raises:
            CalcomError: 400 "google-meet not connected.".
        """
        wants_meet = any(loc.get("integration") == "google-meet" for loc in locations)
        if wants_meet and not owner.google_meet:
            raise bad_request("google-meet not connected.")

    # Slots

    def available_slots(
        self, event_type: EventType, start: datetime, end: datetime, *, length: int | None, exclude_uid: str | None
    ) -> list[datetime]:
        """Free slot starts of `event_type` between `start` and `end` (UTC)."""
        owner = self.store.users[event_type.owner_id]
        rules = SlotRules.of(event_type, length)
        zone = load_zone(owner.time_zone) or UTC
        return free_slots(
            windows=working_windows(owner.weekly_schedule, zone, start, end),
            busy=busy_intervals(owner, self.store.owner_bookings(owner.id), exclude_uid),
            rules=rules,
            now=self.clock.now(),
            range_start=start,
            range_end=end,
        )

    # Bookings

    def create_booking(
        self,
        event_type: EventType,
        *,
        start: datetime,
        attendee: Attendee,
        guests: list[str] | None = None,
        fields: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        length: int | None = None,
        location: dict[str, Any] | None = None,
    ) -> Booking:
        """Book `event_type` at `start` and send BOOKING_CREATED.

        Raises:
            CalcomError: 400 for a past start, a start inside the minimum notice, or an unavailable time.
        """
        booking = self._book(
            event_type,
            start=start,
            attendee=attendee,
            guests=guests or [],
            fields=fields or {},
            metadata=metadata or {},
            length=length,
            location=self._internal_location(event_type, location),
        )
        owner = self.store.users[event_type.owner_id]
        payload = booking_payload(booking, event_type, owner, booker_url=self.web_url)
        self.dispatcher.emit("BOOKING_CREATED", payload, owner_id=owner.id, event_type_id=event_type.id)
        self.dispatcher.schedule_meeting_jobs(booking, meeting_snapshot(booking, event_type, owner))
        return booking

    def reschedule_booking(
        self, uid: str, *, start: datetime, rescheduled_by: str | None = None, reason: str | None = None
    ) -> Booking:
        """Move booking `uid` to `start`: a new booking (new uid) and the old one cancelled.

        Raises:
            CalcomError: 404 unknown uid, 400 cancelled booking or unavailable time.
        """
        old = self.store.bookings.get(uid)
        if old is None:
            raise not_found(f"Booking with uid={uid} was not found in the database")
        if old.status == "CANCELLED":
            successor = self.store.booking_rescheduled_to(uid)
            if old.rescheduled and successor is not None:
                raise bad_request(
                    f"Can't reschedule booking with uid={uid} because it has been cancelled and rescheduled already "
                    f"to booking with uid={successor.uid}. You probably want to reschedule {successor.uid} instead "
                    "by passing it within the request URL."
                )
            raise bad_request(
                f"Can't reschedule booking with uid={uid} because it has been cancelled. "
                "Please provide uid of a booking that is not cancelled."
            )
        event_type = self.store.event_types[old.event_type_id]
        system = {"name", "email", "guests", "rescheduleReason"}
        new = self._book(
            event_type,
            start=start,
            attendee=replace(old.attendees[0], absent=False),
            guests=list(old.guests),
            fields={k: v for k, v in old.responses.items() if k not in system},
            metadata={k: v for k, v in old.metadata.items() if k != "videoCallUrl"},
            length=int((old.end - old.start).total_seconds() // 60),
            location=old.location,
            previous=old,
            rescheduled_by=rescheduled_by,
            reason=reason,
        )
        old.status = "CANCELLED"
        old.rescheduled = True
        old.updated_at = self.clock.now()
        owner = self.store.users[event_type.owner_id]
        self.dispatcher.drop_meeting_jobs(old.uid)
        payload = booking_payload(new, event_type, owner, booker_url=self.web_url, previous=old)
        self.dispatcher.emit("BOOKING_RESCHEDULED", payload, owner_id=owner.id, event_type_id=event_type.id)
        self.dispatcher.schedule_meeting_jobs(new, meeting_snapshot(new, event_type, owner))
        return new

    def cancel_booking(
        self, uid: str, *, reason: str | None = None, cancelled_by: str | None = None, host: User | None = None
    ) -> Booking:
        """Cancel booking `uid` and send BOOKING_CANCELLED.

        Raises:
            CalcomError: 404 unknown uid; 400 already cancelled, or a host cancelling without a reason.
        """
        booking = self.store.bookings.get(uid)
        if booking is None:
            raise not_found(f"Booking with uid={uid} was not found in the database")
        if booking.status == "CANCELLED":
            raise bad_request("This booking has already been cancelled.")
        if host is not None and host.id == booking.owner_id and not reason:
            raise bad_request("Cancellation reason is required when you are the host")
        booking.status = "CANCELLED"
        booking.cancellation_reason = reason
        booking.cancelled_by = cancelled_by
        booking.updated_at = self.clock.now()
        self.dispatcher.drop_meeting_jobs(uid)
        event_type = self.store.event_types[booking.event_type_id]
        owner = self.store.users[booking.owner_id]
        payload = cancelled_payload(booking, event_type, owner)
        self.dispatcher.emit("BOOKING_CANCELLED", payload, owner_id=owner.id, event_type_id=event_type.id)
        return booking

    def mark_absent(self, uid: str, user: User, *, host: bool | None, attendees: list[tuple[str, bool]]) -> Booking:
        """Record no-shows; BOOKING_NO_SHOW_UPDATED is sent only when attendees are marked.

        Raises:
            CalcomError: 404 unknown uid, 403 not the organizer or before the meeting started.
        """
        booking = self.store.bookings.get(uid)
        if booking is None:
            raise not_found(f"Booking with uid={uid} not found.")
        if booking.owner_id != user.id:
            raise forbidden(f"User with id={user.id} is not the owner of booking with uid={uid}")
        if self.clock.now() < booking.start:
            raise forbidden("Cannot mark no-show before the meeting has started.")
        if host is not None:
            booking.absent_host = host
        marked: list[tuple[str, bool]] = []
        for email, absent in attendees:
            for attendee in booking.attendees:
                if attendee.email.lower() == email.lower():
                    attendee.absent = absent
                    marked.append((attendee.email, absent))
        booking.updated_at = self.clock.now()
        if marked:
            payload = no_show_payload(booking, marked, host)
            self.dispatcher.emit(
                "BOOKING_NO_SHOW_UPDATED", payload, owner_id=booking.owner_id, event_type_id=booking.event_type_id
            )
        return booking

    # Internals

    def _book(
        self,
        event_type: EventType,
        *,
        start: datetime,
        attendee: Attendee,
        guests: list[str],
        fields: dict[str, Any],
        metadata: dict[str, Any],
        length: int | None,
        location: str,
        previous: Booking | None = None,
        rescheduled_by: str | None = None,
        reason: str | None = None,
    ) -> Booking:
        owner = self.store.users[event_type.owner_id]
        minutes = length or event_type.length
        end = start + timedelta(minutes=minutes)
        now = self.clock.now()
        if start < now:
            raise bad_request("Attempting to book a meeting in the past.")
        if start < now + timedelta(minutes=event_type.minimum_booking_notice):
            raise bad_request(OUT_OF_BOUNDS)
        zone = load_zone(owner.time_zone) or UTC
        exclude = previous.uid if previous is not None else None
        if not is_bookable(
            windows=working_windows(owner.weekly_schedule, zone, start, end),
            busy=busy_intervals(owner, self.store.owner_bookings(owner.id), exclude),
            rules=SlotRules.of(event_type, minutes),
            start=start,
            end=end,
        ):
            raise bad_request(UNAVAILABLE)
        uid = self.store.new_uid()
        responses: dict[str, Any] = {"name": attendee.name, "email": attendee.email}
        if guests:
            responses["guests"] = list(guests)
        responses.update(fields)
        if reason:
            responses["rescheduleReason"] = reason
        stored_metadata = dict(metadata)
        references = self._conference(uid, owner, location, previous)
        link = next((r.meeting_url for r in references if r.meeting_url), None)
        if link:
            stored_metadata["videoCallUrl"] = link
        notes = fields.get("notes")
        booking = Booking(
            id=self.store.next_id("booking"),
            uid=uid,
            event_type_id=event_type.id,
            owner_id=owner.id,
            title=f"{event_type.title} between {owner.name} and {attendee.name}",
            description=notes if isinstance(notes, str) else "",
            start=start,
            end=end,
            attendees=[attendee],
            responses=responses,
            metadata=stored_metadata,
            location=location,
            created_at=now,
            updated_at=now,
            ical_uid=previous.ical_uid if previous is not None else f"{uid}@Cal.com",
            ical_sequence=previous.ical_sequence + 1 if previous is not None else 0,
            guests=list(guests),
            from_reschedule=previous.uid if previous is not None else None,
            rescheduled_by=rescheduled_by,
            rescheduling_reason=reason,
            references=references,
        )
        self.store.bookings[uid] = booking
        return booking

    def _internal_location(self, event_type: EventType, chosen: dict[str, Any] | None) -> str:
        """The stored location string (`integrations:google:meet`, a link, an address…)."""
        location = chosen or (event_type.locations[0] if event_type.locations else None)
        if location is None:
            return CAL_VIDEO
        kind = location.get("type")
        if kind == "integration":
            internal = INTEGRATION_LOCATIONS.get(str(location.get("integration")), CAL_VIDEO)
            owner = self.store.users[event_type.owner_id]
            # Meet silently becomes Cal Video when the organizer's calendar is not Google.
            return CAL_VIDEO if internal == GOOGLE_MEET and not owner.google_meet else internal
        if kind in ("address", "link", "phone"):
            return str(location.get(kind) or "")
        return str(location.get("location") or location.get(kind or "") or "")

    def _conference(self, uid: str, owner: User, location: str, previous: Booking | None) -> list[Reference]:
        """Create the meeting: a Google Calendar event with a Meet link, or a Cal Video room.

        Meet falls back to Cal Video when the organizer has no Google calendar. A reschedule
        updates the same Google event, so it keeps the Meet link unless told otherwise.
        """
        if location == GOOGLE_MEET and owner.google_meet:
            if previous is not None and self.keep_meet_link_on_reschedule and previous.references:
                return [replace(r, id=self.store.next_id("reference")) for r in previous.references]
            link = self.store.new_meet_link()
            event_uid = self.store.new_uid().lower()
            return [
                Reference(self.store.next_id("reference"), "google_calendar", event_uid, owner.email, link),
                Reference(self.store.next_id("reference"), "google_video", event_uid, None, link),
            ]
        if location == CAL_VIDEO:
            link = f"{self.web_url}/video/{uid}"
            return [Reference(self.store.next_id("reference"), "daily_video", uid, None, link)]
        return []
