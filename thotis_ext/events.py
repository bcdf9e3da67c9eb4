"""What each change announces, in its own transaction: the Thotis event (SPEC.md §5), the emails
to both parties (R6, R13.2, R19.1) and the product analytics event (seed task 21).

Every lifecycle change, whether made through the API or learnt from Cal.com, passes here once,
so each kind of notice is decided in one place.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from thotis_ext import rules
from thotis_ext.analytics.tracking import track, track_session
from thotis_ext.emails.kinds import EmailKind, Recipient
from thotis_ext.emails.outbox import queue_session_emails
from thotis_ext.enums import SessionStatus
from thotis_ext.models import Rating, Session, StudentProfile
from webhooks_out.outbox import emit


async def session_event(db: AsyncSession, event_type: str, row: Session, now: datetime, **extra: Any) -> None:
    """`booking.*` for one session: who, when, its state and Meet link, plus `extra`."""
    # Emails, analytics and the event all wait in the write batch (core/write_batch.py) for the commit.
    await _notify(db, event_type, row, now)
    await emit(db, event_type, _session_data(row, **extra), subject=row.uid, occurred_at=now)


def _session_data(row: Session, **extra: Any) -> dict[str, Any]:
    return {
        "sessionUid": row.uid,
        "mentorId": row.mentor_id,
        "start": row.start_at.isoformat(),
        "end": row.end_at.isoformat(),
        "status": row.status,
        "meetUrl": row.meet_url,
        "studentLanguage": row.student_language,
        **extra,
    }


async def cancelled_event(db: AsyncSession, row: Session, now: datetime) -> None:
    await session_event(db, "booking.cancelled", row, now, cancelledBy=row.cancelled_by, reason=row.cancellation_reason)


async def rescheduled_event(db: AsyncSession, new: Session, previous_uid: str | None, previous_start: datetime | None,
                            now: datetime) -> None:  # fmt: skip
    data = _session_data(
        new, previousUid=previous_uid, previousStart=previous_start.isoformat() if previous_start else None
    )
    await emit(db, "booking.rescheduled", data, subject=new.uid, occurred_at=now)
    if new.status == SessionStatus.SCHEDULED.value:
        await queue_session_emails(db, EmailKind.RESCHEDULE, new, now, previous_start=previous_start)
        skip_reminder_if_near(new, now)


def skip_reminder_if_near(row: Session, now: datetime) -> None:
    """A session booked less than a day ahead gets no separate reminder: its confirmation is one."""
    if row.start_at - now <= rules.REMINDER_LEAD:
        row.reminder_queued_at = row.reminder_queued_at or now


async def _notify(db: AsyncSession, event_type: str, row: Session, now: datetime) -> None:
    """The emails and the analytics event that go with a `booking.*` event."""
    mentor = await db.get(StudentProfile, row.mentor_id)
    if event_type == "booking.created":
        if row.status == SessionStatus.SCHEDULED.value:  # a booking first seen cancelled is not confirmed
            await queue_session_emails(db, EmailKind.CONFIRMATION, row, now)
            skip_reminder_if_near(row, now)
        track_session(db, "booking_created", row, mentor, now)
    elif event_type == "booking.cancelled":
        await queue_session_emails(db, EmailKind.CANCELLATION, row, now)
        track_session(db, "booking_cancelled", row, mentor, now, cancelledBy=row.cancelled_by)
    elif event_type == "booking.completed":
        track_session(db, "booking_completed", row, mentor, now)
        if row.end_at <= now:  # else the feedback sweep asks once the session has ended
            await queue_feedback_request(db, row, now)


async def queue_feedback_request(db: AsyncSession, row: Session, now: datetime) -> None:
    """Ask the prospective student for a rating (R19.1), once per session."""
    if row.feedback_queued_at is None:
        row.feedback_queued_at = now
        await queue_session_emails(db, EmailKind.FEEDBACK_REQUEST, row, now, recipients=(Recipient.STUDENT,))


async def rating_events(db: AsyncSession, rating: Rating, now: datetime) -> None:
    """`rating.submitted`, and `rating.flagged` too for a rating that needs review."""
    data = {
        "ratingId": rating.id,
        "sessionUid": rating.session_uid,
        "mentorId": rating.mentor_id,
        "rating": rating.rating,
        "feedback": rating.feedback,
    }
    await emit(db, "rating.submitted", data, subject=rating.session_uid, occurred_at=now)
    mentor = await db.get(StudentProfile, rating.mentor_id)
    properties = {"mentorId": rating.mentor_id, "field": mentor.field if mentor else None,
                  "university": mentor.university if mentor else None, "rating": rating.rating,
                  "hasFeedback": bool(rating.feedback), "flagged": rating.flagged_for_review}  # fmt: skip
    track(db, "rating_submitted", f"session:{rating.session_uid}", properties, now)
    if rating.flagged_for_review:
        await emit(db, "rating.flagged", data, subject=rating.session_uid, occurred_at=now)
