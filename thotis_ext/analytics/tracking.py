"""Recording product events (seed task 21) in the transaction of the change they describe.

Events carry no personal data: the distinct id is the session (`session:<uid>`) or the mentor
(`mentor:<id>`), and properties are fields, universities, languages and ratings.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.write_batch import Param, Write, bound_columns, defer
from thotis_ext.analytics.models import AnalyticsEvent
from thotis_ext.models import Session, StudentProfile

EVENT_NAMES = frozenset(
    {
        "profile_created",
        "booking_created",
        "booking_cancelled",
        "booking_completed",
        "rating_submitted",
        "reminder_sent",
        "feedback_requested",
    }
)


def track(db: AsyncSession, name: str, distinct_id: str, properties: dict[str, Any], now: datetime) -> None:
    """Record one event for the exporter, with the transaction's write batch (no statement here);
    raises ValueError for an unknown name (a bug, not user input)."""
    if name not in EVENT_NAMES:
        raise ValueError(f"unknown analytics event {name!r}")
    row = {"insert_id": uuid.uuid4().hex, "name": name, "distinct_id": distinct_id, "properties": properties,
           "occurred_at": now}  # fmt: skip
    defer(db, Write("analytics", _insert_event, row))  # sent with the transaction's write batch


def _insert_event(param: Param) -> Insert:
    names = ("insert_id", "name", "distinct_id", "properties", "occurred_at")
    return insert(AnalyticsEvent).values(bound_columns(AnalyticsEvent.__table__, names, param))


def mentor_properties(profile: StudentProfile | None) -> dict[str, Any]:
    """What analytics may know about a mentor: id, field, university, year, language."""
    if profile is None:
        return {}
    return {
        "mentorId": profile.user_id,
        "field": profile.field,
        "university": profile.university,
        "currentYear": profile.current_year,
        "mentorLanguage": profile.locale,
    }


def track_session(
    db: AsyncSession, name: str, row: Session, mentor: StudentProfile | None, now: datetime, **extra: Any
) -> None:
    """A session event: the session as distinct id, the mentor's public facts, the student's language."""
    properties = {
        **mentor_properties(mentor),
        "sessionUid": row.uid,
        "studentLanguage": row.student_language,
        "isMinor": row.student_is_minor,
        "status": row.status,
        **extra,
    }
    track(db, name, f"session:{row.uid}", properties, now)
