"""The simulator's ASGI application: routing, `cal-api-version` handling, auth, latency, errors.

Order of checks follows NestJS: the route and its version are chosen first (a missing or wrong
version reaches an older controller, see `legacy`), then the auth guard runs, then validation
and the handler. Every `CalcomError` becomes Cal.com's error envelope.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from calcom_client.simulator import bookings, event_types, legacy, slots, subscriptions
from calcom_client.simulator.errors import (
    CalcomError,
    error_response,
    route_not_found,
    too_many_requests,
    unauthorized,
    unhandled_response,
)
from calcom_client.simulator.http import Receive, Request, Response, Router, Scope, Send, read_request, send_response
from calcom_client.simulator.routing import Call, Handler
from calcom_client.simulator.service import CalcomService
from calcom_client.simulator.state import API_KEY_PREFIX, User

logger = logging.getLogger(__name__)

NO_CREDENTIALS = (
    "No authentication method provided. Either pass an API key as 'Bearer' header or OAuth client credentials "
    "as 'x-cal-secret-key' and 'x-cal-client-id' headers"
)


@dataclass
class Fault:
    """An injected failure for the next `remaining` matching requests (to exercise client retries)."""

    status: int
    remaining: int = 1
    method: str | None = None
    path_prefix: str | None = None

    def matches(self, request: Request) -> bool:
        """Whether this fault applies to `request`."""
        method_ok = self.method is None or self.method.upper() == request.method
        return method_ok and (self.path_prefix is None or request.path.startswith(self.path_prefix))


@dataclass
class Knobs:
    """Run-time settings a test or benchmark may change at any moment."""

    delay_seconds: float = 0.0
    license_valid: bool = True
    faults: list[Fault] = field(default_factory=list)


def build_router() -> Router:
    """Every route of API v2 the simulator answers, with its versioned resource and auth mode."""
    router = Router()
    add = router.add
    add("GET", "/v2/me", subscriptions.get_me, auth="required")
    add("POST", "/v2/event-types", event_types.create_event_type, resource="event-types", auth="required")
    add("GET", "/v2/event-types", event_types.list_event_types, resource="event-types", auth="public")
    add("GET", "/v2/event-types/{eventTypeId}", event_types.get_event_type, resource="event-types", auth="required")
    add(
        "PATCH", "/v2/event-types/{eventTypeId}", event_types.update_event_type, resource="event-types", auth="required"
    )
    add(
        "DELETE",
        "/v2/event-types/{eventTypeId}",
        event_types.delete_event_type,
        resource="event-types",
        auth="required",
    )
    hooks = "/v2/event-types/{eventTypeId}/webhooks"
    add("POST", hooks, subscriptions.create_event_type_webhook, auth="required")
    add("GET", hooks, subscriptions.list_event_type_webhooks, auth="required")
    add("DELETE", hooks, subscriptions.delete_all_event_type_webhooks, auth="required")
    add("GET", hooks + "/{webhookId}", subscriptions.get_event_type_webhook, auth="required")
    add("PATCH", hooks + "/{webhookId}", subscriptions.update_event_type_webhook, auth="required")
    add("DELETE", hooks + "/{webhookId}", subscriptions.delete_event_type_webhook, auth="required")
    add("GET", "/v2/slots", slots.get_slots, resource="slots")
    one = "/v2/bookings/{bookingUid}"
    add("POST", "/v2/bookings", bookings.create_booking, resource="bookings", auth="optional")
    add("GET", "/v2/bookings", bookings.list_bookings, resource="bookings", auth="required")
    add("GET", one, bookings.get_booking, resource="bookings")
    add("POST", one + "/cancel", bookings.cancel_booking, resource="bookings", auth="optional")
    add("POST", one + "/reschedule", bookings.reschedule_booking, resource="bookings", auth="optional")
    add("POST", one + "/mark-absent", bookings.mark_absent, resource="bookings", auth="required")
    add("GET", one + "/references", bookings.booking_references, resource="bookings", auth="required")
    add("POST", "/v2/webhooks", subscriptions.create_user_webhook, auth="required")
    add("GET", "/v2/webhooks", subscriptions.list_user_webhooks, auth="required")
    add("GET", "/v2/webhooks/{webhookId}", subscriptions.get_user_webhook, auth="required")
    add("PATCH", "/v2/webhooks/{webhookId}", subscriptions.update_user_webhook, auth="required")
    add("DELETE", "/v2/webhooks/{webhookId}", subscriptions.delete_user_webhook, auth="required")
    return router


class SimulatorApp:
    """An ASGI 3 application answering the API v2 subset the sidecar uses, as Cal.com does."""

    def __init__(self, service: CalcomService, knobs: Knobs) -> None:
        self.service = service
        self.knobs = knobs
        self.router = build_router()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        request = await read_request(scope, receive)
        response = self.handle(request)
        if self.knobs.delay_seconds > 0:
            await asyncio.sleep(self.knobs.delay_seconds)
        await send_response(send, response)

    def handle(self, request: Request) -> Response:
        """Answer one request (synchronously: no await between a check and the write it guards)."""
        try:
            fault = self._take_fault(request)
            if fault is not None:
                return fault
            return self._dispatch(request)
        except CalcomError as error:
            return error_response(error, request.url, self.service.clock.now(), request.headers.get("x-request-id"))
        except Exception:
            logger.exception("calcom simulator: unhandled error for %s %s", request.method, request.url)
            return unhandled_response()

    def _dispatch(self, request: Request) -> Response:
        found = self.router.match(request.method, request.path)
        if found is None:
            raise route_not_found(request.method, request.url)
        route, params = found
        handler: Handler = route.handler
        auth = route.auth
        if route.resource is not None:
            version = legacy.effective_version(request.headers.get("cal-api-version"))
            if version != legacy.REQUIRED_VERSION[route.resource]:
                old = legacy.ROUTES.get((request.method, route.template))
                if old is None or version not in legacy.LEGACY_VERSIONS[route.resource]:
                    raise route_not_found(request.method, request.url)
                auth, handler = old
        user = self._authenticate(request, auth)
        return handler(Call(request=request, params=params, service=self.service, user=user))

    def _authenticate(self, request: Request, mode: str) -> User | None:
        """Cal.com's API-key strategy: `Bearer cal_…` looked up by hash, 401 otherwise.

        `public` routes identify a caller when they can and ignore bad credentials; `optional`
        routes accept no credentials but refuse bad ones; `required` routes refuse both.
        """
        if mode == "none":
            return None
        header = request.headers.get("authorization", "")
        token = header.replace("Bearer ", "", 1).strip() if header else ""
        if not token:
            if mode == "required":
                raise unauthorized(NO_CREDENTIALS)
            return None
        try:
            return self._user_for_token(token)
        except CalcomError:
            if mode == "public":
                return None
            raise

    def _user_for_token(self, token: str) -> User:
        if not token.startswith(API_KEY_PREFIX):
            # Anything else is taken for a managed-user access token; the simulator issues none.
            raise unauthorized("ApiAuthStrategy - access token - Invalid Access Token.")
        if not self.knobs.license_valid:
            raise unauthorized("ApiAuthStrategy - api key - Invalid or missing CALCOM_LICENSE_KEY environment variable")
        user = self.service.store.user_by_key(token)
        if user is None:
            raise unauthorized("ApiAuthStrategy - api key - Your api key is not valid")
        return user

    def _take_fault(self, request: Request) -> Response | None:
        fault = next((f for f in self.knobs.faults if f.remaining > 0 and f.matches(request)), None)
        if fault is None:
            return None
        fault.remaining -= 1
        if fault.remaining <= 0:
            self.knobs.faults.remove(fault)
        if fault.status == 429:
            return error_response(too_many_requests(), request.url, self.service.clock.now())
        if fault.status == 500:
            return unhandled_response()
        # What a reverse proxy in front of Cal.com answers when the API is down or slow.
        body = f"<html><body><h1>{fault.status}</h1></body></html>".encode()
        return Response(fault.status, body, [("content-type", "text/html")])


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
