"""ORM models of the sidecar's own tables, in the `thotis` schema.

Constraints that keep data sane live in the database too (CHECK, UNIQUE, FK), not only in
Python, so a bug or a manual fix cannot store a year 11 or a second rating for a session.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.database import Base
from thotis_ext.enums import AcademicField, CalcomLinkStatus, CancelledBy, SessionStatus

_FIELDS = ", ".join(f"'{f.value}'" for f in AcademicField)
_STATUSES = ", ".join(f"'{s.value}'" for s in SessionStatus)
_CANCELLERS = ", ".join(f"'{c.value}'" for c in CancelledBy)
_LINK_STATUSES = ", ".join(f"'{s.value}'" for s in CalcomLinkStatus)

COMPLETE_EXPRESSION = (
    "university IS NOT NULL AND degree IS NOT NULL AND field IS NOT NULL "
    "AND current_year IS NOT NULL AND bio IS NOT NULL"
)


def _counter() -> Mapped[int]:
    return mapped_column(Integer, nullable=False, server_default=text("0"), default=0)


def _created() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class StudentProfile(Base):
    """A mentor: a current university student who answers prospective students' questions."""

    __tablename__ = "student_profiles"
    __table_args__ = (
        CheckConstraint("current_year BETWEEN 1 AND 10", name="current_year_range"),
        CheckConstraint("char_length(bio) BETWEEN 50 AND 1000", name="bio_length"),
        CheckConstraint(f"field IN ({_FIELDS})", name="field_known"),
        CheckConstraint("locale IN ('fr', 'en')", name="locale_known"),
        CheckConstraint(f"calcom_link_status IN ({_LINK_STATUSES})", name="link_status_known"),
        CheckConstraint(
            "completed_sessions >= 0 AND scheduled_sessions >= 0 AND cancelled_sessions >= 0 "
            "AND mentor_cancellations >= 0 AND no_show_sessions >= 0 AND total_ratings >= 0 "
            "AND available_slots_7d >= 0",
            name="counters_not_negative",
        ),
        Index(
            "ix_student_profiles_discovery",
            "field",
            text("available_slots_7d DESC"),
            text("average_rating DESC NULLS LAST"),
            "user_id",
            postgresql_where=text("is_active AND is_complete"),
        ),
        Index("ix_student_profiles_university", func.lower(text("university"))),
    )

    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    email: Mapped[str] = mapped_column(String(320), nullable=False)
    locale: Mapped[str] = mapped_column(String(2), nullable=False, server_default="fr")
    university: Mapped[str | None] = mapped_column(String(200))
    degree: Mapped[str | None] = mapped_column(String(200))
    field: Mapped[str | None] = mapped_column(String(32))
    current_year: Mapped[int | None] = mapped_column(SmallInteger)
    bio: Mapped[str | None] = mapped_column(Text)
    linkedin_url: Mapped[str | None] = mapped_column(String(500))
    photo_hash: Mapped[str | None] = mapped_column(String(64))
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    is_complete: Mapped[bool] = mapped_column(Boolean, Computed(COMPLETE_EXPRESSION, persisted=True))

    calcom_user_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    calcom_username: Mapped[str | None] = mapped_column(String(255))
    calcom_event_type_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    calcom_api_key_encrypted: Mapped[str | None] = mapped_column(Text)
    calcom_link_status: Mapped[str] = mapped_column(
        String(16), nullable=False, server_default=CalcomLinkStatus.UNLINKED.value
    )
    calcom_link_error: Mapped[str | None] = mapped_column(Text)

    completed_sessions: Mapped[int] = _counter()
    scheduled_sessions: Mapped[int] = _counter()
    cancelled_sessions: Mapped[int] = _counter()
    mentor_cancellations: Mapped[int] = _counter()
    no_show_sessions: Mapped[int] = _counter()
    total_ratings: Mapped[int] = _counter()
    rating_sum: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=text("0"))
    average_rating: Mapped[Decimal | None] = mapped_column(Numeric(2, 1))
    available_slots_7d: Mapped[int] = _counter()
    next_available_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    slots_refreshed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), onupdate=func.now()
    )


