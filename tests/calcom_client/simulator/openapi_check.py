"""Validate simulator traffic against Cal.com's published OpenAPI document (read once, corrected).

The document is read with the corrections of contract §12 that the client suite applies (one set,
in tests/calcom_client/openapi_validation.py), plus defects of the same kinds found while building
the simulator (marked "beyond §12" below).
"""

from __future__ import annotations

import functools
from typing import Any

import httpx
from openapi_core import Config, OpenAPI
from werkzeug.datastructures import Headers

# One loader, one request adapter and one set of §12 corrections for both suites.
from tests.calcom_client.openapi_validation import HttpxRequest, raw_document
from tests.calcom_client.openapi_validation import corrected as client_corrected


def corrected(document: dict[str, Any]) -> dict[str, Any]:
    """The client suite's reading of `document` (contract §12), plus defects of the same kinds
    found while building the simulator, on schemas only the simulator's answers exercise."""
    doc = client_corrected(document)
    schemas = doc["components"]["schemas"]
    event_type = schemas["EventTypeOutput_2024_06_14"]["properties"]
    # Beyond §12 (same kind as §12.7): `users` is typed string[] but Cal.com's class is
    # `users!: User_2024_06_14[]` (objects: id, name, username, avatarUrl, weekStart, …).
    event_type["users"] = {"type": "array", "items": {"type": "object"}}
    # Beyond §12 (same kind as §12.7): `forwardParamsSuccessRedirect` is `boolean | null` in Cal.com's
    # class (default true) but rendered as `type: object` without an example.
    event_type["forwardParamsSuccessRedirect"] = {"type": "boolean", "nullable": True}
    for name in ("CreateEventTypeInput_2024_06_14", "UpdateEventTypeInput_2024_06_14"):
        # Beyond §12: input `lengthInMinutesOptions` items are typed string while its own example
        # (and the output schema) use numbers: [15, 30, 60].
        schemas[name]["properties"]["lengthInMinutesOptions"]["items"] = {"type": "number"}
    return doc


@functools.cache
def openapi() -> OpenAPI:
    """openapi-core over the corrected document, built once per test session.

    The document is not validated as a whole: as published it has undeclared path parameters and
    13 dangling `$ref`s (contract §12), none of them on the paths the simulator serves.
    """
    return OpenAPI.from_dict(corrected(raw_document()), config=Config(spec_validator_cls=None))


class _Response:
    """An `httpx.Response` (already read) through openapi-core's response protocol."""

    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.data = response.content
        self.content_type = response.headers.get("content-type", "").split(";")[0]
        self.headers = Headers(list(response.headers.items()))


def validate_request(request: httpx.Request) -> None:
    """Raise if `request` does not match the document (path, parameters, headers, body)."""
    openapi().validate_request(HttpxRequest(request))


def validate_response(response: httpx.Response) -> None:
    """Raise if `response` does not match the documented response of its request."""
    openapi().validate_response(HttpxRequest(response.request), _Response(response))


ERROR_ENVELOPE_KEYS = {"status", "timestamp", "path", "error"}


def check_error_envelope(response: httpx.Response) -> dict[str, Any]:
    """Cal.com's error body (undocumented in the OpenAPI document): check its shape, return `error`."""
    body = response.json()
    assert set(body) == ERROR_ENVELOPE_KEYS, body
    assert body["status"] == "error"
    assert body["path"] == response.request.url.raw_path.decode()
    error: dict[str, Any] = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert response.headers.get("x-request-id")
    return error
