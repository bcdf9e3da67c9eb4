"""The email outbox: every email is a row written in the transaction of the change it tells about."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Identity, Index, Integer, String, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.database import Base

#: pending → sent; or skipped (switched off by configuration), expired (too late to matter), dead.
EMAIL_STATUSES = ("pending", "sent", "skipped", "expired", "dead")


class OutboundEmail(Base):
    """One email to one recipient; `dedupe_key` makes asking twice queue it once (property 48)."""

    __tablename__ = "email_outbox"
    __table_args__ = (
        CheckConstraint("status IN (" + ", ".join(f"'{s}'" for s in EMAIL_STATUSES) + ")", name="email_status_known"),
        Index("ix_email_outbox_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
        Index("ix_email_outbox_session", "session_uid"),
        Index("ix_email_outbox_to_email", func.lower(text("to_email"))),  # privacy lookups (migration 0006)
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), nullable=False, unique=True)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    recipient: Mapped[str] = mapped_column(String(16), nullable=False)
    to_email: Mapped[str] = mapped_column(String(320), nullable=False)
    session_uid: Mapped[str | None] = mapped_column(String(64))
    #: The rendering context (`EmailContext.to_payload()`), frozen when the email was queued.
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    #: Stable across retries, so a mail client shows a resent email once.
    message_id: Mapped[str] = mapped_column(String(200), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    #: After this instant the email is no longer worth sending (a reminder once the session began).
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
