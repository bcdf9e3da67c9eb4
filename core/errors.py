"""The one error tree: every expected failure carries a stable code and an HTTP status.

Domain packages raise these (or subclasses); only `adapter/` turns them into the JSON
envelope of SPEC.md §3. Anything that is not a `ThotisError` is unexpected and becomes a 500.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ThotisError(Exception):
    """Root of every expected failure: a stable UPPER_SNAKE code, a status and a safe message."""

    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL_ERROR"
    default_message: ClassVar[str] = "An unexpected error occurred."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.error_code = code or self.code
        self.details = details or {}
        super().__init__(self.message)


class InvalidInput(ThotisError):
    """The request is malformed or a field breaks a rule (400)."""

    status_code = 400
    code = "VALIDATION_ERROR"
    default_message = "The request is invalid."


class BusinessRuleViolation(ThotisError):
    """The request is well-formed but breaks a business rule (400)."""

    status_code = 400
    code = "BUSINESS_RULE_VIOLATION"
    default_message = "The request breaks a business rule."


class Unauthenticated(ThotisError):
    """No valid credentials were presented (401)."""

    status_code = 401
    code = "UNAUTHORIZED"
    default_message = "A valid bearer token is required."


class Forbidden(ThotisError):
    """The caller is known but not allowed to do this (403)."""

    status_code = 403
    code = "FORBIDDEN"
    default_message = "You are not allowed to do this."


class NotFound(ThotisError):
    """The resource does not exist, or is not visible to the caller (404)."""

    status_code = 404
    code = "NOT_FOUND"
    default_message = "Not found."


class Conflict(ThotisError):
    """The request conflicts with the current state (409)."""

    status_code = 409
    code = "CONFLICT"
    default_message = "The request conflicts with the current state."


class PayloadTooLarge(ThotisError):
    """The request body or an uploaded file is too large (413)."""

    status_code = 413
    code = "PAYLOAD_TOO_LARGE"
    default_message = "The request body is too large."


class RateLimited(ThotisError):
    """Too many requests; `retry_after` says when to try again (429)."""

    status_code = 429
    code = "RATE_LIMITED"
    default_message = "Too many requests, slow down."

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message, details={"retryAfterSeconds": retry_after})
        self.retry_after = retry_after


class DependencyUnavailable(ThotisError):
    """A dependency (database, Cal.com, …) cannot be reached (503)."""

    status_code = 503
    code = "SERVICE_UNAVAILABLE"
    default_message = "A dependency is unavailable, try again shortly."


class UpstreamError(ThotisError):
    """A dependency answered with an error we cannot pass through (502)."""

    status_code = 502
    code = "UPSTREAM_ERROR"
    default_message = "An upstream service failed."


class UpstreamTimeout(ThotisError):
    """A dependency did not answer in time (504)."""

    status_code = 504
    code = "UPSTREAM_TIMEOUT"
    default_message = "An upstream service did not answer in time."


class ConfigurationError(Exception):
    """Settings are missing or unsafe; raised at start-up, never mapped to HTTP."""
