"""The JSON envelope of SPEC.md §3, and its shapes for the OpenAPI document."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import msgspec
from litestar import Response
from pydantic import BaseModel

T = TypeVar("T")
JSON = "application/json"


class ErrorBody(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = {}
    requestId: str | None = None  # noqa: N815 (JSON field name)


class ErrorEnvelope(BaseModel):
    """Every error: a stable UPPER_SNAKE code, a safe message, details and the request id."""

    status: str = "error"
    error: ErrorBody


class Pagination(BaseModel):
    total: int
    page: int
    pageSize: int  # noqa: N815


class Envelope(BaseModel, Generic[T]):
    """Every success: `{"status": "success", "data": …}`."""

    status: str = "success"
    data: T


class PageEnvelope(BaseModel, Generic[T]):
    """A list: the envelope plus the total across all pages."""

    status: str = "success"
    data: list[T]
    pagination: Pagination


def ok(data: Any, status_code: int = 200) -> Response[bytes]:
    return Response(msgspec.json.encode({"status": "success", "data": data}), status_code=status_code, media_type=JSON)


def ok_json(data_json: bytes, *, headers: dict[str, str] | None = None) -> Response[bytes]:
    """Wrap already-encoded JSON (e.g. from the cache) without decoding it again."""
    return Response(b'{"status":"success","data":' + data_json + b"}", media_type=JSON, headers=headers)


def ok_page(items_json: bytes, *, total: int, page: int, page_size: int) -> Response[bytes]:
    tail = b',"pagination":{"total":%d,"page":%d,"pageSize":%d}}' % (total, page, page_size)
    return Response(b'{"status":"success","data":' + items_json + tail, media_type=JSON)


def error_body(
    code: str, message: str, details: dict[str, Any] | None = None, request_id: str | None = None
) -> dict[str, Any]:
    return {
        "status": "error",
        "error": {"code": code, "message": message, "details": details or {}, "requestId": request_id},
    }
