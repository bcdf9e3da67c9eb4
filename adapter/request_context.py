"""Request ids (taken from `X-Request-ID` when sane, else generated; in logs and error bodies) and
the access log: one line per request with its method, path, status, duration and error code."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "x-request-id"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
#: What the error mapping noted about the current request (its error code), for the access log. A
#: dict shared by reference: handlers that run in a copied context still write into it.
_request_notes: ContextVar[dict[str, Any] | None] = ContextVar("request_notes", default=None)
access_log = logging.getLogger("thotis.access")
#: Probes and scrapes every few seconds: logged at DEBUG only.
_QUIET_PREFIXES = ("/health/", "/metrics")


def current_request_id() -> str | None:
    return request_id_var.get()


def new_request_id() -> str:
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every log record (a dash outside requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get() or "-"
        return True


def note_error_code(code: str) -> None:
    """Record the error code the current request answers with (for its access log line)."""
    notes = _request_notes.get()
    if notes is not None:
        notes["error_code"] = code


def _logged_path(scope: Scope) -> str:
    """The path, or its route template when the path carries a secret (a rating link's token)."""
    template = scope.get("path_template") or ""
    return template if "{token" in template else str(scope.get("path", ""))


def request_context_middleware(*, log_access: bool) -> Callable[[ASGIApp], ASGIApp]:
    """ASGI middleware: bind a request id for the request, echo it in the response, and (when
    `log_access`) log the request once it is answered."""

    def wrap(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP:
                await app(scope, receive, send)
                return
            incoming = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
            request_id = incoming if _SAFE_ID.fullmatch(incoming) else new_request_id()
            token = request_id_var.set(request_id)
            notes: dict[str, Any] = {}
            notes_token = _request_notes.set(notes)
            status = 500  # when the app fails before answering
            start = time.perf_counter()

            async def send_with_id(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    MutableScopeHeaders.from_message(message)[REQUEST_ID_HEADER] = request_id
                await send(message)

            try:
                await app(scope, receive, send_with_id)
            finally:
                if log_access:
                    path = _logged_path(scope)
                    duration_ms = round((time.perf_counter() - start) * 1000, 1)
                    level = logging.DEBUG if path.startswith(_QUIET_PREFIXES) else logging.INFO
                    method = scope.get("method", "GET")
                    access_log.log(
                        level,
                        "%s %s %d %.1f ms",
                        method,
                        path,
                        status,
                        duration_ms,
                        extra={
                            "method": method,
                            "path": path,
                            "status": status,
                            "duration_ms": duration_ms,
                            "error_code": notes.get("error_code"),
                        },
                    )
                _request_notes.reset(notes_token)
                request_id_var.reset(token)

        return middleware

    return wrap
