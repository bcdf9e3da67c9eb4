"""Monitoring: the request metrics (timed by `adapter.edge`), and Sentry error reports without personal data (R16.1).

`sentry_sdk` is imported only once Sentry is configured (it costs ~0.3 s at import), so with
Sentry off the error path pays one dictionary lookup.
"""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING, Any, cast

from litestar.connection import ASGIConnection

from adapter.auth import Principal
from adapter.request_context import current_request_id
from core.metrics import RequestMetrics
from core.settings import Settings

if TYPE_CHECKING:
    from sentry_sdk._types import Event, Hint
    from sentry_sdk.transport import Transport

FEATURE = "thotis-mentoring"
REDACTED = "[scrubbed]"

# --- request metrics ------------------------------------------------------------------------


def metrics_of(connection: ASGIConnection[Any, Any, Any, Any]) -> RequestMetrics:
    """The app's request metrics (one per app, so one per process)."""
    metrics: RequestMetrics = connection.app.state.metrics
    return metrics


# --- Sentry -----------------------------------------------------------------------------------


def init_sentry(settings: Settings, *, transport: Transport | None = None) -> bool:
    """Start Sentry when `THOTIS_SENTRY_DSN` is set; returns whether it is on."""
    dsn = settings.sentry_dsn.get_secret_value() if settings.sentry_dsn is not None else ""
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.litestar import LitestarIntegration
    from sentry_sdk.integrations.logging import ignore_logger

    sentry_sdk.init(
        dsn=dsn,
        environment=settings.env.value,
        integrations=[LitestarIntegration()],
        # What `send_default_pii=False` meant, stricter, in the option that replaces it (sentry-sdk 2.7x):
        # no user, cookies, query, bodies, SQL parameters or frame locals are collected at all.
        data_collection={
            "user_info": False,
            "cookies": {"mode": "off"},
            "http_headers": {"request": {"mode": "allowlist", "terms": sorted(_SAFE_HEADERS)}},
            "http_bodies": [],
            "url_query_params": {"mode": "off"},
            "database_query_data": False,
            "queues": False,
            "stack_frame_variables": False,
        },
        traces_sample_rate=0.0,
        before_send=_before_send,
        transport=transport,
    )
    sentry_sdk.get_global_scope().set_tag("feature", FEATURE)
    # `adapter.errors` reports through `report_error`, with the code; its log lines would duplicate it.
    ignore_logger("thotis.errors")
    ignore_logger("thotis.jobs")  # jobs report their failures themselves, tagged (jobs.runlog)
    return True


def sentry_enabled() -> bool:
    """Whether a Sentry client is active, without importing the SDK when it was never started."""
    if "sentry_sdk" not in sys.modules:
        return False
    import sentry_sdk

    return sentry_sdk.get_client().is_active()


def report_error(
    exc: BaseException, *, code: str, method: str, path: str, user_id: str | None, request_id: str | None
) -> None:
    """Send a failure to Sentry with what identifies it: code, feature, method, path, user id."""
    if not sentry_enabled():
        return
    import sentry_sdk
    from sentry_sdk.integrations.dedupe import DedupeIntegration

    def request_only(event: Event, hint: Hint) -> Event:
        event["request"] = {"method": method, "url": path}  # no query string, headers, cookies or body
        return event

    # The Litestar integration's hook already captured this exception (its event is dropped in
    # `_before_send`); it runs in a worker thread today, but should it run in this context,
    # deduplication would drop ours as a repeat.
    DedupeIntegration.reset_last_seen()
    with sentry_sdk.new_scope() as scope:
        scope.set_tag("error_code", code)
        scope.set_tag("feature", FEATURE)
        scope.set_tag("http.method", method)
        if request_id:
            scope.set_tag("request_id", request_id)
        if user_id:
            scope.set_user({"id": user_id})
        scope.add_event_processor(request_only)
        sentry_sdk.capture_exception(exc)


def report_request_error(request: ASGIConnection[Any, Any, Any, Any], exc: BaseException, code: str) -> None:
    """`report_error` for a request: the caller's token subject is the user id, when verified."""
    if not sentry_enabled():
        return
    principal = request.state.get("principal")
    report_error(
        exc,
        code=code,
        method=request.scope.get("method", "GET"),  # type: ignore[arg-type]
        path=request.url.path,
        user_id=principal.sub if isinstance(principal, Principal) else None,
        request_id=current_request_id(),
    )


