"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-23 23:50:32.541437
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "photos",
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("content_hash", name=op.f("pk_photos")),
        schema="thotis",
    )
    op.create_table(
        "student_profiles",
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("locale", sa.String(length=2), server_default="fr", nullable=False),
        sa.Column("university", sa.String(length=200), nullable=True),
        sa.Column("degree", sa.String(length=200), nullable=True),
        sa.Column("field", sa.String(length=32), nullable=True),
        sa.Column("current_year", sa.SmallInteger(), nullable=True),
        sa.Column("bio", sa.Text(), nullable=True),
        sa.Column("linkedin_url", sa.String(length=500), nullable=True),
        sa.Column("photo_hash", sa.String(length=64), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "is_complete",
            sa.Boolean(),
            sa.Computed(
                "university IS NOT NULL AND degree IS NOT NULL AND field IS NOT NULL AND current_year IS NOT NULL AND bio IS NOT NULL",
                persisted=True,
            ),
            nullable=False,
        ),
        sa.Column("calcom_user_id", sa.Integer(), nullable=True),
        sa.Column("calcom_username", sa.String(length=255), nullable=True),
        sa.Column("calcom_event_type_id", sa.Integer(), nullable=True),
        sa.Column("calcom_api_key_encrypted", sa.Text(), nullable=True),
        sa.Column("calcom_link_status", sa.String(length=16), server_default="unlinked", nullable=False),
        sa.Column("calcom_link_error", sa.Text(), nullable=True),
        sa.Column("completed_sessions", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("scheduled_sessions", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("cancelled_sessions", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("mentor_cancellations", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("no_show_sessions", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("total_ratings", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("rating_sum", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("average_rating", sa.Numeric(precision=2, scale=1), nullable=True),
        sa.Column("available_slots_7d", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_available_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("slots_refreshed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "calcom_link_status IN ('unlinked', 'pending', 'linked', 'error')",
            name=op.f("ck_student_profiles_link_status_known"),
        ),
        sa.CheckConstraint(
            "field IN ('LAW', 'MEDICINE', 'ENGINEERING', 'BUSINESS', 'COMPUTER_SCIENCE', 'PSYCHOLOGY', 'EDUCATION', 'ARTS', 'SCIENCES', 'OTHER')",
            name=op.f("ck_student_profiles_field_known"),
        ),
        sa.CheckConstraint("locale IN ('fr', 'en')", name=op.f("ck_student_profiles_locale_known")),
        sa.CheckConstraint("char_length(bio) BETWEEN 50 AND 1000", name=op.f("ck_student_profiles_bio_length")),
        sa.CheckConstraint(
            "completed_sessions >= 0 AND scheduled_sessions >= 0 AND cancelled_sessions >= 0 AND mentor_cancellations >= 0 AND no_show_sessions >= 0 AND total_ratings >= 0 AND available_slots_7d >= 0",
            name=op.f("ck_student_profiles_counters_not_negative"),
        ),
        sa.CheckConstraint("current_year BETWEEN 1 AND 10", name=op.f("ck_student_profiles_current_year_range")),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_student_profiles")),
        sa.UniqueConstraint("calcom_event_type_id", name=op.f("uq_student_profiles_calcom_event_type_id")),
        sa.UniqueConstraint("calcom_user_id", name=op.f("uq_student_profiles_calcom_user_id")),
        schema="thotis",
    )
    op.create_index(
        "ix_student_profiles_discovery",
        "student_profiles",
        [
            "field",
            sa.literal_column("available_slots_7d DESC"),
            sa.literal_column("average_rating DESC NULLS LAST"),
            "user_id",
        ],
        unique=False,
        schema="thotis",
        postgresql_where=sa.text("is_active AND is_complete"),
    )
    op.create_index(
        "ix_student_profiles_university",
        "student_profiles",
        [sa.literal_column("lower(university)")],
        unique=False,
        schema="thotis",
    )
    op.create_table(
        "sessions",
        sa.Column("uid", sa.String(length=64), nullable=False),
        sa.Column("calcom_booking_id", sa.Integer(), nullable=True),
        sa.Column("mentor_id", sa.String(length=128), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("meet_url", sa.Text(), nullable=True),
        sa.Column("student_name", sa.String(length=200), nullable=False),
        sa.Column("student_email", sa.String(length=320), nullable=False),
        sa.Column("student_time_zone", sa.String(length=64), server_default="UTC", nullable=False),
        sa.Column("student_language", sa.String(length=2), server_default="fr", nullable=False),
        sa.Column("student_question", sa.Text(), nullable=True),
        sa.Column("student_is_minor", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("parent_email", sa.String(length=320), nullable=True),
        sa.Column("parental_consent", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("consent", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("rescheduled_from_uid", sa.String(length=64), nullable=True),
        sa.Column("rescheduled_to_uid", sa.String(length=64), nullable=True),
        sa.Column("cancelled_by", sa.String(length=16), nullable=True),
        sa.Column("cancellation_reason", sa.Text(), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("no_show_party", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "cancelled_by IS NULL OR cancelled_by IN ('mentor', 'student', 'admin', 'system')",
            name=op.f("ck_sessions_canceller_known"),
        ),
        sa.CheckConstraint("end_at = start_at + interval '15 minutes'", name=op.f("ck_sessions_fifteen_minutes")),
        sa.CheckConstraint(
            "status IN ('scheduled', 'cancelled', 'completed', 'no_show')", name=op.f("ck_sessions_status_known")
        ),
        sa.CheckConstraint(
            "NOT student_is_minor OR (parent_email IS NOT NULL AND parental_consent)",
            name=op.f("ck_sessions_minor_has_parental_consent"),
        ),
        sa.ForeignKeyConstraint(
            ["mentor_id"],
            ["thotis.student_profiles.user_id"],
            name=op.f("fk_sessions_mentor_id_student_profiles"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("uid", name=op.f("pk_sessions")),
        sa.UniqueConstraint("calcom_booking_id", name=op.f("uq_sessions_calcom_booking_id")),
        schema="thotis",
    )
    op.create_index("ix_sessions_mentor_start", "sessions", ["mentor_id", "start_at"], unique=False, schema="thotis")
    op.create_index("ix_sessions_status_start", "sessions", ["status", "start_at"], unique=False, schema="thotis")
    op.create_table(
        "ratings",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("session_uid", sa.String(length=64), nullable=False),
        sa.Column("mentor_id", sa.String(length=128), nullable=False),
        sa.Column("rating", sa.SmallInteger(), nullable=False),
        sa.Column("feedback", sa.Text(), nullable=True),
        sa.Column("flagged_for_review", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("feedback IS NULL OR char_length(feedback) <= 500", name=op.f("ck_ratings_feedback_length")),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name=op.f("ck_ratings_rating_range")),
        sa.ForeignKeyConstraint(
            ["mentor_id"],
            ["thotis.student_profiles.user_id"],
            name=op.f("fk_ratings_mentor_id_student_profiles"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["session_uid"], ["thotis.sessions.uid"], name=op.f("fk_ratings_session_uid_sessions"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ratings")),
        sa.UniqueConstraint("session_uid", name=op.f("uq_ratings_session_uid")),
        schema="thotis",
    )
    op.create_index("ix_ratings_mentor_created", "ratings", ["mentor_id", "created_at"], unique=False, schema="thotis")


def downgrade() -> None:
    op.drop_index("ix_ratings_mentor_created", table_name="ratings", schema="thotis")
    op.drop_table("ratings", schema="thotis")
    op.drop_index("ix_sessions_status_start", table_name="sessions", schema="thotis")
    op.drop_index("ix_sessions_mentor_start", table_name="sessions", schema="thotis")
    op.drop_table("sessions", schema="thotis")
    op.drop_index("ix_student_profiles_university", table_name="student_profiles", schema="thotis")
    op.drop_index(
        "ix_student_profiles_discovery",
        table_name="student_profiles",
        schema="thotis",
        postgresql_where=sa.text("is_active AND is_complete"),
    )
    op.drop_table("student_profiles", schema="thotis")
    op.drop_table("photos", schema="thotis")
