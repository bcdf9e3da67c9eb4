"""One mapping from every exception to the error envelope (SPEC.md §3, R16).

Expected failures (`ThotisError`) keep their code and status. Framework errors (unknown
route, wrong method, malformed JSON, validation, body too large) get stable codes too.
Anything else is a 500 whose body says nothing about the internals; the details go to the
log (and Sentry) with the request id.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import (
    ClientException,
    HTTPException,
    MethodNotAllowedException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    SerializationException,
    TooManyRequestsException,
    ValidationException,
)
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from pydantic.alias_generators import to_camel
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from adapter.envelope import error_body
from adapter.monitoring import report_request_error
from adapter.request_context import REQUEST_ID_HEADER, current_request_id, new_request_id, note_error_code
from core.database import is_unavailable
from core.errors import RateLimited, ThotisError
from core.i18n import catalogs, negotiate

log = logging.getLogger("thotis.errors")


def _respond(
    request: Request[Any, Any, Any],
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[bytes]:
    note_error_code(code)
    locale = negotiate(request.headers.get("accept-language"), "en")
    if locale != "en" and catalogs().has(f"error.{code}", locale):
        # The English message raised says most; another language gets its catalog's message for
        # the code, and `details` (field names, limits) stay as they are for both.
        message = catalogs().translate(f"error.{code}", locale)
    # nosniff here too: an error that fails before routing never passes the middleware that adds it.
    headers = {
        **(headers or {}),
        "Content-Language": locale,
        "Vary": "Accept-Language",
        "X-Content-Type-Options": "nosniff",
    }
    request_id = current_request_id()
    if request_id is None:  # failed before routing (unknown route, wrong method): no middleware ran
        request_id = new_request_id()
        headers = {**(headers or {}), REQUEST_ID_HEADER: request_id}
    body = msgspec.json.encode(error_body(code, message, details, request_id))
    return Response(body, status_code=status, media_type=MediaType.JSON, headers=headers)


def _validation_details(exc: ValidationException) -> dict[str, Any]:
    errors = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            source = str(getattr(item.get("source"), "value", item.get("source")) or "body")
            key = str(item.get("key") or "")
            # Body keys are already the JSON names; query keys are Python names.
            field = key if source == "body" else to_camel(key)
            errors.append({"field": field, "message": str(item.get("message") or "invalid value"), "source": source})
    return {"errors": errors}


def handle_thotis_error(request: Request[Any, Any, Any], exc: ThotisError) -> Response[bytes]:
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
    if exc.status_code >= 500:
        log.error(
            "%s %s failed: %s %s",
            request.method,
            request.url.path,
            exc.error_code,
            exc.message,
            extra={"error_code": exc.error_code},
        )
        report_request_error(request, exc, exc.error_code)
    return _respond(request, exc.status_code, exc.error_code, exc.message, exc.details, headers)


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    """Framework errors, with codes clients can rely on."""
    detail = exc.detail or ""
    if isinstance(exc, ValidationException):
        return _respond(request, 400, "VALIDATION_ERROR", "The request is invalid.", _validation_details(exc))
    if isinstance(exc, NotFoundException):
        return _respond(request, 404, "NOT_FOUND", "No such route or resource.")
    if isinstance(exc, MethodNotAllowedException):
        allow = (exc.headers or {}).get("allow")
        return _respond(
            request,
            405,
            "METHOD_NOT_ALLOWED",
            "This method is not allowed here.",
            headers={"Allow": allow} if allow else None,
        )
    if isinstance(exc, RequestEntityTooLarge) or "Entity Too Large" in detail:
        return _respond(request, 413, "PAYLOAD_TOO_LARGE", "The request body is too large.")
    if isinstance(exc, NotAuthorizedException):
        return _respond(request, 401, "UNAUTHORIZED", "A valid bearer token is required.")
    if isinstance(exc, PermissionDeniedException):
        return _respond(request, 403, "FORBIDDEN", "You are not allowed to do this.")
    if isinstance(exc, TooManyRequestsException):
        return _respond(request, 429, "RATE_LIMITED", "Too many requests, slow down.", headers=exc.headers)
    if isinstance(exc, ClientException):
        if isinstance(exc.__cause__, SerializationException) or "JSON" in detail:
            return _respond(request, 400, "MALFORMED_JSON", "The request body is not valid JSON.")
        if "multipart" in detail.lower():
            return _respond(request, 400, "MALFORMED_MULTIPART", "The request body is not valid multipart/form-data.")
        return _respond(request, exc.status_code, "BAD_REQUEST", "The request is invalid.")
    if exc.status_code < 500:
        return _respond(request, exc.status_code, "BAD_REQUEST", "The request is invalid.")
    if "client disconnected" in detail:
        # The caller went away mid-body: nothing failed here and nobody reads this answer.
        log.info("%s %s: client disconnected before sending its body", request.method, request.url.path)
        return _respond(request, 400, "CLIENT_DISCONNECTED", "The request body did not arrive.")
    return handle_unexpected(request, exc)


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """A bug or an unmapped failure: log it fully, tell the caller nothing internal."""
    log.exception(
        "unexpected error on %s %s",
        request.method,
        request.url.path,
        exc_info=exc,
        extra={"error_code": "INTERNAL_ERROR"},
    )
    report_request_error(request, exc, "INTERNAL_ERROR")
    return _respond(request, 500, "INTERNAL_ERROR", "An unexpected error occurred; it has been logged.")


def handle_recursion(request: Request[Any, Any, Any], exc: RecursionError) -> Response[bytes]:
    """JSON nested thousands deep exhausts the decoder's stack: the caller's fault, not ours."""
    if "deserializ" in str(exc):
        return _respond(request, 400, "MALFORMED_JSON", "The request body is not valid JSON (nested too deeply).")
    return handle_unexpected(request, exc)


def handle_data_error(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """A value the database refused (safety net: validation should have caught it first)."""
    log.warning("database refused a value on %s %s: %s", request.method, request.url.path, exc)
    return _respond(request, 400, "INVALID_VALUE", "A value in the request cannot be stored.")


def handle_database_down(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """The database cannot be reached: a 503 the caller may retry, not a 500."""
    log.error(
        "database unavailable on %s %s: %s",
        request.method,
        request.url.path,
        exc,
        extra={"error_code": "DATABASE_UNAVAILABLE"},
    )
    report_request_error(request, exc, "DATABASE_UNAVAILABLE")
    return _respond(request, 503, "DATABASE_UNAVAILABLE", "The database is unavailable, try again shortly.")


def handle_database_error(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """Any other driver error: a 503 when the database is going away or refusing connections
    (asyncpg's "shutting down", "terminating connection", …), else unexpected."""
    if is_unavailable(exc):
        return handle_database_down(request, exc)
    return handle_unexpected(request, exc)


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    ThotisError: handle_thotis_error,
    HTTPException: handle_http_exception,
    DataError: handle_data_error,
    RecursionError: handle_recursion,
    DBAPIError: handle_database_error,
    OperationalError: handle_database_down,
    InterfaceError: handle_database_down,
    PoolTimeout: handle_database_down,
    ConnectionError: handle_database_down,
    Exception: handle_unexpected,
}
