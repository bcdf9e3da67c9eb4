"""Check requests and responses against Cal.com's published OpenAPI document (SPEC §4).

The document is loaded once, read with the corrections of contract §12 (each one narrow and
explained below), and handed to openapi-core. Tests capture the ``httpx.Request`` the client really
sends and validate it here; the sample response bodies the client tests use live here too, so they
are validated against the documented response schemas by the same code.
"""

from __future__ import annotations

import copy
import functools
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

DOCUMENT_ENV = "THOTIS_CALCOM_OPENAPI"
DEFAULT_DOCUMENT = Path(__file__).resolve().parents[3] / "shared" / "reference" / "calcom-api-v2-openapi.json"
VERSION_HEADER = "cal-api-version"


def document_path() -> Path | None:
    """The shared reference copy beside the repository, else ``$THOTIS_CALCOM_OPENAPI``."""
    if DEFAULT_DOCUMENT.is_file():
        return DEFAULT_DOCUMENT
    configured = os.environ.get(DOCUMENT_ENV)
    if configured and Path(configured).is_file():
        return Path(configured)
    return None


@functools.cache
def raw_document() -> dict[str, Any]:
    """The document exactly as published; its absence is a broken checkout, so the test fails."""
    path = document_path()
    if path is None:
        pytest.fail(f"Cal.com OpenAPI document not found at {DEFAULT_DOCUMENT} nor in ${DOCUMENT_ENV}")
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


_NULL_ONLY = {"type": "object", "nullable": True, "enum": [None]}


def version_required(parameter: Mapping[str, Any]) -> str | None:
    """The exact ``cal-api-version`` a parameter object demands ("Must be set to X"), if it is that header."""
    if parameter.get("in") == "header" and parameter.get("name") == VERSION_HEADER:
        description = str(parameter.get("description", ""))
        return description.removeprefix("Must be set to ").strip()
    return None


def operation_version(operation: Mapping[str, Any]) -> str | None:
    """The ``cal-api-version`` an operation requires, or ``None`` when it declares none."""
    for parameter in operation.get("parameters", []):
        version = version_required(parameter)
        if version is not None:
            return version
    return None


def corrected(document: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``document`` read with the corrections of contract §12 (numbers below are §12's)."""
    doc = copy.deepcopy(dict(document))
    schemas = doc["components"]["schemas"]
    for node in list(_walk(doc)):
        # §12.1: "Must be set to X" with X as default. A default would let a missing header pass, and
        # Cal.com routes a missing header to an older controller: require exactly X.
        version = version_required(node)
        if version is not None:
            node["required"] = True
            node["schema"] = {"type": "string", "enum": [version]}
        # §12.2: overlapping oneOf without discriminator (a plain booking also matches the recurring
        # input, an integration location also matches the unknown-location output): read as anyOf.
        if "oneOf" in node and "discriminator" not in node:
            node["anyOf"] = node.pop("oneOf")
        # §12.7: `type: object` whose example or default is not an object (slotInterval: 60,
        # isDefault: true, references' status: "success") is an untyped value.
        if node.get("type") == "object" and any(
            key in node and not isinstance(node[key], dict) for key in ("example", "default")
        ):
            del node["type"]
    for node in list(_walk(doc)):
        # §12.8: `nullable` beside allOf/anyOf (no `type`) is ignored by OAS 3.0 validators; admit null.
        if node.get("nullable") is True and "type" not in node and ("allOf" in node or "anyOf" in node):
            inner = {key: value for key, value in node.items() if key != "nullable"}
            node.clear()
            node["anyOf"] = [inner, _NULL_ONLY]
    # §12.3: webhook input `triggers` is an array of the trigger enum, not one string.
    for name in ("CreateWebhookInputDto", "UpdateWebhookInputDto"):
        triggers = schemas.get(name, {}).get("properties", {}).get("triggers")
        if triggers is not None:
            enum = triggers.get("enum") or triggers.get("items", {}).get("enum")
            triggers.clear()
            triggers.update({"type": "array", "items": {"type": "string", "enum": enum}})
    # §12.4: webhook output `id` is a UUID string, `triggers` are strings, `payloadTemplate` may be null.
    for name, schema in schemas.items():
        properties = schema.get("properties", {})
        if name.endswith("WebhookOutputDto") and "subscriberUrl" in properties:
            properties["id"] = {"type": "string"}
            properties["triggers"] = {"type": "array", "items": {"type": "string"}}
            properties["payloadTemplate"] = {"type": "string", "nullable": True}
    # §12.5: GET /v2/slots 200 lacks the envelope and types slots as strings; its own example (and
    # the code) put objects {start[, end]} keyed by date inside {status, data}.
    slot = {
        "type": "object",
        "required": ["start"],
        "properties": {"start": {"type": "string"}, "end": {"type": "string"}},
    }
    doc["paths"]["/v2/slots"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] = {
        "type": "object",
        "required": ["status", "data"],
        "properties": {
            "status": {"type": "string", "enum": ["success"]},
            "data": {"type": "object", "additionalProperties": {"type": "array", "items": slot}},
        },
    }
    # §12.6: GET /v2/bookings `status` is comma-separated (?status=upcoming,past): form, not exploded.
    for parameter in doc["paths"]["/v2/bookings"]["get"]["parameters"]:
        if parameter["name"] == "status":
            parameter["style"] = "form"
            parameter["explode"] = False
    return doc


@functools.cache
def openapi() -> OpenAPI:
    """openapi-core over the corrected document. The document itself is not validated: as published
    it has undeclared path parameters and 13 dangling ``$ref``s (contract §12), none on our paths."""
    return OpenAPI.from_dict(corrected_document(), config=Config(spec_validator_cls=None))


class HttpxRequest:
    """An ``httpx.Request`` seen through openapi-core's request protocol."""

    def __init__(self, request: httpx.Request) -> None:
        self._request = request
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qsl(request.url.query.decode(), keep_blank_values=True)),
            header=Headers(list(request.headers.items())),
            cookie=ImmutableMultiDict(),
        )

    @property
    def host_url(self) -> str:
        return f"{self._request.url.scheme}://{self._request.url.netloc.decode()}"

    @property
    def path(self) -> str:
        return self._request.url.path

    @property
    def method(self) -> str:
        return self._request.method.lower()

    @property
    def body(self) -> bytes | None:
        return self._request.content or None

    @property
    def content_type(self) -> str:
        return self._request.headers.get("content-type", "").lower()


