"""The run log: one row per job with its last run and running totals, shown to admins."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.database import Base


class JobRun(Base):
    """The last run of one job (when, how long, what it counted, how it failed) and totals."""

    __tablename__ = "job_runs"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    last_finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    last_duration_ms: Mapped[int] = mapped_column(Integer, nullable=False)
    last_counts: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    last_error: Mapped[str | None] = mapped_column(String(500))
    #: Start of the last run that succeeded: the reconciliation asks Cal.com for changes since then.
    last_success_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    runs: Mapped[int] = mapped_column(BigInteger, nullable=False)
    failures: Mapped[int] = mapped_column(BigInteger, nullable=False)
