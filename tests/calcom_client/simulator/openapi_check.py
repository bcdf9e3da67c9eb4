"""Validate simulator traffic against Cal.com's published OpenAPI document (read once, corrected).

The document is read with the corrections of contract §12, each applied narrowly where the
document says something the contract (and the document's own examples) contradict, plus two
defects of the same kinds found while building the simulator (marked "beyond §12" below).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator
from typing import Any

import httpx
from openapi_core import Config, OpenAPI
from werkzeug.datastructures import Headers

# One loader and one request adapter for both suites; the corrections below are the simulator's.
from tests.calcom_client.openapi_validation import HttpxRequest, raw_document

_NULL = {"type": "object", "nullable": True, "enum": [None]}


def _nodes(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _nodes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _nodes(value)


def corrected(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of `document` with the known defects corrected (§ numbers are the contract's §12)."""
    doc = copy.deepcopy(document)
    schemas = doc["components"]["schemas"]
    for node in list(_nodes(doc)):
        if node.get("in") == "header" and node.get("name") == "cal-api-version":
            # §12.1: "Must be set to X" with X as default; a default would let a missing header pass,
            # while Cal.com routes it to an older controller. Require exactly X.
            node["required"] = True
            node["schema"] = {"type": "string", "enum": [node["schema"]["default"]]}
        if "oneOf" in node and "discriminator" not in node:
            # §12.2: overlapping unions without discriminator (a booking body also matches the
            # recurring input; an integration location also matches the unknown-location output).
            node["anyOf"] = node.pop("oneOf")
        if node.get("type") == "object" and any(
            key in node and not isinstance(node[key], dict) for key in ("example", "default")
        ):
            # §12.7: `type: object` with a scalar example/default (slotInterval: 60, isDefault: true,
            # references' status: "success") is an untyped union.
            del node["type"]
    for node in list(_nodes(doc)):
        if node.get("nullable") is True and "type" not in node and ("allOf" in node or "anyOf" in node):
            # §12.8: `nullable` beside allOf/anyOf (event type `recurrence`) admits null.
            inner = {key: value for key, value in node.items() if key != "nullable"}
            node.clear()
            node["anyOf"] = [inner, _NULL]
    for name in ("CreateWebhookInputDto", "UpdateWebhookInputDto"):
        # §12.3: webhook input `triggers` is an array of the trigger enum.
        triggers = schemas[name]["properties"]["triggers"]
        schemas[name]["properties"]["triggers"] = {
            "type": "array",
            "items": {"type": "string", "enum": triggers["enum"]},
        }
    for name in ("UserWebhookOutputDto", "EventTypeWebhookOutputDto"):
        # §12.4: webhook `id` is a UUID string, `triggers` are strings, `payloadTemplate` may be null.
        properties = schemas[name]["properties"]
        properties["id"] = {"type": "string"}
        properties["triggers"] = {"type": "array", "items": {"type": "string"}}
        properties["payloadTemplate"] = {"type": "string", "nullable": True}
    slot = {
        "type": "object",
        "required": ["start"],
        "properties": {"start": {"type": "string"}, "end": {"type": "string"}},
    }
    # §12.5: the slots 200 schema lacks the envelope and types slots as strings; its own example uses
    # {status, data: {date: [{start[, end]}]}}.
    doc["paths"]["/v2/slots"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] = {
        "type": "object",
        "required": ["status", "data"],
        "properties": {
            "status": {"type": "string", "enum": ["success"]},
            "data": {"type": "object", "additionalProperties": {"type": "array", "items": slot}},
        },
    }
    for parameter in doc["paths"]["/v2/bookings"]["get"]["parameters"]:
        if parameter["name"] == "status":
            # §12.6: `status` is comma-separated (?status=upcoming,past), as its example shows.
            parameter["style"], parameter["explode"] = "form", False
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
