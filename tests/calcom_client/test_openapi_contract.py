"""Every request the client can build, and every sample answer, validates against Cal.com's document."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from openapi_core import Config, OpenAPI
from openapi_core.exceptions import OpenAPIError
from openapi_core.validation.request.exceptions import (
    InvalidParameter,
    InvalidRequestBody,
    MissingRequiredParameter,
)
from openapi_core.validation.response.exceptions import InvalidData

from calcom_client import (
    GOOGLE_MEET,
    Attendee,
    BookingFilter,
    BookingStatusFilter,
    CalcomClient,
    EventTypeFields,
    RetryPolicy,
    WebhookTrigger,
    api_version_for,
)
from tests.calcom_client import openapi_validation as oa

START = datetime(2050, 9, 5, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Call:
    """One client call with representative arguments, and the documented answer to give it."""

    name: str
    run: Callable[[CalcomClient], Awaitable[Any]]
    status: int
    body: Any


CALLS = [
    Call("me", lambda c: c.me(oa.MENTOR_KEY), 200, oa.success(oa.me_data())),
    Call(
        "create_event_type",
        lambda c: c.create_event_type(
            oa.MENTOR_KEY,
            EventTypeFields(
                title="Thotis – 15 min Q&A",
                slug="thotis-15",
                length_in_minutes=15,
                description="A 15-minute video chat.",
                locations=[GOOGLE_MEET],
                minimum_booking_notice=120,
                slot_interval=15,
                before_event_buffer=0,
                after_event_buffer=5,
                booking_window_days=30,
                extra={"disableGuests": True},
            ),
        ),
        201,
        oa.success(oa.event_type_data()),
    ),
    Call("get_event_type", lambda c: c.get_event_type(oa.MENTOR_KEY, 1201), 200, oa.success(oa.event_type_data())),
    Call(
        "update_event_type",
        lambda c: c.update_event_type(
            oa.MENTOR_KEY, 1201, EventTypeFields(length_in_minutes=15, locations=[GOOGLE_MEET])
        ),
        200,
        oa.success(oa.event_type_data()),
    ),
    Call(
        "delete_event_type",
        lambda c: c.delete_event_type(oa.MENTOR_KEY, 1201),
        200,
        oa.success({"id": 1201, "lengthInMinutes": 15, "title": "Thotis – 15 min Q&A", "slug": "thotis-15"}),
    ),
    Call(
        "list_event_types",
        lambda c: c.list_event_types(username="alice-martin", event_slug="thotis-15"),
        200,
        oa.success([oa.event_type_data()]),
    ),
    Call(
        "get_slots",
        lambda c: c.get_slots(
            1201,
            START,
            START + timedelta(days=7),
            time_zone="Europe/Paris",
            duration=15,
            booking_uid_to_reschedule=oa.BOOKING_UID,
        ),
        200,
        oa.success(oa.slots_data()),
    ),
    Call(
        "create_booking",
        lambda c: c.create_booking(
            event_type_id=1201,
            start=START,
            attendee=Attendee(name="Léa Dupont", email="lea@example.org", time_zone="Europe/Paris", language="fr"),
            notes="What is the first year of law school like?",
            metadata={"thotis": "1", "thotisMentorId": "m-17"},
            location=GOOGLE_MEET,
        ),
        201,
        oa.success(oa.booking_data()),
    ),
    Call("get_booking", lambda c: c.get_booking(oa.BOOKING_UID), 200, oa.success(oa.booking_data())),
    Call(
        "list_bookings",
        lambda c: c.list_bookings(
            oa.MENTOR_KEY,
            BookingFilter(
                status=[BookingStatusFilter.UPCOMING, BookingStatusFilter.PAST],
                event_type_ids=[1201, 1202],
                attendee_email="lea@example.org",
                after_updated_at=START - timedelta(minutes=5),
                before_updated_at=START,
                after_start=START - timedelta(days=1),
                before_end=START + timedelta(days=30),
                sort_updated_at="asc",
            ),
            take=50,
            skip=50,
        ),
        200,
        oa.success([oa.booking_data()], pagination=oa.pagination_data()),
    ),
    Call(
        "cancel_booking",
        lambda c: c.cancel_booking(oa.BOOKING_UID, reason="Student cancelled", api_key=oa.MENTOR_KEY),
        200,
        oa.success(oa.booking_data(status="cancelled", cancellationReason="Student cancelled")),
    ),
    Call(
        "reschedule_booking",
        lambda c: c.reschedule_booking(
            oa.BOOKING_UID, START + timedelta(days=1), reason="Exam moved", rescheduled_by="lea@example.org"
        ),
        201,
        oa.success(oa.booking_data(uid=oa.NEW_BOOKING_UID, rescheduledFromUid=oa.BOOKING_UID)),
    ),
    Call(
        "mark_absent",
        lambda c: c.mark_absent(oa.BOOKING_UID, oa.MENTOR_KEY, host=False, attendees={"lea@example.org": True}),
        200,
        oa.success(oa.booking_data()),
    ),
    Call(
        "get_booking_references",
        lambda c: c.get_booking_references(oa.BOOKING_UID, oa.MENTOR_KEY, type="google_video"),
        200,
        oa.success(oa.references_data()),
    ),
    Call(
        "create_webhook",
        lambda c: c.create_webhook(
            oa.MENTOR_KEY,
            subscriber_url="https://thotis.example/api/v2/calcom/webhooks?mentor=m-17",
            triggers=[WebhookTrigger.BOOKING_CREATED, WebhookTrigger.BOOKING_CANCELLED],
            secret="s3cret",
        ),
        201,
        oa.success(oa.webhook_data()),
    ),
    Call(
        "list_webhooks",
        lambda c: c.list_webhooks(oa.MENTOR_KEY, take=100, skip=0),
        200,
        oa.success([oa.webhook_data()]),
    ),
    Call(
        "delete_webhook", lambda c: c.delete_webhook(oa.MENTOR_KEY, oa.WEBHOOK_ID), 200, oa.success(oa.webhook_data())
    ),
    Call(
        "create_event_type_webhook",
        lambda c: c.create_event_type_webhook(
            oa.MENTOR_KEY,
            1201,
            subscriber_url="https://thotis.example/api/v2/calcom/webhooks",
            triggers=list(WebhookTrigger),
            secret="s3cret",
            active=True,
        ),
        201,
        oa.success(oa.event_type_webhook_data()),
    ),
    Call(
        "list_event_type_webhooks",
        lambda c: c.list_event_type_webhooks(oa.MENTOR_KEY, 1201, take=10),
        200,
        oa.success([oa.event_type_webhook_data()]),
    ),
    Call(
        "delete_event_type_webhook",
        lambda c: c.delete_event_type_webhook(oa.MENTOR_KEY, 1201, oa.WEBHOOK_ID),
        200,
        oa.success(oa.event_type_webhook_data()),
    ),
]

# Every public coroutine of the client (iter_bookings is an async generator over list_bookings).
PUBLIC_CLIENT_METHODS = {
    name for name, member in inspect.getmembers(CalcomClient, inspect.iscoroutinefunction) if not name.startswith("_")
}


async def capture(call: Call) -> tuple[httpx.Request, Any]:
    """Run ``call`` against a mock transport that answers the sample body; return the request sent."""
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(call.status, json=call.body)

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        result = await call.run(CalcomClient(http, oa.API_URL, policy=RetryPolicy(max_attempts=1)))
    assert len(sent) == 1
    return sent[0], result


class TestEveryRequestMatchesTheDocument:
    def test_every_public_method_has_a_contract_case(self) -> None:
        assert {call.name for call in CALLS} == PUBLIC_CLIENT_METHODS

    @pytest.mark.parametrize("call", CALLS, ids=lambda call: call.name)
    async def test_request_validates_against_the_document(self, call: Call) -> None:
        request, _ = await capture(call)
        oa.validate_request(request)

    @pytest.mark.parametrize("call", CALLS, ids=lambda call: call.name)
    async def test_version_header_is_exactly_what_the_operation_requires(self, call: Call) -> None:
        request, _ = await capture(call)
        template, operation = oa.find_operation(request)
        assert request.headers.get(oa.VERSION_HEADER) == oa.operation_version(operation), template
        assert "origin" not in request.headers

    @pytest.mark.parametrize("call", CALLS, ids=lambda call: call.name)
    async def test_sample_answer_validates_against_the_documented_response(self, call: Call) -> None:
        request, result = await capture(call)
        oa.validate_response(request, call.status, call.body)
        assert result is not None or call.name == "delete_event_type"


class TestTheValidatorIsNotVacuous:
    """The corrections of contract §12 stay narrow: wrong requests and answers are still rejected."""

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Request:
        return httpx.Request(method, oa.API_URL + path, **kwargs)

    def test_rejects_a_missing_version_header(self) -> None:
        with pytest.raises(MissingRequiredParameter):
            oa.validate_request(self._request("GET", f"/v2/bookings/{oa.BOOKING_UID}"))

    def test_rejects_the_old_default_version(self) -> None:
        request = self._request("GET", f"/v2/bookings/{oa.BOOKING_UID}", headers={"cal-api-version": "2024-04-15"})
        with pytest.raises(InvalidParameter):
            oa.validate_request(request)

    def test_rejects_a_booking_without_attendee(self) -> None:
        request = self._request(
            "POST",
            "/v2/bookings",
            headers={"cal-api-version": "2024-08-13"},
            json={"start": "2050-09-05T07:00:00Z", "eventTypeId": 1201},
        )
        with pytest.raises(InvalidRequestBody):
            oa.validate_request(request)

    def test_rejects_a_trigger_that_is_not_in_the_enum(self) -> None:
        request = self._request(
            "POST",
            "/v2/webhooks",
            headers={"Authorization": f"Bearer {oa.MENTOR_KEY}"},
            json={"subscriberUrl": "https://x.example", "active": True, "triggers": ["BOOKING_COMPLETED"]},
        )
        with pytest.raises(InvalidRequestBody):
            oa.validate_request(request)

    def test_rejects_an_unknown_booking_status_filter(self) -> None:
        request = self._request(
            "GET",
            "/v2/bookings",
            params={"status": "upcoming,done"},
            headers={"cal-api-version": "2024-08-13", "Authorization": f"Bearer {oa.MENTOR_KEY}"},
        )
        with pytest.raises(InvalidParameter):
            oa.validate_request(request)

    def test_rejects_a_missing_bearer_token_where_one_is_declared(self) -> None:
        with pytest.raises(MissingRequiredParameter):
            oa.validate_request(self._request("GET", "/v2/me"))

    def test_rejects_an_authorization_that_is_not_a_bearer_token(self) -> None:
        with pytest.raises(AssertionError):
            oa.validate_request(self._request("GET", "/v2/me", headers={"Authorization": oa.MENTOR_KEY}))

    def test_rejects_a_booking_answer_without_uid(self) -> None:
        request = self._request("GET", f"/v2/bookings/{oa.BOOKING_UID}", headers={"cal-api-version": "2024-08-13"})
        body = oa.booking_data()
        del body["uid"]
        with pytest.raises(InvalidData):
            oa.validate_response(request, 200, oa.success(body))

    def test_rejects_slots_outside_the_envelope(self) -> None:
        request = self._request("GET", "/v2/slots", params={"start": "2050-09-05", "end": "2050-09-06"})
        with pytest.raises(InvalidData):
            oa.validate_response(request, 200, oa.slots_data())


class TestTheCorrectionsAreNeeded:
    """As published, the document rejects requests Cal.com accepts (contract §12): why corrections exist."""

    @pytest.mark.parametrize("name", ["create_booking", "create_webhook", "list_bookings"])
    async def test_the_raw_document_rejects_a_valid_request(self, name: str) -> None:
        request, _ = await capture(next(call for call in CALLS if call.name == name))
        raw = OpenAPI.from_dict(oa.raw_document(), config=Config(spec_validator_cls=None))
        with pytest.raises(OpenAPIError):
            raw.validate_request(oa.HttpxRequest(request))


class TestVersionHeaderRouting:
    """``api_version_for`` agrees with the document for every operation of the resources we call."""

    def test_matches_every_documented_operation(self) -> None:
        prefixes = ("/v2/event-types", "/v2/bookings", "/v2/slots", "/v2/webhooks", "/v2/me")
        checked = 0
        for path, item in oa.raw_document()["paths"].items():
            if not path.startswith(prefixes):
                continue
            for method, operation in item.items():
                if method not in {"get", "post", "patch", "put", "delete"}:
                    continue
                assert api_version_for(path) == oa.operation_version(operation), f"{method} {path}"
                checked += 1
        assert checked >= 30
