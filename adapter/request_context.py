"""The current request's id (in logs and error bodies) and notes (its error code, for the access
line); `adapter.edge` binds them for each request and writes the access line."""

from __future__ import annotations

import logging
import random
from contextvars import ContextVar
from typing import Any

REQUEST_ID_HEADER = "x-request-id"
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
#: What the error mapping noted about the current request (its error code), for the access log. A
#: dict shared by reference: handlers that run in a copied context still write into it.
_request_notes: ContextVar[dict[str, Any] | None] = ContextVar("request_notes", default=None)
access_log = logging.getLogger("thotis.access")


def current_request_id() -> str | None:
    return request_id_var.get()


def new_request_id() -> str:
    """32 hex digits. A correlation id, not a secret: `random` spares the system call `uuid4` makes
    for every request (3 % of a cached read's CPU)."""
    return f"{random.getrandbits(128):032x}"


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


class bind_request:  # noqa: N801 - used as a context manager, like contextlib's
    """Bind `request_id` (and a fresh dict of notes, yielded) to the current context until exit."""

    __slots__ = ("_id_token", "_notes_token", "request_id")

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id

    def __enter__(self) -> dict[str, Any]:
        notes: dict[str, Any] = {}
        self._id_token = request_id_var.set(self.request_id)
        self._notes_token = _request_notes.set(notes)
        return notes

    def __exit__(self, *exc: object) -> None:
        _request_notes.reset(self._notes_token)
        request_id_var.reset(self._id_token)
