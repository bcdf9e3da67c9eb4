"""Ratings of sessions, the mentor's average, and the admin review queue (R7.3, R7.4, R19).

A session is rated once, after it ended; the mentor's count, sum and average (half-up to one
decimal) move in the same transaction as the rating, and a rating below 3 waits in the review
queue until an admin resolves it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Numeric, cast, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.cache import Cache
from core.clock import Clock
from core.errors import BusinessRuleViolation, Conflict, InvalidInput, NotFound
from thotis_ext import events, rules
from thotis_ext.enums import SessionStatus
from thotis_ext.models import Rating, Session, StudentProfile
from thotis_ext.profiles.service import ProfileNotFound, check_user_id, invalidate_profile_after_commit
from thotis_ext.ratings.schemas import RatingCreate
from thotis_ext.sessions.service import SessionNotFound

#: Longest a rating page may be.
MAX_PAGE_SIZE = 100


class RatingExists(Conflict):
    code = "RATING_EXISTS"
    default_message = "This session has already been rated."


class RatingNotFound(NotFound):
    code = "RATING_NOT_FOUND"
    default_message = "No such rating."


def rating_view(row: Rating) -> dict[str, Any]:
    return {
        "id": row.id,
        "sessionUid": row.session_uid,
        "mentorId": row.mentor_id,
        "rating": row.rating,
        "feedback": row.feedback,
        "flaggedForReview": row.flagged_for_review,
        "reviewedAt": _iso(row.reviewed_at),
        "createdAt": _iso(row.created_at),
    }


class RatingPhase(StrEnum):
    """Where a session stands for its rating link: what the rating page shows."""

    OPEN = "open"  # ended (or completed) and not rated yet
    NOT_ENDED = "not_ended"
    NOT_RATEABLE = "not_rateable"  # cancelled, or a no-show
    RATED = "rated"


@dataclass(frozen=True, slots=True)
class RatingState:
    """What the rating page needs to know about a session (nothing about the student but the language)."""

    phase: RatingPhase
    mentor_name: str
    start: datetime
    end: datetime
    language: str
    time_zone: str
    rating: int | None

    @property
    def zone(self) -> ZoneInfo:
        """The student's time zone (UTC when the stored name is unknown here)."""
        try:
            return ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")


class RatingService:
    """Ratings over one database session."""

    def __init__(self, session: AsyncSession, cache: Cache, clock: Clock) -> None:
        self.session = session
        self.cache = cache
        self.clock = clock

    async def rate(self, uid: str, data: RatingCreate) -> dict[str, Any]:
        """Rate a session that has ended, once (R7.3, R19.2, R19.4).

        Raises:
            SessionNotFound, BusinessRuleViolation (SESSION_NOT_ENDED, SESSION_NOT_RATEABLE),
            InvalidInput (INVALID_RATING), RatingExists
        """
        if not 1 <= data.rating <= 5:
            raise InvalidInput("A rating is a whole number from 1 to 5.", code="INVALID_RATING")
        session_row = await self.session.get(Session, uid, with_for_update=True) if 0 < len(uid) <= 64 else None
        if session_row is None:
            raise SessionNotFound()
        if session_row.status in (SessionStatus.CANCELLED.value, SessionStatus.NO_SHOW.value):
            raise BusinessRuleViolation(
                f"A {session_row.status.replace('_', '-')} session cannot be rated.", code="SESSION_NOT_RATEABLE"
            )
        if session_row.status != SessionStatus.COMPLETED.value and self.clock.now() < session_row.end_at:
            raise BusinessRuleViolation("A session can be rated once it has ended.", code="SESSION_NOT_ENDED")
        row = Rating(
            session_uid=uid,
            mentor_id=session_row.mentor_id,
            rating=data.rating,
            feedback=data.feedback or None,
            flagged_for_review=rules.is_low_rating(data.rating),
        )
        try:
            async with self.session.begin_nested():
                self.session.add(row)
                await self.session.flush()
        except IntegrityError as exc:
            raise RatingExists() from exc
        mentor = StudentProfile
        await self.session.execute(
            update(mentor)
            .where(mentor.user_id == session_row.mentor_id)
            .values(
                total_ratings=mentor.total_ratings + 1,
                rating_sum=mentor.rating_sum + data.rating,
                # PostgreSQL's round() on numeric rounds halves away from zero: half-up here (R7.4).
                average_rating=func.round(
                    cast(mentor.rating_sum + data.rating, Numeric) / (mentor.total_ratings + 1), 1
                ),
            )
            .execution_options(synchronize_session=False)
        )
        await self.session.refresh(row)
        await events.rating_events(self.session, row, self.clock.now())
        invalidate_profile_after_commit(self.session, self.cache, session_row.mentor_id)
        return rating_view(row)

    async def state(self, uid: str) -> RatingState:
        """Whether the session of a rating link can be rated now, and what to show about it.

        Raises:
            SessionNotFound
        """
        row = await self.session.get(Session, uid) if 0 < len(uid) <= 64 else None
        if row is None:
            raise SessionNotFound()
        mentor = await self.session.get(StudentProfile, row.mentor_id)
        rating = await self.session.scalar(select(Rating.rating).where(Rating.session_uid == uid))
        if rating is not None:
            phase = RatingPhase.RATED
        elif row.status in (SessionStatus.CANCELLED.value, SessionStatus.NO_SHOW.value):
            phase = RatingPhase.NOT_RATEABLE
        elif row.status != SessionStatus.COMPLETED.value and self.clock.now() < row.end_at:
            phase = RatingPhase.NOT_ENDED
        else:
            phase = RatingPhase.OPEN
        return RatingState(
            phase=phase,
            mentor_name=mentor.name if mentor is not None else "",
            start=row.start_at,
            end=row.end_at,
            language=row.student_language,
            time_zone=row.student_time_zone,
            rating=rating,
        )

    async def of_mentor(self, user_id: str, *, page: int, page_size: int) -> tuple[list[dict[str, Any]], int]:
        """A mentor's ratings, newest first, and how many there are.

        Raises:
            InvalidUserId, ProfileNotFound
        """
        check_user_id(user_id)
        if await self.session.get(StudentProfile, user_id) is None:
            raise ProfileNotFound()
        where = Rating.mentor_id == user_id
        total = await self.session.scalar(select(func.count()).select_from(Rating).where(where)) or 0
        rows = await self.session.scalars(
            select(Rating)
            .where(where)
            .order_by(Rating.created_at.desc(), Rating.id.desc())
            .offset((page - 1) * page_size)
            .limit(page_size)
        )
        return [rating_view(row) for row in rows], total

    async def review_queue(self) -> list[dict[str, Any]]:
        """Low ratings no admin has resolved yet, oldest first (R19.4)."""
        rows = await self.session.scalars(
            select(Rating)
            .where(Rating.flagged_for_review, Rating.reviewed_at.is_(None))
            .order_by(Rating.created_at, Rating.id)
            .limit(500)
        )
        return [rating_view(row) for row in rows]

    async def resolve(self, rating_id: int) -> dict[str, Any]:
        """Take a low rating out of the queue (resolving it again changes nothing).

        Raises:
            RatingNotFound
        """
        row = await self.session.get(Rating, rating_id, with_for_update=True) if 0 < rating_id < 2**63 else None
        if row is None or not row.flagged_for_review:
            raise RatingNotFound()
        if row.reviewed_at is None:
            row.reviewed_at = self.clock.now()
            await self.session.flush()
        return rating_view(row)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
