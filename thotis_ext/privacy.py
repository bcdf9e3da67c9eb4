"""GDPR for prospective students and mentors (R14): export everything held about an email, erase
it, and anonymise old sessions after the retention period.

Erasure anonymises rather than deletes where a row carries aggregates (a session counts in its
mentor's statistics, a rating in their average): the people go, the numbers stay (property 49).
Raw copies that can hold the person (queued emails here, Cal.com webhook bodies in
webhooks_in.privacy) are deleted; outbound event payloads lose the feedback text.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.cache import Cache
from thotis_ext.emails.models import OutboundEmail
from thotis_ext.models import Rating, Session, StudentProfile
from thotis_ext.profiles.service import invalidate_profile_after_commit
from thotis_ext.profiles.views import private_view
from thotis_ext.sessions.views import session_view
from webhooks_out.outbox import scrub_field

#: Also named by the partial index ix_sessions_not_anonymised (migration 0006): change both together.
ERASED_NAME = "(erased)"
#: The mentor of an erased profile, as it still appears in admin tables and exports.
ERASED_MENTOR = "(former mentor)"


def erased_address(seed: str) -> str:
    """A placeholder address that names nobody (kept unique per row, valid for the constraints)."""
    return f"erased-{hashlib.sha256(seed.encode()).hexdigest()[:16]}@erased.invalid"


def _matches(column: Any, email: str) -> Any:
    return func.lower(column) == email.strip().lower()


async def export_subject(db: AsyncSession, email: str) -> dict[str, Any]:
    """Everything the sidecar holds about `email`: sessions (as student or parent), their ratings,
    a mentor profile, and the emails sent or queued to it (R14.2)."""
    sessions = list(
        await db.scalars(
            select(Session)
            .where(or_(_matches(Session.student_email, email), _matches(Session.parent_email, email)))
            .order_by(Session.start_at)
        )
    )
    uids = [row.uid for row in sessions]
    ratings = list(await db.scalars(select(Rating).where(Rating.session_uid.in_(uids)))) if uids else []
    profile = await db.scalar(select(StudentProfile).where(_matches(StudentProfile.email, email)))
    emails = list(
        await db.scalars(
            select(OutboundEmail).where(_matches(OutboundEmail.to_email, email)).order_by(OutboundEmail.id)
        )
    )
    return {
        "email": email,
        "sessions": [session_view(row) for row in sessions],
        "ratings": [
            {
                "sessionUid": r.session_uid,
                "rating": r.rating,
                "feedback": r.feedback,
                "createdAt": r.created_at.isoformat() if r.created_at else None,
            }
            for r in ratings
        ],
        "mentorProfile": _profile_export(profile) if profile is not None else None,
        "emails": [
            {
                "kind": e.kind,
                "status": e.status,
                "createdAt": e.created_at.isoformat() if e.created_at else None,
                "sentAt": e.sent_at.isoformat() if e.sent_at else None,
            }
            for e in emails
        ],
    }


def _profile_export(profile: StudentProfile) -> dict[str, Any]:
    view = private_view(profile, "/media")
    view.pop("calcom", None)  # credentials are not personal data of the mentor's to take away
    return view


async def erase_subject(db: AsyncSession, cache: Cache, email: str) -> tuple[dict[str, int], list[str]]:
    """Remove or anonymise every personal datum about `email` that the domain holds (R14.3);
    aggregates stay as they are. Returns counts and the sessions concerned, whose raw Cal.com
    webhooks the caller erases too (webhooks_in.privacy)."""
    sessions = list(
        await db.scalars(
            select(Session)
            .where(or_(_matches(Session.student_email, email), _matches(Session.parent_email, email)))
            .with_for_update()
        )
    )
    uids = [row.uid for row in sessions]
    for row in sessions:
        if row.student_email.lower() == email.strip().lower():
            _anonymise_student(row)
        else:  # the address is a parent's: only the parent's part goes
            row.parent_email = erased_address("parent:" + row.uid)
    ratings = await _forget_sessions(db, uids)
    profile = await db.scalar(select(StudentProfile).where(_matches(StudentProfile.email, email)).with_for_update())
    if profile is not None:
        _anonymise_mentor(profile)
        invalidate_profile_after_commit(db, cache, profile.user_id)
    queued = await db.execute(delete(OutboundEmail).where(_matches(OutboundEmail.to_email, email)))
    await db.flush()
    counts = {
        "sessions": len(sessions),
        "ratings": ratings,
        "mentorProfiles": 1 if profile is not None else 0,
        "emails": int(getattr(queued, "rowcount", 0) or 0),
    }
    return counts, uids


async def _forget_sessions(db: AsyncSession, uids: list[str]) -> int:
    """Feedback text, queued emails and outbound rating payloads of these sessions; ratings cleared."""
    if not uids:
        return 0
    cleared = await db.execute(
        update(Rating).where(Rating.session_uid.in_(uids), Rating.feedback.is_not(None)).values(feedback=None)
    )
    await db.execute(delete(OutboundEmail).where(OutboundEmail.session_uid.in_(uids)))
    await scrub_field(db, uids, "feedback")
    return int(getattr(cleared, "rowcount", 0) or 0)


def _anonymise_student(row: Session) -> None:
    row.student_name = ERASED_NAME
    row.student_email = erased_address("student:" + row.uid)
    row.student_question = None
    row.cancellation_reason = None
    if row.parent_email is not None:
        row.parent_email = erased_address("parent:" + row.uid)


def _anonymise_mentor(profile: StudentProfile) -> None:
    profile.name = ERASED_MENTOR
    profile.email = erased_address("mentor:" + profile.user_id)
    profile.bio = None  # incomplete: never listed again
    profile.linkedin_url = None
    profile.photo_hash = None
    profile.calcom_api_key_encrypted = None
    profile.is_active = False


async def anonymise_expired(db: AsyncSession, now: datetime, months: int, *, limit: int = 500) -> list[str]:
    """Anonymise prospective students' data of sessions that ended more than `months` ago (R14);
    the sessions done, whose raw Cal.com webhooks the caller erases too."""
    if months <= 0:
        return []
    cutoff = now - timedelta(days=30 * months)
    rows = list(
        await db.scalars(
            select(Session)
            .where(Session.end_at < cutoff, Session.student_name != ERASED_NAME)
            .order_by(Session.end_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    for row in rows:
        _anonymise_student(row)
    uids = [row.uid for row in rows]
    await _forget_sessions(db, uids)
    return uids
