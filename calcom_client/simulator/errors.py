"""Cal.com's error responses: NestJS exceptions rendered by its `HttpExceptionFilter`.

The body is `{"status":"error","timestamp","path","error":{"code","message","details"}}` where
`code` is the exception class name, `message` its message and `details` what NestJS's
`getResponse()` returns (`{"message","error","statusCode"}` for a string message, or the object
given, e.g. `{"errors":[…]}` from the global `ValidationPipe`).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from calcom_client.simulator.http import Response, json_response
from calcom_client.simulator.timefmt import js_iso

_REASONS = {
    400: ("BadRequestException", "Bad Request"),
    401: ("UnauthorizedException", "Unauthorized"),
    403: ("ForbiddenException", "Forbidden"),
    404: ("NotFoundException", "Not Found"),
    409: ("ConflictException", "Conflict"),
    422: ("UnprocessableEntityException", "Unprocessable Entity"),
    429: ("ThrottlerException", "Too Many Requests"),
    500: ("InternalServerErrorException", "Internal Server Error"),
}


class CalcomError(Exception):
    """An HTTP error exactly as one of Cal.com's NestJS exceptions would produce it."""

    def __init__(self, status: int, message: str, *, details: dict[str, Any] | None = None, code: str | None = None):
        super().__init__(message)
        default_code, reason = _REASONS.get(status, ("HttpException", "Error"))
        self.status = status
        self.code = code or default_code
        self.message = message
        self.details = details if details is not None else {"message": message, "error": reason, "statusCode": status}


def bad_request(message: str) -> CalcomError:
    """`new BadRequestException(message)`."""
    return CalcomError(400, message)


def not_found(message: str) -> CalcomError:
    """`new NotFoundException(message)`."""
    return CalcomError(404, message)


def unauthorized(message: str) -> CalcomError:
    """`new UnauthorizedException(message)`."""
    return CalcomError(401, message)


def forbidden(message: str) -> CalcomError:
    """`new ForbiddenException(message)`."""
    return CalcomError(403, message)


def conflict(message: str) -> CalcomError:
    """`new ConflictException(message)`."""
    return CalcomError(409, message)


def route_not_found(method: str, url: str) -> CalcomError:
    """What NestJS answers when no controller of the requested version has the route."""
    return not_found(f"Cannot {method} {url}")


def validation_failed(errors: list[dict[str, Any]]) -> CalcomError:
    """The global `ValidationPipe` failure: `BadRequestException({errors})`.

    NestJS falls back to the message "Bad Request Exception" when the response object has none.
    """
    return CalcomError(400, "Bad Request Exception", details={"errors": errors})


def too_many_requests() -> CalcomError:
    """The throttler guard's refusal (HTTP 429, no `Retry-After`)."""
    return CalcomError(429, "CustomThrottlerGuard - Too many requests. Please try again later.")


def error_response(error: CalcomError, url: str, now: datetime, request_id: str | None = None) -> Response:
    """The JSON response of `error`, with the `X-Request-Id` header Cal.com echoes on errors."""
    body = {
        "status": "error",
        "timestamp": js_iso(now),
        "path": url,
        "error": {"code": error.code, "message": error.message, "details": error.details},
    }
    return json_response(error.status, body, [("x-request-id", request_id or str(uuid.uuid4()))])


def unhandled_response() -> Response:
    """NestJS's own answer to a non-HTTP exception: no envelope, just status and message."""
    return json_response(500, {"statusCode": 500, "message": "Internal server error"})