class Photo(Base):
    """A processed profile photo, addressed by the hash of its bytes (so it can be cached forever)."""

    __tablename__ = "photos"

    content_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(32), nullable=False)
    data: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[datetime] = _created()


class Session(Base):
    """The sidecar's mirror of a Thotis session, i.e. a Cal.com booking of a mentor's event type."""

    __tablename__ = "sessions"
    __table_args__ = (
        CheckConstraint("end_at = start_at + interval '15 minutes'", name="fifteen_minutes"),
        CheckConstraint(f"status IN ({_STATUSES})", name="status_known"),
        CheckConstraint(f"cancelled_by IS NULL OR cancelled_by IN ({_CANCELLERS})", name="canceller_known"),
        CheckConstraint(
            "NOT student_is_minor OR (parent_email IS NOT NULL AND parental_consent)",
            name="minor_has_parental_consent",
        ),
        Index("ix_sessions_mentor_start", "mentor_id", "start_at"),
        # Two scheduled sessions of one mentor never start together (R2.5, property 7).
        Index(
            "uq_sessions_mentor_scheduled_start",
            "mentor_id",
            "start_at",
            unique=True,
            postgresql_where=text("status = 'scheduled'"),
        ),
        Index("ix_sessions_status_start", "status", "start_at"),
        # Found by benchmarks/explain.py (migration 0006): privacy lookups by address, the feedback
        # and retention sweeps, and the platform statistics' counts by start time.
        Index("ix_sessions_student_email", func.lower(text("student_email"))),
        Index("ix_sessions_parent_email", func.lower(text("parent_email"))),
        Index(
            "ix_sessions_feedback_due",
            "end_at",
            postgresql_where=text("status = 'completed' AND feedback_queued_at IS NULL"),
        ),
        Index("ix_sessions_not_anonymised", "end_at", postgresql_where=text("student_name <> '(erased)'")),
        Index("ix_sessions_start_status", "start_at", postgresql_include=["status"]),
    )

    uid: Mapped[str] = mapped_column(String(64), primary_key=True)
    calcom_booking_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    mentor_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("student_profiles.user_id", ondelete="RESTRICT"), nullable=False
    )
    start_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    end_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    meet_url: Mapped[str | None] = mapped_column(Text)
    student_name: Mapped[str] = mapped_column(String(200), nullable=False)
    student_email: Mapped[str] = mapped_column(String(320), nullable=False)
    student_time_zone: Mapped[str] = mapped_column(String(64), nullable=False, server_default="UTC")
    student_language: Mapped[str] = mapped_column(String(2), nullable=False, server_default="fr")
    student_question: Mapped[str | None] = mapped_column(Text)
    student_is_minor: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    parent_email: Mapped[str | None] = mapped_column(String(320))
    parental_consent: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    consent: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    rescheduled_from_uid: Mapped[str | None] = mapped_column(String(64))
    rescheduled_to_uid: Mapped[str | None] = mapped_column(String(64))
    cancelled_by: Mapped[str | None] = mapped_column(String(16))
    cancellation_reason: Mapped[str | None] = mapped_column(Text)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    no_show_party: Mapped[str | None] = mapped_column(String(16))
    #: Set when the 24-hour reminders were queued (R6.3) / the feedback request (R19.1): once each.
    reminder_queued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    feedback_queued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), onupdate=func.now()
    )


class Rating(Base):
    """A prospective student's rating of one session; at most one per session."""

    __tablename__ = "ratings"
    __table_args__ = (
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),
        CheckConstraint("feedback IS NULL OR char_length(feedback) <= 500", name="feedback_length"),
        Index("ix_ratings_mentor_created", "mentor_id", "created_at"),
        Index(
            "ix_ratings_review_queue",
            "created_at",
            "id",
            postgresql_where=text("flagged_for_review AND reviewed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    session_uid: Mapped[str] = mapped_column(
        String(64), ForeignKey("sessions.uid", ondelete="CASCADE"), nullable=False, unique=True
    )
    mentor_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("student_profiles.user_id", ondelete="RESTRICT"), nullable=False
    )
    rating: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    feedback: Mapped[str | None] = mapped_column(Text)
    flagged_for_review: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _created()
