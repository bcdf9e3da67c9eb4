"""The inbox of Cal.com webhooks

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calcom_webhook_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("trigger", sa.String(length=64), nullable=False),
        sa.Column("booking_uid", sa.String(length=64), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'processed', 'ignored', 'failed')",
            name=op.f("ck_calcom_webhook_events_inbox_status_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calcom_webhook_events")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_calcom_webhook_events_dedupe_key")),
        schema="thotis",
    )
    op.create_index(
        "ix_calcom_webhook_events_booking", "calcom_webhook_events", ["booking_uid"], unique=False, schema="thotis"
    )
    op.create_index(
        "ix_calcom_webhook_events_pending",
        "calcom_webhook_events",
        ["id"],
        unique=False,
        schema="thotis",
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("ix_calcom_webhook_events_pending", table_name="calcom_webhook_events", schema="thotis")
    op.drop_index("ix_calcom_webhook_events_booking", table_name="calcom_webhook_events", schema="thotis")
    op.drop_table("calcom_webhook_events", schema="thotis")
