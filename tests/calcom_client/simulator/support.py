"""Shared values and helpers for the simulator tests."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from calcom_client.simulator import CalcomSimulator, User
from calcom_client.simulator.http import Request
from tests.calcom_client.simulator.openapi_check import check_error_envelope, validate_request, validate_response

MONDAY = datetime(2050, 9, 5, tzinfo=UTC)  # a Monday, summer time in Paris (UTC+2)
NOW = MONDAY.replace(hour=6)  # 08:00 in Paris
BASE_URL = "http://calcom.test"
HOOK_URL = "http://thotis.test/webhooks/calcom"
EVENT_TYPES = {"cal-api-version": "2024-06-14"}
BOOKINGS = {"cal-api-version": "2024-08-13"}
SLOTS = {"cal-api-version": "2024-09-04"}
MEET = {"type": "integration", "integration": "google-meet"}


def auth(user: User, **extra: str) -> dict[str, str]:
    """`Authorization: Bearer <the user's cal_ key>` plus any other headers."""
    return {"Authorization": f"Bearer {user.api_key}", **extra}


async def check_traffic(response: httpx.Response) -> None:
    """Validate a successful exchange against the document, and an error against Cal.com's envelope."""
    await response.aread()
    if response.is_success:
        validate_request(response.request)
        validate_response(response)
    elif response.headers.get("content-type", "").startswith("application/json") and "status" in response.json():
        check_error_envelope(response)


def validating_client(sim: CalcomSimulator) -> httpx.AsyncClient:
    """A client on the simulator whose every exchange is checked by `check_traffic`."""
    transport = httpx.ASGITransport(app=sim.app)
    return httpx.AsyncClient(transport=transport, base_url=BASE_URL, event_hooks={"response": [check_traffic]})


def call(
    sim: CalcomSimulator,
    method: str,
    path: str,
    *,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    json_body: Any = None,
) -> httpx.Response:
    """One request served synchronously (no event loop), validated like `check_traffic` does.

    Used by property tests, which run many examples and need no webhooks.
    """
    request = httpx.Request(method, BASE_URL + path, params=params, headers=headers, json=json_body)
    served = sim.app.handle(
        Request(
            method=method,
            path=path,
            query_string=request.url.query.decode(),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=request.content,
        )
    )
    response = httpx.Response(served.status, headers=served.headers, content=served.body, request=request)
    if response.is_success:
        validate_request(request)
        validate_response(response)
    elif "status" in response.json():
        check_error_envelope(response)
    return response


async def create_event_type(api: httpx.AsyncClient, user: User, **fields: Any) -> dict[str, Any]:
    """Create an event type through the API and return its `data`."""
    body = {"title": "Thotis session", "slug": "thotis", "lengthInMinutes": 15, "locations": [MEET], **fields}
    response = await api.post("/v2/event-types", headers=auth(user, **EVENT_TYPES), json=body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def booking_body(event_type_id: int, start: datetime | str, **extra: Any) -> dict[str, Any]:
    """A `CreateBookingInput_2024_08_13` for a prospective student."""
    when = start if isinstance(start, str) else start.strftime("%Y-%m-%dT%H:%M:%SZ")
    attendee = {"name": "Zoé Martin", "email": "zoe@example.org", "timeZone": "Europe/Paris", "language": "fr"}
    return {"start": when, "eventTypeId": event_type_id, "attendee": attendee, **extra}


@dataclass
class Received:
    """One webhook POST as the receiver saw it: raw bytes, headers, path."""

    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        """The parsed body."""
        loaded: dict[str, Any] = json.loads(self.body)
        return loaded


@dataclass
class Receiver:
    """An ASGI webhook receiver recording every request; answers `status` (or `status(n)` for the
    n-th request, 0-based) with `reply_headers`, and may call `on_receive`."""

    status: int | Callable[[int], int] = 200
    on_receive: Callable[[Received], Awaitable[None]] | None = None
    reply_headers: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
        send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        status = self.status(len(self.received)) if callable(self.status) else self.status
        item = Received(scope["path"], headers, body)
        self.received.append(item)
        if self.on_receive is not None:
            await self.on_receive(item)
        extra = [(k.encode(), v.encode()) for k, v in self.reply_headers.items()]
        await send({"type": "http.response.start", "status": status, "headers": extra})
        await send({"type": "http.response.body", "body": b""})

    def payloads(self) -> list[dict[str, Any]]:
        """Every received body, parsed."""
        return [r.json() for r in self.received]

    def of(self, trigger: str) -> list[Received]:
        """The deliveries of one trigger."""
        return [r for r in self.received if r.json().get("triggerEvent") == trigger]
