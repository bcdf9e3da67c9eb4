"""Typed async client for the subset of Cal.com API v2 the sidecar uses (and, in ``simulator``, a fake Cal.com).

Imports nothing from the rest of the project. Start from :class:`CalcomClient`; failures are
:class:`CalcomError` subclasses; the retry policy is pure and lives in :mod:`calcom_client.retry`.
"""

from calcom_client.client import CalcomClient
from calcom_client.errors import (
    CalcomBadRequest,
    CalcomConflict,
    CalcomError,
    CalcomForbidden,
    CalcomInvalidResponse,
    CalcomNotFound,
    CalcomRateLimited,
    CalcomServerError,
    CalcomTimeout,
    CalcomUnauthorized,
    CalcomUnavailable,
)
from calcom_client.inputs import (
    GOOGLE_MEET,
    Attendee,
    BookingFilter,
    BookingStatusFilter,
    EventTypeFields,
    WebhookTrigger,
)
from calcom_client.models import (
    Booking,
    BookingAttendee,
    BookingHost,
    BookingPage,
    BookingReference,
    EventType,
    Location,
    Me,
    Pagination,
    Slot,
    Webhook,
)
from calcom_client.retry import RetryPolicy
from calcom_client.transport import (
    BOOKINGS_VERSION,
    EVENT_TYPES_VERSION,
    SLOTS_VERSION,
    CalcomTransport,
    api_version_for,
)

__all__ = [
    "BOOKINGS_VERSION",
    "EVENT_TYPES_VERSION",
    "GOOGLE_MEET",
    "SLOTS_VERSION",
    "Attendee",
    "Booking",
    "BookingAttendee",
    "BookingFilter",
    "BookingHost",
    "BookingPage",
    "BookingReference",
    "BookingStatusFilter",
    "CalcomBadRequest",
    "CalcomClient",
    "CalcomConflict",
    "CalcomError",
    "CalcomForbidden",
    "CalcomInvalidResponse",
    "CalcomNotFound",
    "CalcomRateLimited",
    "CalcomServerError",
    "CalcomTimeout",
    "CalcomTransport",
    "CalcomUnauthorized",
    "CalcomUnavailable",
    "EventType",
    "EventTypeFields",
    "Location",
    "Me",
    "Pagination",
    "RetryPolicy",
    "Slot",
    "Webhook",
    "WebhookTrigger",
    "api_version_for",
]
