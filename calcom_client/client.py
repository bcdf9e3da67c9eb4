"""``CalcomClient``: the calls the sidecar makes to Cal.com API v2, typed.

Each method names the documented endpoint it calls, builds exactly the documented body, sends it
through :class:`~calcom_client.transport.CalcomTransport` (headers, retries, errors) and parses the
``{"status": "success", "data": …}`` envelope into the models of :mod:`calcom_client.models`.
The API key is passed per call: a mentor's own key or the organisation key, whichever may act.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

import httpx

from calcom_client.envelope import flatten_slots, parse, unwrap
from calcom_client.errors import CalcomNotFound
from calcom_client.inputs import (
    Attendee,
    BookingFilter,
    EventTypeFields,
    MetadataValue,
    WebhookTrigger,
    check_metadata,
    compact,
    utc_iso,
    webhook_body,
)
from calcom_client.models import Booking, BookingPage, BookingReference, EventType, Me, Pagination, Slot, Webhook
from calcom_client.retry import RetryPolicy
from calcom_client.transport import DEFAULT_TIMEOUT, CalcomTransport


def _segment(value: str | int) -> str:
    """A path segment, escaped so a uid can never change the path."""
    text = str(value)
    if not text:
        raise ValueError("empty path segment")
    return quote(text, safe="")


class CalcomClient:
    """Typed async client for the subset of Cal.com API v2 the sidecar uses.

    Takes an injected ``httpx.AsyncClient`` (its lifetime belongs to the caller) and the API base URL
    *without* ``/v2`` (``https://api.cal.com``). Every method raises a
    :class:`~calcom_client.errors.CalcomError` subclass on failure.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        *,
        policy: RetryPolicy | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.transport = CalcomTransport(http, base_url, policy=policy, timeout=timeout, sleep=sleep)

    @classmethod
    def from_transport(cls, transport: CalcomTransport) -> CalcomClient:
        """A client over a fully configured transport (clock, jitter… injected, e.g. in tests)."""
        client = cls.__new__(cls)
        client.transport = transport
        return client

    async def _call(
        self,
        method: str,
        path: str,
        *,
        api_key: str | None,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
    ) -> Any:
        body = await self.transport.request(
            method, path, api_key=api_key, params=params, json=json, idempotent=idempotent
        )
        return unwrap(body, path)

    # --- me ---------------------------------------------------------------------------------------

    async def me(self, api_key: str) -> Me:
        """``GET /v2/me``: who the key belongs to (checks a mentor's key when linking)."""
        return parse(Me, await self._call("GET", "/v2/me", api_key=api_key), "/v2/me")

    # --- event types (cal-api-version 2024-06-14) -------------------------------------------------

    async def create_event_type(self, api_key: str, fields: EventTypeFields) -> EventType:
        """``POST /v2/event-types`` for the key's owner; never retried once sent (a second create
        would clash on the slug).

        Raises:
            ValueError: ``title``, ``slug`` or ``length_in_minutes`` missing (nothing is sent).
            CalcomBadRequest: e.g. ``google-meet not connected.`` when the owner lacks the Meet app.
        """
        if fields.title is None or fields.slug is None or fields.length_in_minutes is None:
            raise ValueError("an event type needs title, slug and length_in_minutes")
        path = "/v2/event-types"
        data = await self._call("POST", path, api_key=api_key, json=fields.to_json(), idempotent=False)
        return parse(EventType, data, path)

    async def get_event_type(self, api_key: str, event_type_id: int) -> EventType:
        """``GET /v2/event-types/{id}``.

        Raises:
            CalcomNotFound: no such event type (Cal.com may also answer 200 with ``data: null``).
        """
        path = f"/v2/event-types/{_segment(event_type_id)}"
        data = await self._call("GET", path, api_key=api_key)
        if data is None:
            raise CalcomNotFound("event type not found", status=200, method="GET", path=path)
        return parse(EventType, data, path)

    async def update_event_type(self, api_key: str, event_type_id: int, fields: EventTypeFields) -> EventType:
        """``PATCH /v2/event-types/{id}`` with only the fields set (e.g. re-asserting the 15-minute length).

        Raises:
            ValueError: no field set.
        """
        body = fields.to_json()
        if not body:
            raise ValueError("nothing to update")
        path = f"/v2/event-types/{_segment(event_type_id)}"
        return parse(EventType, await self._call("PATCH", path, api_key=api_key, json=body), path)

    async def delete_event_type(self, api_key: str, event_type_id: int) -> None:
        """``DELETE /v2/event-types/{id}``."""
        await self._call("DELETE", f"/v2/event-types/{_segment(event_type_id)}", api_key=api_key)

    async def list_event_types(
        self, *, username: str, event_slug: str | None = None, api_key: str | None = None
    ) -> list[EventType]:
        """``GET /v2/event-types?username=…`` (public): a user's event types, ``[]`` when none.

        Cal.com answers an empty result with 404 "Event types not found" (contract §3), so a 404 here
        is returned as ``[]``.
        """
        path = "/v2/event-types"
        params = compact({"username": username, "eventSlug": event_slug})
        try:
            data = await self._call("GET", path, api_key=api_key, params=params)
        except CalcomNotFound:
            return []
        return parse(list[EventType], data, path)

    # --- slots (cal-api-version 2024-09-04) -------------------------------------------------------

    async def get_slots(
        self,
        event_type_id: int,
        start: datetime,
        end: datetime,
        *,
        time_zone: str | None = None,
        format: Literal["range", "time"] = "range",
        duration: int | None = None,
        booking_uid_to_reschedule: str | None = None,
        api_key: str | None = None,
    ) -> list[Slot]:
        """``GET /v2/slots``: free slots between ``start`` and ``end`` (sent in UTC), in start order.

        Times come back with the offset of ``time_zone`` (UTC when not given); they are aware either way.
        """
        params = compact(
            {
                "eventTypeId": str(int(event_type_id)),
                "start": utc_iso(start),
                "end": utc_iso(end),
                "timeZone": time_zone,
                "format": format,
                "duration": None if duration is None else str(int(duration)),
                "bookingUidToReschedule": booking_uid_to_reschedule,
            }
        )
        path = "/v2/slots"
        return flatten_slots(await self._call("GET", path, api_key=api_key, params=params), path)

    # --- bookings (cal-api-version 2024-08-13) ----------------------------------------------------

    async def create_booking(
        self,
        *,
        event_type_id: int,
        start: datetime,
        attendee: Attendee,
        notes: str | None = None,
        booking_fields_responses: Mapping[str, Any] | None = None,
        metadata: Mapping[str, MetadataValue] | None = None,
        location: Mapping[str, Any] | None = None,
        guests: Sequence[str] | None = None,
        api_key: str | None = None,
    ) -> Booking:
        """``POST /v2/bookings``; retried only if the request never reached Cal.com.

        ``notes`` (the student's question) goes to ``bookingFieldsResponses.notes``: there is no
        top-level ``notes`` field (contract §5). ``metadata`` is checked against Cal.com's limits.

        Raises:
            ValueError: naive ``start`` or metadata over Cal.com's limits (nothing is sent).
            CalcomBadRequest: slot taken, inside minimum notice, in the past…
        """
        responses = dict(booking_fields_responses or {})
        if notes is not None:
            responses["notes"] = notes
        body = compact(
            {
                "start": utc_iso(start),
                "eventTypeId": int(event_type_id),
                "attendee": attendee.to_json(),
                "bookingFieldsResponses": responses or None,
                "metadata": check_metadata(metadata) if metadata else None,
                "location": dict(location) if location is not None else None,
                "guests": list(guests) if guests else None,
            }
        )
        path = "/v2/bookings"
        data = await self._call("POST", path, api_key=api_key, json=body, idempotent=False)
        return parse(Booking, data, path)

    async def get_booking(self, uid: str, *, api_key: str | None = None) -> Booking:
        """``GET /v2/bookings/{uid}`` (the uid is the capability; a key is optional)."""
        path = f"/v2/bookings/{_segment(uid)}"
        return parse(Booking, await self._call("GET", path, api_key=api_key), path)

    async def list_bookings(
        self, api_key: str, filters: BookingFilter | None = None, *, take: int = 100, skip: int = 0
    ) -> BookingPage:
        """``GET /v2/bookings``: one page of the key owner's bookings matching ``filters``."""
        params: dict[str, str | int] = {**(filters or BookingFilter()).to_params(), "take": take, "skip": skip}
        path = "/v2/bookings"
        body = await self.transport.request("GET", path, api_key=api_key, params=params)
        data = unwrap(body, path)
        pagination = body.get("pagination")
        return BookingPage(
            bookings=parse(list[Booking], data, path),
            pagination=parse(Pagination, pagination, path) if pagination is not None else None,
        )

    async def iter_bookings(
        self, api_key: str, filters: BookingFilter | None = None, *, page_size: int = 100
    ) -> AsyncIterator[Booking]:
        """Every booking matching ``filters``, page after page (for reconciliation)."""
        skip = 0
        while True:
            page = await self.list_bookings(api_key, filters, take=page_size, skip=skip)
            for booking in page.bookings:
                yield booking
            skip += len(page.bookings)
            if not page.bookings or page.pagination is None or not page.pagination.has_next_page:
                return

    async def cancel_booking(self, uid: str, *, reason: str | None = None, api_key: str | None = None) -> Booking:
        """``POST /v2/bookings/{uid}/cancel``; a host cancelling with their own key must give ``reason``.

        Retried like an idempotent call, so after an unclear failure Cal.com may answer 400 "already
        cancelled": read the booking before concluding the cancellation failed.
        """
        path = f"/v2/bookings/{_segment(uid)}/cancel"
        body = compact({"cancellationReason": reason})
        return parse(Booking, await self._call("POST", path, api_key=api_key, json=body, idempotent=True), path)

    async def reschedule_booking(
        self,
        uid: str,
        start: datetime,
        *,
        reason: str | None = None,
        rescheduled_by: str | None = None,
        api_key: str | None = None,
    ) -> Booking:
        """``POST /v2/bookings/{uid}/reschedule``: returns the **new** booking (new uid, its
        ``rescheduledFromUid`` is ``uid``); the old one becomes cancelled. Not retried once sent.
        """
        path = f"/v2/bookings/{_segment(uid)}/reschedule"
        body = compact({"start": utc_iso(start), "reschedulingReason": reason, "rescheduledBy": rescheduled_by})
        return parse(Booking, await self._call("POST", path, api_key=api_key, json=body, idempotent=False), path)

    async def mark_absent(
        self, uid: str, api_key: str, *, host: bool | None = None, attendees: Mapping[str, bool] | None = None
    ) -> Booking:
        """``POST /v2/bookings/{uid}/mark-absent`` with the booking owner's key.

        ``attendees`` maps attendee email to absent. Only marking attendees fires Cal.com's
        ``BOOKING_NO_SHOW_UPDATED`` webhook (contract §8.6).

        Raises:
            CalcomForbidden: before the meeting has started.
        """
        if host is None and not attendees:
            raise ValueError("mark host and/or attendees")
        body = compact(
            {
                "host": host,
                "attendees": (
                    [{"email": email, "absent": absent} for email, absent in attendees.items()] if attendees else None
                ),
            }
        )
        path = f"/v2/bookings/{_segment(uid)}/mark-absent"
        return parse(Booking, await self._call("POST", path, api_key=api_key, json=body, idempotent=True), path)

    async def get_booking_references(
        self, uid: str, api_key: str, *, type: str | None = None
    ) -> list[BookingReference]:
        """``GET /v2/bookings/{uid}/references?type=…`` (e.g. ``google_video`` for the Meet link fallback)."""
        path = f"/v2/bookings/{_segment(uid)}/references"
        data = await self._call("GET", path, api_key=api_key, params=compact({"type": type}))
        return parse(list[BookingReference], data, path)

    # --- webhooks (no version header) -------------------------------------------------------------

    async def create_webhook(
        self,
        api_key: str,
        *,
        subscriber_url: str,
        triggers: Sequence[WebhookTrigger],
        secret: str | None = None,
        active: bool = True,
    ) -> Webhook:
        """``POST /v2/webhooks``: a subscription for the key owner's bookings (API keys only).

        One URL per user (a second one conflicts), so put all triggers in one subscription.
        """
        body = webhook_body(subscriber_url, triggers, secret, active)
        path = "/v2/webhooks"
        return parse(Webhook, await self._call("POST", path, api_key=api_key, json=body, idempotent=False), path)

    async def list_webhooks(self, api_key: str, *, take: int | None = None, skip: int | None = None) -> list[Webhook]:
        """``GET /v2/webhooks``: the key owner's subscriptions."""
        path = "/v2/webhooks"
        data = await self._call("GET", path, api_key=api_key, params=compact({"take": take, "skip": skip}))
        return parse(list[Webhook], data, path)

    async def delete_webhook(self, api_key: str, webhook_id: str) -> Webhook:
        """``DELETE /v2/webhooks/{id}``; returns the deleted subscription."""
        path = f"/v2/webhooks/{_segment(webhook_id)}"
        return parse(Webhook, await self._call("DELETE", path, api_key=api_key), path)

    async def create_event_type_webhook(
        self,
        api_key: str,
        event_type_id: int,
        *,
        subscriber_url: str,
        triggers: Sequence[WebhookTrigger],
        secret: str | None = None,
        active: bool = True,
    ) -> Webhook:
        """``POST /v2/event-types/{id}/webhooks``: a subscription for one event type's bookings."""
        body = webhook_body(subscriber_url, triggers, secret, active)
        path = f"/v2/event-types/{_segment(event_type_id)}/webhooks"
        return parse(Webhook, await self._call("POST", path, api_key=api_key, json=body, idempotent=False), path)

    async def list_event_type_webhooks(
        self, api_key: str, event_type_id: int, *, take: int | None = None, skip: int | None = None
    ) -> list[Webhook]:
        """``GET /v2/event-types/{id}/webhooks``."""
        path = f"/v2/event-types/{_segment(event_type_id)}/webhooks"
        data = await self._call("GET", path, api_key=api_key, params=compact({"take": take, "skip": skip}))
        return parse(list[Webhook], data, path)

    async def delete_event_type_webhook(self, api_key: str, event_type_id: int, webhook_id: str) -> Webhook:
        """``DELETE /v2/event-types/{id}/webhooks/{webhookId}``; returns the deleted subscription."""
        path = f"/v2/event-types/{_segment(event_type_id)}/webhooks/{_segment(webhook_id)}"
        return parse(Webhook, await self._call("DELETE", path, api_key=api_key), path)
