"""One error tree for every way a Cal.com call can fail.

Callers catch a family (``CalcomNotFound``, ``CalcomRateLimited``…) rather than inspecting status codes,
and the sidecar maps each family to its own HTTP answer (502/503/504) in one place. Cal.com's error
envelope is ``{"status": "error", "timestamp", "path", "error": {"code", "message", "details"}}``
(contract §1.1); other shapes (a proxy's HTML page, a bare NestJS error, an empty body) are tolerated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class CalcomError(Exception):
    """Root of every failure raised by the Cal.com client.

    ``status`` is the HTTP status (``None`` when no response arrived), ``code`` Cal.com's own error
    code (usually the NestJS exception class name, e.g. ``BadRequestException``), ``message`` its
    human-readable text, ``details`` whatever it put under ``error.details``, ``path`` the request path
    and ``request_id`` Cal.com's ``X-Request-Id`` when it sent one.
    """

    default_code = "CALCOM_ERROR"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        details: Any = None,
        method: str | None = None,
        path: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code or self.default_code
        self.details = details
        self.method = method
        self.path = path
        self.request_id = request_id

    def __str__(self) -> str:
        head = " ".join(str(part) for part in ("Cal.com", self.status, self.code, self.method, self.path) if part)
        return f"{head}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, message={self.message!r})"


class CalcomBadRequest(CalcomError):
    """400/422: Cal.com refused the input (validation, slot taken, minimum notice, already cancelled…)."""

    default_code = "BAD_REQUEST"


class CalcomUnauthorized(CalcomError):
    """401 (or 498, an expired managed-user token): the key is wrong, expired, or the licence check failed."""

    default_code = "UNAUTHORIZED"


class CalcomForbidden(CalcomError):
    """403: the key is valid but may not act on this resource (or too early, e.g. mark-absent)."""

    default_code = "FORBIDDEN"


class CalcomNotFound(CalcomError):
    """404: no such resource (or, for event-type lists, no event types at all)."""

    default_code = "NOT_FOUND"


class CalcomConflict(CalcomError):
    """409: the resource already exists or changed under us; never retried."""

    default_code = "CONFLICT"


class CalcomRateLimited(CalcomError):
    """429: Cal.com's throttler refused the call; ``retry_after`` is its hint in seconds, when known."""

    default_code = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class CalcomServerError(CalcomError):
    """5xx: Cal.com (or a proxy in front of it) failed; retried for idempotent calls, then raised."""

    default_code = "SERVER_ERROR"


class CalcomUnavailable(CalcomError):
    """No usable answer: the connection failed, or every attempt the budget allowed failed."""

    default_code = "UNAVAILABLE"


class CalcomTimeout(CalcomUnavailable):
    """Cal.com did not answer in time (an httpx timeout, or a 408)."""

    default_code = "TIMEOUT"


class CalcomInvalidResponse(CalcomError):
    """A 2xx whose body is not the documented envelope or does not fit the response model."""

    default_code = "INVALID_RESPONSE"


def _class_for_status(status: int) -> type[CalcomError]:
    if status in (400, 422):
        return CalcomBadRequest
    if status in (401, 498):
        return CalcomUnauthorized
    if status == 403:
        return CalcomForbidden
    if status == 404:
        return CalcomNotFound
    if status == 408:
        return CalcomTimeout
    if status == 409:
        return CalcomConflict
    if status == 429:
        return CalcomRateLimited
    if status >= 500:
        return CalcomServerError
    return CalcomError


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        # NestJS ValidationPipe messages are sometimes a list of strings.
        return "; ".join(str(item) for item in value)
    return str(value)


def parse_error_body(body: Any) -> tuple[str | None, str | None, Any]:
    """Return ``(code, message, details)`` from any error body Cal.com or a proxy may send.

    Understands Cal.com's envelope (``error.code/message/details``), a bare NestJS error
    (``{"statusCode", "message", "error"}``) and a top-level ``message``; anything else yields
    ``(None, None, body)`` so the caller falls back to the reason phrase.
    """
    if not isinstance(body, Mapping):
        return None, None, body
    error = body.get("error")
    if isinstance(error, Mapping):
        return _as_text(error.get("code")), _as_text(error.get("message")), error.get("details")
    message = _as_text(body.get("message"))
    code = _as_text(error) if isinstance(error, str) else _as_text(body.get("code"))
    if message is None and code is None:
        return None, None, body
    return code, message, body.get("details")


def error_from_response(
    status: int,
    body: Any,
    *,
    method: str,
    path: str,
    reason: str = "",
    request_id: str | None = None,
    retry_after: float | None = None,
) -> CalcomError:
    """Build the error matching ``status`` from a decoded (or undecodable: pass the text) error body."""
    code, message, details = parse_error_body(body)
    cls = _class_for_status(status)
    text = message or reason or f"HTTP {status}"
    common: dict[str, Any] = {
        "status": status,
        "code": code,
        "details": details,
        "method": method,
        "path": path,
        "request_id": request_id,
    }
    if cls is CalcomRateLimited:
        return CalcomRateLimited(text, retry_after=retry_after, **common)
    return cls(text, **common)
