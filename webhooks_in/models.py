"""The inbox of Cal.com webhooks: each event stored once, then handled by a job (R11)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.database import Base

INBOX_STATUSES = ("pending", "processed", "ignored", "failed")


class CalcomWebhookEvent(Base):
    """One Cal.com webhook as received; `dedupe_key` makes a second delivery of it a no-op."""

    __tablename__ = "calcom_webhook_events"
    __table_args__ = (
        CheckConstraint("status IN (" + ", ".join(f"'{s}'" for s in INBOX_STATUSES) + ")", name="inbox_status_known"),
        Index("ix_calcom_webhook_events_pending", "id", postgresql_where=text("status = 'pending'")),
        Index("ix_calcom_webhook_events_booking", "booking_uid"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), nullable=False, unique=True)
    trigger: Mapped[str] = mapped_column(String(64), nullable=False)
    booking_uid: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    #: The exact bytes received (what the signature covered; JSON text cannot hold every escape).
    body: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="pending")
    outcome: Mapped[str | None] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
