"""What every endpoint handler receives (`Call`) and the success envelope it returns."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from calcom_client.simulator.errors import bad_request, not_found, unauthorized
from calcom_client.simulator.http import Request, Response, json_response
from calcom_client.simulator.service import CalcomService
from calcom_client.simulator.state import EventType, Store, User
from calcom_client.simulator.validation import parse_json_object


@dataclass
class Call:
    """One request as a handler sees it: parsed parameters, the caller (if any), the service."""

    request: Request
    params: dict[str, str]
    service: CalcomService
    user: User | None

    @property
    def store(self) -> Store:
        """The simulator's data."""
        return self.service.store

    def json(self) -> dict[str, Any]:
        """The request body as a JSON object.

        Raises:
            CalcomError: 400 when it is not JSON.
        """
        return parse_json_object(self.request.body)

    def caller(self) -> User:
        """The authenticated user (routes that require auth always have one).

        Raises:
            CalcomError: 401 when the route was reached without credentials.
        """
        if self.user is None:
            raise unauthorized("No user associated with the provided token")
        return self.user

    def path_int(self, name: str) -> int:
        """An integer path parameter, as NestJS's `ParseIntPipe` reads it.

        Raises:
            CalcomError: 400 when it is not a number.
        """
        value = self.params[name]
        if not value.isdigit():
            raise bad_request("Validation failed (numeric string is expected)")
        return int(value)

    def owned_event_type(self, event_type_id: int) -> EventType:
        """The caller's event type `event_type_id`.

        Raises:
            CalcomError: 404 when it does not exist or belongs to someone else.
        """
        event_type = self.store.event_types.get(event_type_id)
        if event_type is None or event_type.owner_id != self.caller().id:
            raise not_found(f"Event type with id {event_type_id} not found")
        return event_type


Handler = Callable[[Call], Response]


def success(status: int, data: Any, **extra: Any) -> Response:
    """`{"status": "success", "data": …}` plus any extra top-level keys (e.g. `pagination`)."""
    return json_response(status, {"status": "success", "data": data, **extra})


def query_numbers(query: Mapping[str, str], names: tuple[str, ...]) -> dict[str, Any]:
    """Query parameters with numeric ones converted, as `transform: true` does before validation."""
    converted: dict[str, Any] = dict(query)
    for name in names:
        value = converted.get(name)
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                continue
            converted[name] = int(number) if number.is_integer() else number
    return converted
