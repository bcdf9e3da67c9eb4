"""Closed vocabularies of the domain (SPEC.md §2)."""

from __future__ import annotations

from enum import StrEnum


class AcademicField(StrEnum):
    """The academic fields a mentor studies in."""

    LAW = "LAW"
    MEDICINE = "MEDICINE"
    ENGINEERING = "ENGINEERING"
    BUSINESS = "BUSINESS"
    COMPUTER_SCIENCE = "COMPUTER_SCIENCE"
    PSYCHOLOGY = "PSYCHOLOGY"
    EDUCATION = "EDUCATION"
    ARTS = "ARTS"
    SCIENCES = "SCIENCES"
    OTHER = "OTHER"


class Locale(StrEnum):
    """Languages the sidecar speaks to people."""

    FR = "fr"
    EN = "en"


class SessionStatus(StrEnum):
    """Lifecycle of a mentoring session as mirrored from Cal.com."""

    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    NO_SHOW = "no_show"


class CancelledBy(StrEnum):
    """Who cancelled a session."""

    MENTOR = "mentor"
    STUDENT = "student"
    ADMIN = "admin"
    SYSTEM = "system"


class CalcomLinkStatus(StrEnum):
    """Health of a mentor's link to their Cal.com user and 15-minute event type."""

    UNLINKED = "unlinked"
    PENDING = "pending"
    LINKED = "linked"
    ERROR = "error"
