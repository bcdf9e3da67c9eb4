"""Queueing emails in the transaction of the change they tell about (R6, R12.2, R13.2, R19.1).

Each email has a dedupe key (kind, session, recipient): asking for it again, from a replayed
webhook or a job run twice, queues nothing (property 48). The sender job is nudged with the keys
after the commit; a scheduled sweep sends whatever a lost nudge left behind.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import UpdateBase

from core.jobs import defer_batched
from core.write_batch import Param, Write, bound_columns, pending, pending_writes, send_now
from thotis_ext.emails.context import EmailContext
from thotis_ext.emails.kinds import EmailKind, Recipient
from thotis_ext.emails.models import OutboundEmail
from thotis_ext.models import Session, StudentProfile

#: Mentors' profiles hold no time zone; Thotis is French, so their emails show Paris time.
MENTOR_TIME_ZONE = "Europe/Paris"
#: How long a notice about a change stays worth sending (a feedback request lives as long as its link).
NOTICE_LIFETIME = timedelta(days=7)
FEEDBACK_LIFETIME = timedelta(days=14)
#: How many reschedules back we follow to find the first booking of a chain (its ICS UID).
MAX_CHAIN = 20

SEND_JOB = "send_email"


def message_id(dedupe_key: str, domain: str = "thotis.local") -> str:
    """A Message-ID derived from the dedupe key: a resent copy carries the same id."""
    return f"<{hashlib.sha256(dedupe_key.encode()).hexdigest()[:32]}@{domain}>"


#: Emails waiting in one write batch; past this the batch goes first (one statement stays small).
PENDING_MAX = 100
_COLUMNS = ("dedupe_key", "kind", "recipient", "to_email", "session_uid", "payload", "message_id",
            "next_attempt_at", "expires_at")  # fmt: skip


#: `queue`'s statement, compiled once (rows as parameters): it needs the id back, so no batch.
_QUEUE_NOW = insert(OutboundEmail).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(OutboundEmail.id)


@dataclass(frozen=True, slots=True)
class Queued:
    """One email to queue: what it says, its identity, and until when it is worth sending."""

    context: EmailContext
    dedupe_key: str
    expires_at: datetime | None


async def queue_many(db: AsyncSession, emails: Sequence[Queued], now: datetime) -> None:
    """Queue emails with the transaction's write batch (core/write_batch.py), skipping those whose
    dedupe key is already queued; the sender job is nudged with their keys after the commit."""
    waiting = sum(1 for write in pending_writes(db) if isinstance(write, _PendingEmail))
    if waiting + len(emails) > PENDING_MAX:
        await send_now(db)
    for email in emails:
        pending(db, ("email", email.dedupe_key), partial(_PendingEmail, _row(email, now)))
        defer_batched(db, SEND_JOB, "dedupe_keys", email.dedupe_key)


async def queue(db: AsyncSession, context: EmailContext, dedupe_key: str, now: datetime,
                expires_at: datetime | None) -> int | None:  # fmt: skip
    """Queue one email now unless one with `dedupe_key` exists; its id, or None when it already was."""
    row = _row(Queued(context, dedupe_key, expires_at), now)
    email_id = (await db.scalars(_QUEUE_NOW, [row])).first()
    if email_id is not None:
        defer_batched(db, SEND_JOB, "dedupe_keys", dedupe_key)
    return email_id


def _row(email: Queued, now: datetime) -> dict[str, Any]:
    return {
        "dedupe_key": email.dedupe_key,
        "kind": email.context.kind.value,
        "recipient": email.context.recipient.value,
        "to_email": email.context.to_email,
        "session_uid": email.context.session_uid,
        "payload": email.context.to_payload(),
        "message_id": message_id(email.dedupe_key),
        "next_attempt_at": now,
        "expires_at": email.expires_at,
    }


class _PendingEmail:
    """One email for the write batch (one INSERT each: SQLAlchemy cannot reuse a multi-row one)."""

    def __init__(self, row: dict[str, Any]) -> None:
        self.row = row

    def write(self) -> Write:
        return Write("email", _inserting, self.row)


def _inserting(param: Param) -> UpdateBase:
    values = bound_columns(OutboundEmail.__table__, _COLUMNS, param)
    return insert(OutboundEmail).values(values).on_conflict_do_nothing(index_elements=["dedupe_key"])


async def ics_chain(db: AsyncSession, row: Session) -> tuple[str, int]:
    """The calendar UID and sequence of a session: a reschedule updates the first booking's event."""
    root, depth = row, 0
    while root.rescheduled_from_uid and depth < MAX_CHAIN:
        previous = await db.get(Session, root.rescheduled_from_uid)
        if previous is None:
            break
        root, depth = previous, depth + 1
    return f"{root.uid}@thotis", depth