# --- scrubbing --------------------------------------------------------------------------------

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_KEY_PARTS = ("email", "phone", "password", "passwd", "secret", "token", "authorization", "cookie", "apikey")
_KEY_PREFIXES = ("student", "parent", "question", "feedback", "attendee", "comment")
_NAME_KEYS = frozenset(
    {"name", "firstname", "lastname", "fullname", "givenname", "familyname", "displayname", "username"}
)
#: `key: value` / `key=value` inside text (reprs, SQL details, f-strings): the value goes.
_INLINE_PAIR = re.compile(
    r"\b(\w*?(?:e[-_]?mail|phone|passw(?:or)?d|secret|token|authorization|cookie|api[-_]?key)\w*"
    r"|(?:student|parent|question|feedback|attendee|comment)\w*"
    r"|(?:first|last|full|given|family|display|user)?[-_]?name)"
    r"(\)?['\"]?\s*[:=]\s*)('[^']*'|\"[^\"]*\"|\([^)]*\)|[^\s,;&})\]]+)",
    re.IGNORECASE,
)
_SAFE_HEADERS = frozenset({"accept", "content-length", "content-type", "host", "x-request-id"})
_SDK_FIELDS = frozenset({"sdk", "modules", "debug_meta", "event_id", "timestamp", "platform", "level"})
_SDK_CONTEXTS = frozenset({"runtime", "trace", "os", "device", "app"})


def sensitive_key(key: str) -> bool:
    """Whether a field's value is personal or secret, judged by its name."""
    normal = key.replace("_", "").replace("-", "").replace(" ", "").lower()
    return normal in _NAME_KEYS or normal.startswith(_KEY_PREFIXES) or any(p in normal for p in _KEY_PARTS)


def scrub_text(text: str) -> str:
    """Mask sensitive `key=value` pairs and every e-mail address in free text."""
    if "=" not in text and ":" not in text and "@" not in text:
        return text  # nothing to mask (most log lines, every access line): skip the costly patterns
    text = _INLINE_PAIR.sub(lambda m: m.group(1) + m.group(2) + REDACTED, text)
    return _EMAIL.sub("[email]", text) if "@" in text else text


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {k: REDACTED if isinstance(k, str) and sensitive_key(k) else _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    return value


def _safe_request(request: dict[str, Any]) -> dict[str, Any]:
    safe: dict[str, Any] = {}
    if isinstance(request.get("method"), str):
        safe["method"] = request["method"]
    if isinstance(request.get("url"), str):
        safe["url"] = scrub_text(request["url"].split("?", 1)[0].split("#", 1)[0])
    headers = request.get("headers")
    if isinstance(headers, dict):
        safe["headers"] = {k: scrub_text(str(v)) for k, v in headers.items() if k.lower() in _SAFE_HEADERS}
    return safe


def scrub_event(event: Event, hint: Hint) -> Event:
    """Remove personal data of prospective students (and secrets) from an event, everywhere.

    The request keeps its method, path and a few technical headers; the user only its id;
    every other string loses e-mail addresses, and every field named like personal data its value.
    """
    data = cast(dict[str, Any], event)
    cleaned: dict[str, Any] = {}
    for key, value in data.items():
        if key in _SDK_FIELDS:
            cleaned[key] = value
        elif key == "request":
            cleaned[key] = _safe_request(value) if isinstance(value, dict) else {}
        elif key == "user":
            if isinstance(value, dict) and value.get("id") is not None:
                cleaned[key] = {"id": str(value["id"])}
        elif key == "contexts" and isinstance(value, dict):
            cleaned[key] = {name: ctx if name in _SDK_CONTEXTS else _scrub(ctx) for name, ctx in value.items()}
        else:
            cleaned[key] = _scrub(value)
    return cast("Event", cleaned)


def _captured_by_litestar(event: Event) -> bool:
    """The integration reports every exception, 4xx ones included; ours come from `report_error`."""
    values = cast(dict[str, Any], event).get("exception", {}).get("values") or []
    return any((value.get("mechanism") or {}).get("type") == "litestar" for value in values)


def _before_send(event: Event, hint: Hint) -> Event | None:
    return None if _captured_by_litestar(event) else scrub_event(event, hint)