class _Response:
    def __init__(self, status: int, body: Any) -> None:
        self.status_code = status
        self.data: bytes | None = json.dumps(body).encode()
        self.content_type = "application/json"
        self.headers = Headers([("content-type", "application/json")])


@functools.cache
def corrected_document() -> dict[str, Any]:
    """The document as read with the corrections, built once."""
    return corrected(raw_document())


def validate_request(request: httpx.Request) -> None:
    """Raise if ``request`` does not match the document (path, method, parameters, headers, body).

    The document only types a declared ``Authorization`` as a string; its description says
    ``Bearer <token>``, so that form is checked here too.
    """
    openapi().validate_request(HttpxRequest(request))
    template, op = find_operation(request)
    for parameter in op.get("parameters", []):
        if parameter.get("in") == "header" and parameter.get("name") == "Authorization":
            value = request.headers.get("Authorization", "")
            assert value.startswith("Bearer ") and len(value) > len("Bearer "), f"{template}: no Bearer token"


def find_operation(request: httpx.Request) -> tuple[str, dict[str, Any]]:
    """The (path template, operation) the request matches, as openapi-core would find it."""
    paths = corrected_document()["paths"]
    segments = request.url.path.strip("/").split("/")
    matches = []
    for template, item in paths.items():
        parts = template.strip("/").split("/")
        if len(parts) != len(segments) or request.method.lower() not in item:
            continue
        if all(p.startswith("{") or p == s for p, s in zip(parts, segments, strict=True)):
            literal = sum(not p.startswith("{") for p in parts)
            matches.append((literal, template))
    assert matches, f"no documented operation for {request.method} {request.url.path}"
    template = max(matches)[1]
    return template, paths[template][request.method.lower()]


def validate_response(request: httpx.Request, status: int, body: Any) -> None:
    """Raise if ``body`` with ``status`` is not a documented response of the request's operation."""
    openapi().validate_response(HttpxRequest(request), _Response(status, body))


# --- Sample bodies: realistic answers, each validated against the document by the contract tests ---

API_URL = "https://cal.test"
MENTOR_KEY = "cal_live_mentor0123456789"
ORG_KEY = "cal_live_org0123456789"
BOOKING_UID = "k4Hq2yTbVZpM8cS1wEr7Nd"
NEW_BOOKING_UID = "r9Tz4xWmQa2LbKc8vHs3Jp"
WEBHOOK_ID = "6c1b2f3e-8f4a-4b6e-9a7d-2e5f0c9d1a34"
MEET_URL = "https://meet.google.com/abc-defg-hij"


def success(data: Any, **extra: Any) -> dict[str, Any]:
    return {"status": "success", "data": data, **extra}


def me_data() -> dict[str, Any]:
    return {
        "id": 42,
        "username": "alice-martin",
        "email": "alice@univ.example",
        "timeFormat": 24,
        "defaultScheduleId": 7,
        "weekStart": "Monday",
        "timeZone": "Europe/Paris",
        "organizationId": None,
    }


