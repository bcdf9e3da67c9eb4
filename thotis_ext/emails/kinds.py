"""What an email is about and whom it is for: the two keys that pick its template and its wording."""

from __future__ import annotations

from enum import StrEnum


class EmailKind(StrEnum):
    """The kinds of email the sidecar sends (SPEC.md §7); each has an HTML and a text template."""

    CONFIRMATION = "confirmation"
    REMINDER = "reminder"
    CANCELLATION = "cancellation"
    RESCHEDULE = "reschedule"
    FEEDBACK_REQUEST = "feedback_request"
    ADMIN_ALERT = "admin_alert"


class Recipient(StrEnum):
    """Who reads the email: the wording speaks to them (you, your mentor, your child's session…)."""

    STUDENT = "student"
    MENTOR = "mentor"
    PARENT = "parent"
    ADMIN = "admin"
