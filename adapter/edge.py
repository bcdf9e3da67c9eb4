"""The one ASGI layer every routed HTTP request passes: request id, access log, request metrics and
the `nosniff` header.

They were three middlewares; each layer costs a coroutine and a `send` wrapper per response, which
py-spy showed at about 8 % of a cached read's CPU. Folded, a response passes one wrapper.

Litestar runs middleware after routing, so `scope["path_template"]` is already set; a request the
router refuses (unknown path, wrong method) never reaches it (`adapter.errors` covers those).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from adapter.request_context import REQUEST_ID_HEADER, access_log, bind_request, new_request_id
from core.metrics import UNMATCHED, RequestMetrics

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
#: API errors and JSON bodies echo what callers sent: a browser must never sniff them into HTML.
NOSNIFF = ("x-content-type-options", "nosniff")
#: Probes and scrapes every few seconds: logged at DEBUG only.
_QUIET_PREFIXES = ("/health/", "/metrics")


def edge_middleware(metrics: RequestMetrics, *, log_access: bool) -> Callable[[ASGIApp], ASGIApp]:
    """ASGI middleware: bind a request id (the caller's `X-Request-ID` when sane) and echo it, add
    `nosniff`, time the request into `metrics` under its route template, and (when `log_access`)
    write its access line once it is answered."""

    def wrap(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP:
                await app(scope, receive, send)
                return
            incoming = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
            request_id = incoming if _SAFE_ID.fullmatch(incoming) else new_request_id()
            status = 500  # when the app fails before answering

            async def send_with_headers(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    headers = MutableScopeHeaders.from_message(message)
                    headers[REQUEST_ID_HEADER] = request_id
                    if NOSNIFF[0] not in headers:
                        headers[NOSNIFF[0]] = NOSNIFF[1]
                await send(message)

            start = time.perf_counter()
            with bind_request(request_id) as notes:
                try:
                    await app(scope, receive, send_with_headers)
                finally:
                    elapsed = time.perf_counter() - start
                    method: str = scope.get("method", "GET")
                    route = scope.get("path_template") or UNMATCHED
                    metrics.record(method, route, status, elapsed, time.time())
                    if log_access:
                        _log_access(scope, method, status, elapsed, notes)

        return middleware

    return wrap


def _log_access(scope: Scope, method: str, status: int, elapsed: float, notes: dict[str, Any]) -> None:
    path = _logged_path(scope)
    level = logging.DEBUG if path.startswith(_QUIET_PREFIXES) else logging.INFO
    if not access_log.isEnabledFor(level):
        return
    duration_ms = round(elapsed * 1000, 1)
    # makeRecord + handle, not .log(): one line per request need not look up its caller's frame
    # (no format prints it), which is a fifth of what logging the line costs.
    record = access_log.makeRecord(
        access_log.name,
        level,
        "(access)",
        0,
        "%s %s %d %.1f ms",
        (method, path, status, duration_ms),
        None,
        extra={
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": duration_ms,
            "error_code": notes.get("error_code"),
        },
    )
    access_log.handle(record)


def _logged_path(scope: Scope) -> str:
    """The path, or its route template when the path carries a secret (a rating link's token)."""
    template = scope.get("path_template") or ""
    return template if "{token" in template else str(scope.get("path", ""))