def event_type_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": 1201,
        "lengthInMinutes": 15,
        "title": "Thotis – 15 min Q&A",
        "slug": "thotis-15",
        "description": "A 15-minute video chat with a university student.",
        "locations": [{"type": "integration", "integration": "google-meet"}],
        "bookingFields": [
            {"type": "name", "slug": "name", "isDefault": True, "required": True, "label": "Your name"},
            {"type": "textarea", "slug": "notes", "isDefault": True, "required": False},
        ],
        "disableGuests": True,
        "slotInterval": 15,
        "minimumBookingNotice": 120,
        "beforeEventBuffer": 0,
        "afterEventBuffer": 0,
        "recurrence": None,
        "metadata": {},
        "price": 0,
        "currency": "usd",
        "lockTimeZoneToggleOnBookingPage": False,
        "seatsPerTimeSlot": None,
        "forwardParamsSuccessRedirect": None,
        "successRedirectUrl": None,
        "isInstantEvent": False,
        "scheduleId": None,
        "bookingWindow": [{"type": "calendarDays", "value": 30, "rolling": True}],
        "ownerId": 42,
        "users": ["alice-martin"],
    }
    data.update(overrides)
    return data


def booking_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": 9001,
        "uid": BOOKING_UID,
        "title": "Thotis – 15 min Q&A between Alice Martin and Léa Dupont",
        "description": "What is the first year of law school like?",
        "hosts": [
            {
                "id": 42,
                "name": "Alice Martin",
                "email": "alice@univ.example",
                "username": "alice-martin",
                "timeZone": "Europe/Paris",
            }
        ],
        "status": "accepted",
        "start": "2050-09-05T07:00:00.000Z",
        "end": "2050-09-05T07:15:00.000Z",
        "duration": 15,
        "eventTypeId": 1201,
        "eventType": {"id": 1201, "slug": "thotis-15"},
        "meetingUrl": MEET_URL,
        "location": MEET_URL,
        "absentHost": False,
        "createdAt": "2050-09-01T10:00:00.000Z",
        "updatedAt": "2050-09-01T10:00:01.000Z",
        "metadata": {"thotis": "1", "thotisMentorId": "m-17"},
        "icsUid": "k4Hq2yTbVZpM8cS1wEr7Nd@Cal.com",
        "attendees": [
            {
                "name": "Léa Dupont",
                "email": "lea@example.org",
                "timeZone": "Europe/Paris",
                "language": "fr",
                "absent": False,
            }
        ],
        "guests": [],
        "bookingFieldsResponses": {
            "name": "Léa Dupont",
            "email": "lea@example.org",
            "notes": "What is the first year of law school like?",
        },
    }
    data.update(overrides)
    return data


def pagination_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "totalItems": 1,
        "remainingItems": 0,
        "returnedItems": 1,
        "itemsPerPage": 100,
        "currentPage": 1,
        "totalPages": 1,
        "hasNextPage": False,
        "hasPreviousPage": False,
    }
    data.update(overrides)
    return data


def slots_data() -> dict[str, Any]:
    return {
        "2050-09-06": [
            {"start": "2050-09-06T09:00:00.000+02:00", "end": "2050-09-06T09:15:00.000+02:00"},
        ],
        "2050-09-05": [
            {"start": "2050-09-05T09:00:00.000+02:00", "end": "2050-09-05T09:15:00.000+02:00"},
            {"start": "2050-09-05T09:15:00.000+02:00", "end": "2050-09-05T09:30:00.000+02:00"},
        ],
    }


def references_data() -> list[dict[str, Any]]:
    return [
        {"id": 501, "type": "google_calendar", "eventUid": "0a1b2c3d4e", "destinationCalendarId": "alice@univ.example"},
        {"id": 502, "type": "google_video", "eventUid": "0a1b2c3d4e", "destinationCalendarId": None},
    ]


def webhook_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": WEBHOOK_ID,
        "userId": 42,
        "subscriberUrl": "https://thotis.example/api/v2/calcom/webhooks?mentor=m-17",
        "triggers": ["BOOKING_CREATED", "BOOKING_CANCELLED"],
        "active": True,
        "payloadTemplate": None,
    }
    data.update(overrides)
    return data


def event_type_webhook_data(**overrides: Any) -> dict[str, Any]:
    data = webhook_data()
    del data["userId"]
    data["eventTypeId"] = 1201
    data.update(overrides)
    return data


def error_body(status: int, code: str, message: str, path: str = "/v2/bookings") -> dict[str, Any]:
    """Cal.com's error envelope (contract §1.1)."""
    return {
        "status": "error",
        "timestamp": "2050-09-01T10:00:00.000Z",
        "path": path,
        "error": {"code": code, "message": message, "details": {"message": message, "statusCode": status}},
    }
