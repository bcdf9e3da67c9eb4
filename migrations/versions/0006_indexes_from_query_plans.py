"""Indexes found by `benchmarks/explain.py`: each removes a full scan of a large table

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24

On 300,000 sessions (benchmarks/results/explain.md, before → after):
- privacy export and erasure look sessions and emails up by address (lower-cased);
- the feedback sweep looks for completed sessions not yet asked for feedback;
- the retention job walks the oldest sessions not yet anonymised (erased rows leave the index,
  so the walk does not slow down as they accumulate);
- the review queue lists flagged ratings not yet reviewed;
- the platform statistics count sessions by status over a range of start times.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_sessions_student_email", "sessions", [sa.text("lower(student_email)")], unique=False, schema="thotis"
    )
    op.create_index(
        "ix_sessions_parent_email", "sessions", [sa.text("lower(parent_email)")], unique=False, schema="thotis"
    )
    op.create_index(
        "ix_email_outbox_to_email", "email_outbox", [sa.text("lower(to_email)")], unique=False, schema="thotis"
    )
    op.create_index(
        "ix_sessions_feedback_due",
        "sessions",
        ["end_at"],
        unique=False,
        schema="thotis",
        postgresql_where=sa.text("status = 'completed' AND feedback_queued_at IS NULL"),
    )
    op.create_index(
        "ix_sessions_not_anonymised",
        "sessions",
        ["end_at"],
        unique=False,
        schema="thotis",
        postgresql_where=sa.text("student_name <> '(erased)'"),
    )
    op.create_index(
        "ix_ratings_review_queue",
        "ratings",
        ["created_at", "id"],
        unique=False,
        schema="thotis",
        postgresql_where=sa.text("flagged_for_review AND reviewed_at IS NULL"),
    )
    op.create_index(
        "ix_sessions_start_status",
        "sessions",
        ["start_at"],
        unique=False,
        schema="thotis",
        postgresql_include=["status"],
    )


def downgrade() -> None:
    for table, name in (
        ("sessions", "ix_sessions_start_status"),
        ("ratings", "ix_ratings_review_queue"),
        ("sessions", "ix_sessions_not_anonymised"),
        ("sessions", "ix_sessions_feedback_due"),
        ("email_outbox", "ix_email_outbox_to_email"),
        ("sessions", "ix_sessions_parent_email"),
        ("sessions", "ix_sessions_student_email"),
    ):
        op.drop_index(name, table_name=table, schema="thotis")
