"""A session as API callers see it (SPEC.md §3)."""

from __future__ import annotations

from typing import Any

from thotis_ext import rules
from thotis_ext.models import Session


def session_view(row: Session) -> dict[str, Any]:
    return {
        "uid": row.uid,
        "mentorId": row.mentor_id,
        "start": row.start_at.isoformat(),
        "end": row.end_at.isoformat(),
        "status": row.status,
        "meetUrl": rules.web_url(row.meet_url),  # from Cal.com: never a `javascript:` link
        "prospectiveStudent": {
            "name": row.student_name,
            "email": row.student_email,
            "timeZone": row.student_time_zone,
            "language": row.student_language,
            "question": row.student_question,
            "isMinor": row.student_is_minor,
            "parentEmail": row.parent_email,
            "parentalConsent": row.parental_consent,
        },
        "consent": row.consent,
        "rescheduledFromUid": row.rescheduled_from_uid,
        "rescheduledToUid": row.rescheduled_to_uid,
        "cancellation": (
            {
                "cancelledBy": row.cancelled_by,
                "reason": row.cancellation_reason,
                "cancelledAt": row.cancelled_at.isoformat() if row.cancelled_at else None,
            }
            if row.cancelled_at
            else None
        ),
    }
