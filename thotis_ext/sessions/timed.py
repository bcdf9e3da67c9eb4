"""Work that time triggers, run by scheduled jobs: reminders, feedback requests, auto-completion.

Each function handles one batch in the caller's transaction, takes rows with SKIP LOCKED so
several workers share the work, and marks what it did on the row, so running it again (or
twice at once) queues nothing twice (property 48).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.cache import Cache
from core.clock import Clock
from thotis_ext import rules
from thotis_ext.emails.kinds import EmailKind
from thotis_ext.emails.outbox import queue_session_emails
from thotis_ext.enums import SessionStatus
from thotis_ext.events import queue_feedback_request
from thotis_ext.models import Session
from thotis_ext.sessions.lifecycle import BookingChange, BookingFacts, Outcome, SessionLifecycle

#: Sessions that ended longer ago than this get no late feedback request (the sidecar was down).
FEEDBACK_HORIZON = timedelta(days=7)
BATCH = 500


async def queue_reminders(db: AsyncSession, now: datetime, *, limit: int = BATCH) -> int:
    """Queue the 24-hour reminders of scheduled sessions starting within a day (R6.3)."""
    rows = await db.scalars(
        select(Session)
        .where(
            Session.status == SessionStatus.SCHEDULED.value,
            Session.start_at > now,
            Session.start_at <= now + rules.REMINDER_LEAD,
            Session.reminder_queued_at.is_(None),
        )
        .order_by(Session.start_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    count = 0
    for row in rows:
        row.reminder_queued_at = now
        await queue_session_emails(db, EmailKind.REMINDER, row, now)
        count += 1
    return count


async def queue_feedback_requests(db: AsyncSession, now: datetime, *, limit: int = BATCH) -> int:
    """Ask for feedback on completed sessions that ended, once each (R19.1)."""
    rows = await db.scalars(
        select(Session)
        .where(
            Session.status == SessionStatus.COMPLETED.value,
            Session.end_at <= now,
            Session.end_at > now - FEEDBACK_HORIZON,
            Session.feedback_queued_at.is_(None),
        )
        .order_by(Session.end_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    count = 0
    for row in rows:
        await queue_feedback_request(db, row, now)
        count += 1
    return count


async def auto_complete(db: AsyncSession, cache: Cache, clock: Clock, grace: timedelta, *, limit: int = BATCH) -> int:
    """Complete scheduled sessions whose end passed `grace` ago without Cal.com's meeting-ended event.

    Cal.com sends MEETING_ENDED only for its own video; with Google Meet nothing says a session
    happened, so it counts as completed unless a no-show is reported (which then corrects it).
    """
    now = clock.now()
    uids = list(
        await db.scalars(
            select(Session.uid)
            .where(Session.status == SessionStatus.SCHEDULED.value, Session.end_at <= now - grace)
            .order_by(Session.end_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    lifecycle = SessionLifecycle(db, cache, clock)
    completed = 0
    for uid in uids:
        if await lifecycle.apply(BookingChange.ENDED, BookingFacts(uid=uid)) is Outcome.APPLIED:
            completed += 1
    return completed
