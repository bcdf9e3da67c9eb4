"""One scheduled session per mentor and start time

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "uq_sessions_mentor_scheduled_start",
        "sessions",
        ["mentor_id", "start_at"],
        unique=True,
        schema="thotis",
        postgresql_where=sa.text("status = 'scheduled'"),
    )


def downgrade() -> None:
    op.drop_index("uq_sessions_mentor_scheduled_start", table_name="sessions", schema="thotis")
