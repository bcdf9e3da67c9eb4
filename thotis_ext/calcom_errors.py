"""Cal.com failures as the sidecar's own errors (SPEC.md §4: 502/503/504 with a clear code)."""

from __future__ import annotations

from calcom_client import (
    CalcomError,
    CalcomRateLimited,
    CalcomServerError,
    CalcomTimeout,
    CalcomUnauthorized,
    CalcomUnavailable,
)
from core.errors import DependencyUnavailable, ThotisError, UpstreamError, UpstreamTimeout


class CalcomUnreachable(DependencyUnavailable):
    code = "CALCOM_UNAVAILABLE"
    default_message = "Cal.com is unavailable right now; try again shortly."


class CalcomTooSlow(UpstreamTimeout):
    code = "CALCOM_TIMEOUT"
    default_message = "Cal.com did not answer in time; try again shortly."


class CalcomRejected(UpstreamError):
    code = "CALCOM_ERROR"
    default_message = "Cal.com refused the request."


def as_thotis_error(exc: CalcomError) -> ThotisError:
    """The error a caller of the sidecar sees for a Cal.com failure (never Cal.com's internals)."""
    details = {"calcomStatus": exc.status} if exc.status else {}
    if isinstance(exc, CalcomTimeout):
        return CalcomTooSlow(details=details)
    if isinstance(exc, CalcomUnavailable | CalcomServerError):
        return CalcomUnreachable(details=details)
    if isinstance(exc, CalcomRateLimited):
        return CalcomUnreachable(
            "Cal.com is rate limiting the sidecar; try again shortly.",
            details={**details, "retryAfterSeconds": exc.retry_after},
        )
    if isinstance(exc, CalcomUnauthorized):
        return CalcomRejected("Cal.com refused the mentor's credentials.", code="CALCOM_UNAUTHORIZED", details=details)
    return CalcomRejected(details=details)