async def queue_session_emails(
    db: AsyncSession,
    kind: EmailKind,
    row: Session,
    now: datetime,
    *,
    recipients: tuple[Recipient, ...] = (Recipient.STUDENT, Recipient.MENTOR),
    previous_start: datetime | None = None,
) -> None:
    """Queue `kind` about `row` for each recipient (the parent of a minor is copied on confirmations)."""
    mentor = await db.get(StudentProfile, row.mentor_id)
    ics_uid, sequence = await ics_chain(db, row)
    if kind is EmailKind.CANCELLATION:
        sequence += 1  # cancelling is one more update of the same calendar event
    wanted = list(recipients)
    if kind is EmailKind.CONFIRMATION and row.student_is_minor and row.parent_email and Recipient.STUDENT in wanted:
        wanted.append(Recipient.PARENT)
    expires_at = _expiry(kind, row, now)
    emails = [
        Queued(context, f"{kind.value}:{row.uid}:{recipient.value}", expires_at)
        for recipient in wanted
        if (context := _context(kind, recipient, row, mentor, ics_uid, sequence, previous_start)) is not None
    ]
    await queue_many(db, emails, now)


def _expiry(kind: EmailKind, row: Session, now: datetime) -> datetime:
    if kind in (EmailKind.CONFIRMATION, EmailKind.REMINDER):
        return row.start_at  # telling about a session that has begun helps nobody
    if kind is EmailKind.FEEDBACK_REQUEST:
        return now + FEEDBACK_LIFETIME
    return now + NOTICE_LIFETIME


def _context(kind: EmailKind, recipient: Recipient, row: Session, mentor: StudentProfile | None, ics_uid: str,
             sequence: int, previous_start: datetime | None) -> EmailContext | None:  # fmt: skip
    if recipient is Recipient.MENTOR:
        if mentor is None:
            return None
        to_email, to_name, locale, zone = mentor.email, mentor.name, mentor.locale, MENTOR_TIME_ZONE
    elif recipient is Recipient.PARENT:
        if not row.parent_email:
            return None
        to_email, to_name, locale, zone = row.parent_email, "", row.student_language, row.student_time_zone
    else:
        to_email, to_name = row.student_email, row.student_name
        locale, zone = row.student_language, row.student_time_zone
    return EmailContext(
        kind=kind,
        recipient=recipient,
        to_email=to_email,
        to_name=to_name,
        locale=locale,
        time_zone=zone,
        session_uid=row.uid,
        ics_uid=ics_uid,
        ics_sequence=sequence,
        start=row.start_at,
        end=row.end_at,
        mentor_name=mentor.name if mentor is not None else "",
        student_name=row.student_name,
        meet_url=row.meet_url,
        question=row.student_question,
        mentor_university=mentor.university if mentor is not None else None,
        previous_start=previous_start,
        previous_end=previous_start + (row.end_at - row.start_at) if previous_start else None,
        cancellation_reason=row.cancellation_reason,
        cancelled_by=row.cancelled_by,
        rating_url=None,  # minted when sent: a link is valid 14 days from the email, not from the queueing
        alert_title=None,
        alert_body=None,
    )
