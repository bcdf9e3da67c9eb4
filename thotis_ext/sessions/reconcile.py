"""Catching up with Cal.com when a webhook was lost (R11.5): its bookings, read back and re-applied.

Cal.com sends each webhook at most once. Every few minutes the sync job lists each linked
mentor's bookings updated since its last run and applies them through the same state machine as
webhooks, which is idempotent and order-free: a booking already known changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from calcom_client import CalcomClient, CalcomError
from calcom_client.inputs import BookingFilter
from calcom_client.models import Booking
from core.cache import Cache
from core.clock import Clock
from core.database import Database
from thotis_ext.calcom_errors import as_thotis_error
from thotis_ext.models import StudentProfile
from thotis_ext.sessions.lifecycle import BookingChange, BookingFacts, Outcome, SessionLifecycle

log = logging.getLogger(__name__)

#: A booking Thotis made itself is left to its own request for this long (see webhooks_in.inbox).
ADOPT_OWN_AFTER = timedelta(minutes=2)


@dataclass(slots=True)
class ReconcileCounts:
    seen: int = 0
    applied: int = 0


def booking_change(booking: Booking) -> tuple[BookingChange, BookingFacts] | None:
    """What a booking as Cal.com lists it says, in the lifecycle's words (None: nothing to apply)."""
    attendee = booking.attendees[0] if booking.attendees else None
    host = booking.hosts[0] if booking.hosts else None
    meet = booking.meeting_url or (booking.location if (booking.location or "").startswith("https://") else None)
    facts = BookingFacts(
        uid=booking.uid,
        booking_id=booking.id,
        event_type_id=booking.resolved_event_type_id,
        start=booking.start,
        end=booking.end,
        attendee_name=attendee.name[:200] if attendee else None,
        attendee_email=attendee.email if attendee else None,
        attendee_time_zone=attendee.time_zone if attendee else None,
        attendee_language=attendee.language if attendee else None,
        question=_question(booking),
        meet_url=meet,
        metadata={str(k): str(v) for k, v in booking.metadata.items() if isinstance(v, str | int | bool)},
        organizer_email=host.email if host else None,
        changed_by_email=booking.cancelled_by_email or booking.rescheduled_by_email,
        reason=booking.cancellation_reason or booking.rescheduling_reason,
        previous_uid=booking.rescheduled_from_uid,
    )
    if booking.status in ("cancelled", "rejected"):
        return BookingChange.CANCELLED, facts
    if booking.status != "accepted":
        return None
    if booking.rescheduled_from_uid:
        return BookingChange.RESCHEDULED, facts
    return BookingChange.CREATED, facts


def _question(booking: Booking) -> str | None:
    notes = booking.booking_fields_responses.get("notes") or booking.description
    return str(notes)[:2000] if notes else None


async def reconcile_mentor(database: Database, client: CalcomClient, api_key: str, mentor: StudentProfile,
                           since: datetime, cache: Cache, clock: Clock) -> ReconcileCounts:  # fmt: skip
    """Apply every booking of `mentor`'s Thotis event type that Cal.com changed since `since`.

    Each booking is applied in a transaction of its own, as its webhook is: one transaction
    applying several held the mentor's counters (moved by the first) while inserting the next
    booking, and that booking's webhook, applied meanwhile, held the booking while waiting for
    the counters: a deadlock.

    Raises:
        CalcomUnreachable, CalcomTooSlow, CalcomRejected: Cal.com failed; nothing is applied.
    """
    counts = ReconcileCounts()
    if mentor.calcom_event_type_id is None:
        return counts
    wanted = BookingFilter(event_type_ids=[mentor.calcom_event_type_id], after_updated_at=since, sort_updated_at="asc")
    try:
        bookings = [booking async for booking in client.iter_bookings(api_key, wanted)]
    except CalcomError as exc:
        raise as_thotis_error(exc) from exc
    now = clock.now()
    for booking in bookings:
        change = booking_change(booking)
        if change is None:
            continue
        counts.seen += 1
        young = booking.created_at is not None and now - booking.created_at < ADOPT_OWN_AFTER
        async with database.session() as db:
            outcome = await SessionLifecycle(db, cache, clock, adopt_own=not young).apply(*change)
        if outcome is Outcome.APPLIED:
            counts.applied += 1
    return counts
