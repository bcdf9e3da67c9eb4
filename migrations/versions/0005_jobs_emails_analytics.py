"""Jobs, emails and analytics: the email outbox, analytics events, the job run log, reminder marks

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "email_outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("recipient", sa.String(length=16), nullable=False),
        sa.Column("to_email", sa.String(length=320), nullable=False),
        sa.Column("session_uid", sa.String(length=64), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'skipped', 'expired', 'dead')",
            name=op.f("ck_email_outbox_email_status_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_outbox")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_email_outbox_dedupe_key")),
        schema="thotis",
    )
    op.create_index(
        "ix_email_outbox_due",
        "email_outbox",
        ["next_attempt_at"],
        unique=False,
        schema="thotis",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index("ix_email_outbox_session", "email_outbox", ["session_uid"], unique=False, schema="thotis")
    op.create_table(
        "analytics_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("insert_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("distinct_id", sa.String(length=200), nullable=False),
        sa.Column("properties", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_events")),
        sa.UniqueConstraint("insert_id", name=op.f("uq_analytics_events_insert_id")),
        schema="thotis",
    )
    op.create_index(
        "ix_analytics_events_unsent",
        "analytics_events",
        ["id"],
        unique=False,
        schema="thotis",
        postgresql_where=sa.text("sent_at IS NULL"),
    )
    op.create_table(
        "job_runs",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("last_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_duration_ms", sa.Integer(), nullable=False),
        sa.Column("last_counts", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("last_success_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("runs", sa.BigInteger(), nullable=False),
        sa.Column("failures", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_job_runs")),
        schema="thotis",
    )
    op.add_column(
        "sessions", sa.Column("reminder_queued_at", sa.DateTime(timezone=True), nullable=True), schema="thotis"
    )
    op.add_column(
        "sessions", sa.Column("feedback_queued_at", sa.DateTime(timezone=True), nullable=True), schema="thotis"
    )


def downgrade() -> None:
    op.drop_column("sessions", "feedback_queued_at", schema="thotis")
    op.drop_column("sessions", "reminder_queued_at", schema="thotis")
    op.drop_table("job_runs", schema="thotis")
    op.drop_index("ix_analytics_events_unsent", table_name="analytics_events", schema="thotis")
    op.drop_table("analytics_events", schema="thotis")
    op.drop_index("ix_email_outbox_session", table_name="email_outbox", schema="thotis")
    op.drop_index("ix_email_outbox_due", table_name="email_outbox", schema="thotis")
    op.drop_table("email_outbox", schema="thotis")
