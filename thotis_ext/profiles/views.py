"""What callers see of a profile: the public card, the owner's view, the list summary.

Plain dicts with camelCase keys, ready for JSON; e-mail and Cal.com details only in the
private view (the mentor themself and admins).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from thotis_ext import rules
from thotis_ext.models import StudentProfile


def photo_url(media_base_url: str, photo_hash: str | None) -> str | None:
    return f"{media_base_url}/photos/{photo_hash}.jpg" if photo_hash else None


def _rating(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def stats_view(profile: StudentProfile) -> dict[str, Any]:
    """Session counters and rates (R7.1, R7.5)."""
    return {
        "completedSessions": profile.completed_sessions,
        "scheduledSessions": profile.scheduled_sessions,
        "cancelledSessions": profile.cancelled_sessions,
        "mentorCancellations": profile.mentor_cancellations,
        "noShowSessions": profile.no_show_sessions,
        "cancellationRate": rules.cancellation_rate(profile.completed_sessions, profile.cancelled_sessions),
        "completionRate": rules.completion_rate(
            profile.completed_sessions, profile.cancelled_sessions, profile.no_show_sessions
        ),
        "averageRating": _rating(profile.average_rating),
        "totalRatings": profile.total_ratings,
    }


def public_view(profile: StudentProfile, media_base_url: str) -> dict[str, Any]:
    """The profile as the website, the widget and other callers see it."""
    return {
        "userId": profile.user_id,
        "name": profile.name,
        "locale": profile.locale,
        "university": profile.university,
        "degree": profile.degree,
        "field": profile.field,
        "currentYear": profile.current_year,
        "bio": profile.bio,
        "bioExcerpt": rules.bio_excerpt(profile.bio),
        "linkedInUrl": profile.linkedin_url,
        "profilePhotoUrl": photo_url(media_base_url, profile.photo_hash),
        "isActive": profile.is_active,
        "isComplete": bool(profile.is_complete),
        "stats": stats_view(profile),
        "averageRating": _rating(profile.average_rating),
        "totalRatings": profile.total_ratings,
        "availableSlots7d": profile.available_slots_7d,
        "nextAvailableAt": _iso(profile.next_available_at),
        "calcom": {"linked": profile.calcom_link_status == "linked"},
    }


def private_view(profile: StudentProfile, media_base_url: str) -> dict[str, Any]:
    """The public view plus what only the mentor and admins may see."""
    view = public_view(profile, media_base_url)
    view["email"] = profile.email
    view["calcom"] = {
        "linked": profile.calcom_link_status == "linked",
        "status": profile.calcom_link_status,
        "username": profile.calcom_username,
        "userId": profile.calcom_user_id,
        "eventTypeId": profile.calcom_event_type_id,
        "hasApiKey": profile.calcom_api_key_encrypted is not None,
        "error": profile.calcom_link_error,
    }
    view["createdAt"] = _iso(profile.created_at)
    view["updatedAt"] = _iso(profile.updated_at)
    return view


def summary_view(row: Mapping[Any, Any], media_base_url: str) -> dict[str, Any]:
    """One mentor in a list (R4.2): the card a directory shows."""
    return {
        "userId": row["user_id"],
        "name": row["name"],
        "profilePhotoUrl": photo_url(media_base_url, row["photo_hash"]),
        "university": row["university"],
        "degree": row["degree"],
        "field": row["field"],
        "currentYear": row["current_year"],
        "bioExcerpt": row["bio_excerpt"],
        "averageRating": _rating(row["average_rating"]),
        "totalRatings": row["total_ratings"],
        "availableSlots7d": row["available_slots_7d"],
        "nextAvailableAt": _iso(row["next_available_at"]),
    }
