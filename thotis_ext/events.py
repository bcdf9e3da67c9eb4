"""The Thotis events each change emits (SPEC.md §5), written to the outbox in its transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from thotis_ext.models import Rating, Session
from webhooks_out.outbox import emit


async def session_event(db: AsyncSession, event_type: str, row: Session, now: datetime, **extra: Any) -> None:
    """`booking.*` for one session: who, when, its state and Meet link, plus `extra`."""
    data = {
        "sessionUid": row.uid,
        "mentorId": row.mentor_id,
        "start": row.start_at.isoformat(),
        "end": row.end_at.isoformat(),
        "status": row.status,
        "meetUrl": row.meet_url,
        "studentLanguage": row.student_language,
        **extra,
    }
    await emit(db, event_type, data, subject=row.uid, occurred_at=now)


async def cancelled_event(db: AsyncSession, row: Session, now: datetime) -> None:
    await session_event(db, "booking.cancelled", row, now, cancelledBy=row.cancelled_by, reason=row.cancellation_reason)


async def rescheduled_event(db: AsyncSession, new: Session, previous_uid: str | None, previous_start: datetime | None,
                            now: datetime) -> None:  # fmt: skip
    await session_event(
        db,
        "booking.rescheduled",
        new,
        now,
        previousUid=previous_uid,
        previousStart=previous_start.isoformat() if previous_start else None,
    )


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
    if rating.flagged_for_review:
        await emit(db, "rating.flagged", data, subject=rating.session_uid, occurred_at=now)
