"""Each ``CalcomClient`` method: the exact request it sends (respx) and what it makes of the answer."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import respx

from calcom_client import (
    GOOGLE_MEET,
    Attendee,
    BookingFilter,
    BookingStatusFilter,
    CalcomBadRequest,
    CalcomClient,
    CalcomForbidden,
    CalcomInvalidResponse,
    CalcomNotFound,
    CalcomServerError,
    CalcomTransport,
    EventTypeFields,
    RetryPolicy,
    WebhookTrigger,
)
from tests.calcom_client import openapi_validation as oa

START = datetime(2050, 9, 5, 9, 0, tzinfo=ZoneInfo("Europe/Paris"))
LEA = Attendee(name="Léa Dupont", email="lea@example.org", time_zone="Europe/Paris", language="fr")


async def no_sleep(seconds: float) -> None:
    return None


@pytest.fixture
async def router() -> AsyncIterator[respx.MockRouter]:
    async with respx.mock(base_url=oa.API_URL, assert_all_called=True, assert_all_mocked=True) as mock:
        yield mock


@pytest.fixture
async def client() -> AsyncIterator[CalcomClient]:
    async with httpx.AsyncClient(headers={"Origin": "https://thotis.example"}) as http:
        yield CalcomClient(http, oa.API_URL + "/v2", policy=RetryPolicy(max_attempts=3), sleep=no_sleep)


def sent(route: respx.Route) -> httpx.Request:
    assert route.call_count == 1
    return route.calls.last.request


def assert_headers(request: httpx.Request, *, version: str | None, key: str | None) -> None:
    assert request.headers.get("cal-api-version") == version
    assert request.headers.get("Authorization") == (f"Bearer {key}" if key else None)
    assert "origin" not in request.headers


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content)


def query_of(request: httpx.Request) -> dict[str, str]:
    return dict(request.url.params)


class TestMe:
    async def test_reads_the_key_owner(self, router: respx.MockRouter, client: CalcomClient) -> None:
        route = router.get("/v2/me").respond(200, json=oa.success(oa.me_data()))
        me = await client.me(oa.MENTOR_KEY)
        request = sent(route)
        assert request.method == "GET"
        assert_headers(request, version=None, key=oa.MENTOR_KEY)
        assert (me.id, me.username, me.email, me.time_zone) == (
            42,
            "alice-martin",
            "alice@univ.example",
            "Europe/Paris",
        )


class TestEventTypes:
    async def test_creates_a_fifteen_minute_meet_event_type(
        self, router: respx.MockRouter, client: CalcomClient
    ) -> None:
        route = router.post("/v2/event-types").respond(201, json=oa.success(oa.event_type_data()))
        fields = EventTypeFields(
            title="Thotis – 15 min Q&A",
            slug="thotis-15",
            length_in_minutes=15,
            locations=[GOOGLE_MEET],
            minimum_booking_notice=120,
            booking_window_days=30,
            extra={"disableGuests": True},
        )
        event_type = await client.create_event_type(oa.MENTOR_KEY, fields)
        request = sent(route)
        assert_headers(request, version="2024-06-14", key=oa.MENTOR_KEY)
        assert body_of(request) == {
            "title": "Thotis – 15 min Q&A",
            "slug": "thotis-15",
            "lengthInMinutes": 15,
            "locations": [{"type": "integration", "integration": "google-meet"}],
            "minimumBookingNotice": 120,
            "bookingWindow": {"type": "calendarDays", "value": 30, "rolling": True},
            "disableGuests": True,
        }
        assert (event_type.id, event_type.length_in_minutes, event_type.slot_interval) == (1201, 15, 15)
        assert event_type.uses_google_meet
        assert event_type.owner_id == 42

    async def test_create_needs_title_slug_and_length(self, client: CalcomClient) -> None:
        with pytest.raises(ValueError, match="title, slug"):
            await client.create_event_type(oa.MENTOR_KEY, EventTypeFields(title="x", slug="x"))

    async def test_create_is_not_retried(self, router: respx.MockRouter, client: CalcomClient) -> None:
        route = router.post("/v2/event-types").respond(503)
        with pytest.raises(CalcomServerError):
            await client.create_event_type(oa.MENTOR_KEY, EventTypeFields(title="x", slug="x", length_in_minutes=15))
        assert route.call_count == 1

    async def test_gets_one(self, router: respx.MockRouter, client: CalcomClient) -> None:
        route = router.get("/v2/event-types/1201").respond(200, json=oa.success(oa.event_type_data()))
        event_type = await client.get_event_type(oa.ORG_KEY, 1201)
        assert_headers(sent(route), version="2024-06-14", key=oa.ORG_KEY)
        assert event_type.slug == "thotis-15"

    async def test_get_with_null_data_is_not_found(self, router: respx.MockRouter, client: CalcomClient) -> None:
        router.get("/v2/event-types/1201").respond(200, json=oa.success(None))
        with pytest.raises(CalcomNotFound):
            await client.get_event_type(oa.MENTOR_KEY, 1201)

    async def test_update_sends_only_what_is_set(self, router: respx.MockRouter, client: CalcomClient) -> None:
        route = router.patch("/v2/event-types/1201").respond(200, json=oa.success(oa.event_type_data()))
        await client.update_event_type(oa.MENTOR_KEY, 1201, EventTypeFields(length_in_minutes=15))
        request = sent(route)
        assert_headers(request, version="2024-06-14", key=oa.MENTOR_KEY)
        assert body_of(request) == {"lengthInMinutes": 15}

    async def test_update_with_nothing_is_refused(self, client: CalcomClient) -> None:
        with pytest.raises(ValueError, match="nothing"):
            await client.update_event_type(oa.MENTOR_KEY, 1201, EventTypeFields())

    async def test_deletes_one(self, router: respx.MockRouter, client: CalcomClient) -> None:
        route = router.delete("/v2/event-types/1201").respond(
            200, json=oa.success({"id": 1201, "lengthInMinutes": 15, "title": "t", "slug": "s"})
        )
        await client.delete_event_type(oa.MENTOR_KEY, 1201)
        assert_headers(sent(route), version="2024-06-14", key=oa.MENTOR_KEY)

    async def test_lists_a_users_event_types_without_a_key(
        self, router: respx.MockRouter, client: CalcomClient
    ) -> None:
        route = router.get("/v2/event-types").respond(200, json=oa.success([oa.event_type_data()]))
        found = await client.list_event_types(username="alice-martin")
        request = sent(route)
        assert_headers(request, version="2024-06-14", key=None)
        assert query_of(request) == {"username": "alice-martin"}
        assert [event_type.id for event_type in found] == [1201]

    async def test_an_empty_list_is_a_404_for_calcom_and_empty_for_us(
        self, router: respx.MockRouter, client: CalcomClient
    ) -> None:
        router.get("/v2/event-types").respond(
            404, json=oa.error_body(404, "NotFoundException", "Event types not found")
        )
        assert await client.list_event_types(username="nobody", event_slug="thotis-15") == []


class TestSlots:
    async def test_asks_in_utc_and_returns_one_ordered_list(
        self, router: respx.MockRouter, client: CalcomClient
    ) -> None:
        route = router.get("/v2/slots").respond(200, json=oa.success(oa.slots_data()))
        slots = await client.get_slots(1201, START, START + timedelta(days=7), time_zone="Europe/Paris")
        request = sent(route)
        assert_headers(request, version="2024-09-04", key=None)
        assert query_of(request) == {
            "eventTypeId": "1201",
            "start": "2050-09-05T07:00:00Z",
            "end": "2050-09-12T07:00:00Z",
            "timeZone": "Europe/Paris",
            "format": "range",
        }
        assert [slot.start.isoformat() for slot in slots] == [
            "2050-09-05T09:00:00+02:00",
            "2050-09-05T09:15:00+02:00",
            "2050-09-06T09:00:00+02:00",
        ]
        assert all(slot.end is not None and slot.end - slot.start == timedelta(minutes=15) for slot in slots)

    async def test_reads_time_format_and_the_documented_string_items(
        self, router: respx.MockRouter, client: CalcomClient
    ) -> None:
        data = {"2050-09-05": [{"start": "2050-09-05T07:00:00.000Z"}, "2050-09-05T07:15:00.000Z"]}
        route = router.get("/v2/slots").respond(200, json=oa.success(data))
        slots = await client.get_slots(
            1201, START, START + timedelta(days=1), format="time", duration=15, booking_uid_to_reschedule="old"
        )
        assert query_of(sent(route))["bookingUidToReschedule"] == "old"
        assert [slot.start for slot in slots] == [
            datetime(2050, 9, 5, 7, 0, tzinfo=UTC),
            datetime(2050, 9, 5, 7, 15, tzinfo=UTC),
        ]
        assert slots[0].end is None

    async def test_no_free_day_is_an_empty_list(self, router: respx.MockRouter, client: CalcomClient) -> None:
        router.get("/v2/slots").respond(200, json=oa.success({}))
        assert await client.get_slots(1201, START, START + timedelta(days=1)) == []

    async def test_refuses_naive_times(self, client: CalcomClient) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            await client.get_slots(1201, datetime(2050, 9, 5), datetime(2050, 9, 6))

    @pytest.mark.parametrize(
        "data",
        [
            {"slots": {"2050-09-05": [{"time": "x"}]}},
            {"2050-09-05": [{"start": "2050-09-05T07:00:00"}]},  # no offset: which instant?
            {"2050-09-05": [{"start": "2050-09-05T07:00:00Z", "end": 15}]},
            {"2050-09-05": "2050-09-05T07:00:00Z"},
        ],
    )
    async def test_an_unexpected_shape_is_an_invalid_response(
        self, router: respx.MockRouter, client: CalcomClient, data: dict[str, Any]
    ) -> None:
        router.get("/v2/slots").respond(200, json=oa.success(data))
        with pytest.raises(CalcomInvalidResponse):
            await client.get_slots(1201, START, START + timedelta(days=1))


class TestBookings:
    async def test_creates_a_booking_with_question_and_metadata(
        self, router: respx.MockRouter, client: CalcomClient
    ) -> None:
        route = router.post("/v2/bookings").respond(201, json=oa.success(oa.booking_data()))
        booking = await client.create_booking(
            event_type_id=1201,
            start=START,
            attendee=LEA,
            notes="What is the first year of law school like?",
            metadata={"thotis": "1", "thotisMentorId": "m-17"},
        )
        request = sent(route)
        assert_headers(request, version="2024-08-13", key=None)
        assert body_of(request) == {
            "start": "2050-09-05T07:00:00Z",
            "eventTypeId": 1201,
            "attendee": {
                "name": "Léa Dupont",
                "email": "lea@example.org",
                "timeZone": "Europe/Paris",
                "language": "fr",
            },
            "bookingFieldsResponses": {"notes": "What is the first year of law school like?"},
            "metadata": {"thotis": "1", "thotisMentorId": "m-17"},
        }
        assert booking.uid == oa.BOOKING_UID
        assert booking.start == datetime(2050, 9, 5, 7, 0, tzinfo=UTC)
        assert booking.resolved_event_type_id == 1201
        assert booking.video_url == oa.MEET_URL
        assert booking.attendees[0].language == "fr"
        assert booking.metadata["thotisMentorId"] == "m-17"

    @pytest.mark.parametrize(
        ("metadata", "message"),
        [
            ({f"k{i}": "v" for i in range(51)}, "51 keys"),
            ({"k" * 41: "v"}, "longer than 40"),
            ({"k": "v" * 501}, "longer than 500"),
            ({"k": ["list"]}, "string, number or boolean"),
        ],
    )
    async def test_refuses_metadata_calcom_would_reject(
        self, client: CalcomClient, metadata: Any, message: str
    ) -> None:
        with pytest.raises(ValueError, match=message):
            await client.create_booking(event_type_id=1201, start=START, attendee=LEA, metadata=metadata)

    async def test_creation_is_not_retried_after_a_server_error(
        self, router: respx.MockRouter, client: CalcomClient
    ) -> None:
        route = router.post("/v2/bookings").respond(502)
        with pytest.raises(CalcomServerError):
            await client.create_booking(event_type_id=1201, start=START, attendee=LEA)
        assert route.call_count == 1

    async def test_a_taken_slot_is_a_bad_request(self, router: respx.MockRouter, client: CalcomClient) -> None:
        message = "User either already has booking at this time or is not available"
        router.post("/v2/bookings").respond(400, json=oa.error_body(400, "BadRequestException", message))
        with pytest.raises(CalcomBadRequest, match="already has booking"):
            await client.create_booking(event_type_id=1201, start=START, attendee=LEA)

    async def test_gets_one_by_uid(self, router: respx.MockRouter, client: CalcomClient) -> None:
        route = router.get(f"/v2/bookings/{oa.BOOKING_UID}").respond(200, json=oa.success(oa.booking_data()))
        booking = await client.get_booking(oa.BOOKING_UID)
        assert_headers(sent(route), version="2024-08-13", key=None)
        assert booking.status == "accepted"

    async def test_the_meet_link_is_absent_until_google_made_it(
        self, router: respx.MockRouter, client: CalcomClient
    ) -> None:
        data = oa.booking_data(location="integrations:google:meet", meetingUrl="integrations:google:meet")
        router.get(f"/v2/bookings/{oa.BOOKING_UID}").respond(200, json=oa.success(data))
        assert (await client.get_booking(oa.BOOKING_UID)).video_url is None

    async def test_a_uid_cannot_change_the_path(self, router: respx.MockRouter, client: CalcomClient) -> None:
        route = router.get("/v2/bookings/a%2F..%2Fme").respond(200, json=oa.success(oa.booking_data()))
        await client.get_booking("a/../me")
        assert sent(route).url.raw_path == b"/v2/bookings/a%2F..%2Fme"

    async def test_lists_with_filters(self, router: respx.MockRouter, client: CalcomClient) -> None:
        route = router.get("/v2/bookings").respond(
            200, json=oa.success([oa.booking_data()], pagination=oa.pagination_data())
        )
        since = datetime(2050, 9, 1, 12, 0, tzinfo=UTC)
        page = await client.list_bookings(
            oa.MENTOR_KEY,
            BookingFilter(
                status=[BookingStatusFilter.UPCOMING, BookingStatusFilter.CANCELLED],
                event_type_ids=[1201],
                after_updated_at=since,
                sort_updated_at="asc",
            ),
            take=50,
        )
        request = sent(route)
        assert_headers(request, version="2024-08-13", key=oa.MENTOR_KEY)
        assert query_of(request) == {
            "status": "upcoming,cancelled",
            "eventTypeIds": "1201",
            "afterUpdatedAt": "2050-09-01T12:00:00Z",
            "sortUpdatedAt": "asc",
            "take": "50",
            "skip": "0",
        }
        assert [booking.uid for booking in page.bookings] == [oa.BOOKING_UID]
        assert page.pagination is not None and page.pagination.total_items == 1

    async def test_iterates_every_page(self, router: respx.MockRouter, client: CalcomClient) -> None:
        first = oa.success([oa.booking_data(id=1, uid="a")], pagination=oa.pagination_data(hasNextPage=True))
        second = oa.success([oa.booking_data(id=2, uid="b")], pagination=oa.pagination_data(currentPage=2))
        route = router.get("/v2/bookings").mock(
            side_effect=[httpx.Response(200, json=first), httpx.Response(200, json=second)]
        )
        uids = [booking.uid async for booking in client.iter_bookings(oa.MENTOR_KEY, page_size=1)]
        assert uids == ["a", "b"]
        assert [call.request.url.params["skip"] for call in route.calls] == ["0", "1"]

    async def test_cancels_with_a_reason(self, router: respx.MockRouter, client: CalcomClient) -> None:
        route = router.post(f"/v2/bookings/{oa.BOOKING_UID}/cancel").respond(
            200, json=oa.success(oa.booking_data(status="cancelled", cancellationReason="Rescheduled to r9Tz"))
        )
        booking = await client.cancel_booking(oa.BOOKING_UID, reason="Rescheduled to r9Tz", api_key=oa.MENTOR_KEY)
        request = sent(route)
        assert_headers(request, version="2024-08-13", key=oa.MENTOR_KEY)
        assert body_of(request) == {"cancellationReason": "Rescheduled to r9Tz"}
        assert (booking.status, booking.cancellation_reason) == ("cancelled", "Rescheduled to r9Tz")

    async def test_cancel_is_retried_after_a_gateway_error(
        self, router: respx.MockRouter, client: CalcomClient
    ) -> None:
        route = router.post(f"/v2/bookings/{oa.BOOKING_UID}/cancel").mock(
            side_effect=[httpx.Response(502), httpx.Response(200, json=oa.success(oa.booking_data(status="cancelled")))]
        )
        await client.cancel_booking(oa.BOOKING_UID)
        assert route.call_count == 2

    async def test_reschedules_to_a_new_booking(self, router: respx.MockRouter, client: CalcomClient) -> None:
        new = oa.booking_data(uid=oa.NEW_BOOKING_UID, rescheduledFromUid=oa.BOOKING_UID)
        route = router.post(f"/v2/bookings/{oa.BOOKING_UID}/reschedule").respond(201, json=oa.success(new))
        booking = await client.reschedule_booking(
            oa.BOOKING_UID, START + timedelta(days=1), reason="Exam moved", rescheduled_by="lea@example.org"
        )
        request = sent(route)
        assert_headers(request, version="2024-08-13", key=None)
        assert body_of(request) == {
            "start": "2050-09-06T07:00:00Z",
            "reschedulingReason": "Exam moved",
            "rescheduledBy": "lea@example.org",
        }
        assert (booking.uid, booking.rescheduled_from_uid) == (oa.NEW_BOOKING_UID, oa.BOOKING_UID)

    async def test_reschedule_is_not_retried(self, router: respx.MockRouter, client: CalcomClient) -> None:
        route = router.post(f"/v2/bookings/{oa.BOOKING_UID}/reschedule").respond(503)
        with pytest.raises(CalcomServerError):
            await client.reschedule_booking(oa.BOOKING_UID, START)
        assert route.call_count == 1

    async def test_marks_attendees_absent(self, router: respx.MockRouter, client: CalcomClient) -> None:
        absent = oa.booking_data(attendees=[{**oa.booking_data()["attendees"][0], "absent": True}])
        route = router.post(f"/v2/bookings/{oa.BOOKING_UID}/mark-absent").respond(200, json=oa.success(absent))
        booking = await client.mark_absent(oa.BOOKING_UID, oa.MENTOR_KEY, attendees={"lea@example.org": True})
        request = sent(route)
        assert_headers(request, version="2024-08-13", key=oa.MENTOR_KEY)
        assert body_of(request) == {"attendees": [{"email": "lea@example.org", "absent": True}]}
        assert booking.attendees[0].absent is True

    async def test_marking_before_the_start_is_forbidden(self, router: respx.MockRouter, client: CalcomClient) -> None:
        message = "Cannot mark no-show before the meeting has started."
        router.post(f"/v2/bookings/{oa.BOOKING_UID}/mark-absent").respond(
            403, json=oa.error_body(403, "ForbiddenException", message)
        )
        with pytest.raises(CalcomForbidden, match="before the meeting"):
            await client.mark_absent(oa.BOOKING_UID, oa.MENTOR_KEY, host=True)

    async def test_marking_nobody_is_refused(self, client: CalcomClient) -> None:
        with pytest.raises(ValueError, match="host"):
            await client.mark_absent(oa.BOOKING_UID, oa.MENTOR_KEY)

    async def test_reads_references(self, router: respx.MockRouter, client: CalcomClient) -> None:
        route = router.get(f"/v2/bookings/{oa.BOOKING_UID}/references").respond(
            200, json=oa.success(oa.references_data())
        )
        references = await client.get_booking_references(oa.BOOKING_UID, oa.MENTOR_KEY, type="google_video")
        request = sent(route)
        assert_headers(request, version="2024-08-13", key=oa.MENTOR_KEY)
        assert query_of(request) == {"type": "google_video"}
        assert [reference.type for reference in references] == ["google_calendar", "google_video"]


class TestWebhooks:
    async def test_creates_a_user_webhook(self, router: respx.MockRouter, client: CalcomClient) -> None:
        route = router.post("/v2/webhooks").respond(201, json=oa.success(oa.webhook_data()))
        webhook = await client.create_webhook(
            oa.MENTOR_KEY,
            subscriber_url="https://thotis.example/hook",
            triggers=[WebhookTrigger.BOOKING_CREATED, WebhookTrigger.BOOKING_CANCELLED],
            secret="s3cret",
        )
        request = sent(route)
        assert_headers(request, version=None, key=oa.MENTOR_KEY)
        assert body_of(request) == {
            "subscriberUrl": "https://thotis.example/hook",
            "triggers": ["BOOKING_CREATED", "BOOKING_CANCELLED"],
            "active": True,
            "secret": "s3cret",
        }
        assert webhook.id == oa.WEBHOOK_ID
        assert webhook.payload_template is None

    async def test_refuses_triggers_calcom_does_not_have(self, client: CalcomClient) -> None:
        with pytest.raises(ValueError, match="BOOKING_COMPLETED"):
            await client.create_webhook(oa.MENTOR_KEY, subscriber_url="https://x", triggers=["BOOKING_COMPLETED"])  # type: ignore[list-item]
        with pytest.raises(ValueError, match="at least one"):
            await client.create_webhook(oa.MENTOR_KEY, subscriber_url="https://x", triggers=[])

    async def test_lists_user_webhooks(self, router: respx.MockRouter, client: CalcomClient) -> None:
        route = router.get("/v2/webhooks").respond(200, json=oa.success([oa.webhook_data(id=7)]))
        webhooks = await client.list_webhooks(oa.MENTOR_KEY, take=250)
        request = sent(route)
        assert_headers(request, version=None, key=oa.MENTOR_KEY)
        assert query_of(request) == {"take": "250"}
        assert webhooks[0].id == "7"

    async def test_deletes_a_user_webhook(self, router: respx.MockRouter, client: CalcomClient) -> None:
        route = router.delete(f"/v2/webhooks/{oa.WEBHOOK_ID}").respond(200, json=oa.success(oa.webhook_data()))
        await client.delete_webhook(oa.MENTOR_KEY, oa.WEBHOOK_ID)
        assert_headers(sent(route), version=None, key=oa.MENTOR_KEY)

    async def test_creates_an_event_type_webhook(self, router: respx.MockRouter, client: CalcomClient) -> None:
        route = router.post("/v2/event-types/1201/webhooks").respond(201, json=oa.success(oa.event_type_webhook_data()))
        webhook = await client.create_event_type_webhook(
            oa.MENTOR_KEY, 1201, subscriber_url="https://thotis.example/hook", triggers=[WebhookTrigger.MEETING_ENDED]
        )
        request = sent(route)
        assert_headers(request, version=None, key=oa.MENTOR_KEY)
        assert body_of(request) == {
            "subscriberUrl": "https://thotis.example/hook",
            "triggers": ["MEETING_ENDED"],
            "active": True,
        }
        assert webhook.event_type_id == 1201

    async def test_lists_event_type_webhooks(self, router: respx.MockRouter, client: CalcomClient) -> None:
        route = router.get("/v2/event-types/1201/webhooks").respond(
            200, json=oa.success([oa.event_type_webhook_data()])
        )
        webhooks = await client.list_event_type_webhooks(oa.MENTOR_KEY, 1201)
        request = sent(route)
        assert_headers(request, version=None, key=oa.MENTOR_KEY)
        assert query_of(request) == {}
        assert len(webhooks) == 1

    async def test_deletes_an_event_type_webhook(self, router: respx.MockRouter, client: CalcomClient) -> None:
        route = router.delete(f"/v2/event-types/1201/webhooks/{oa.WEBHOOK_ID}").respond(
            200, json=oa.success(oa.event_type_webhook_data())
        )
        await client.delete_event_type_webhook(oa.MENTOR_KEY, 1201, oa.WEBHOOK_ID)
        assert_headers(sent(route), version=None, key=oa.MENTOR_KEY)


class TestEnvelope:
    async def test_an_answer_without_the_envelope_is_invalid(
        self, router: respx.MockRouter, client: CalcomClient
    ) -> None:
        router.get("/v2/me").respond(200, json=oa.me_data())
        with pytest.raises(CalcomInvalidResponse, match="envelope"):
            await client.me(oa.MENTOR_KEY)

    async def test_an_answer_missing_a_needed_field_is_invalid(
        self, router: respx.MockRouter, client: CalcomClient
    ) -> None:
        data = oa.booking_data()
        del data["start"]
        router.get(f"/v2/bookings/{oa.BOOKING_UID}").respond(200, json=oa.success(data))
        with pytest.raises(CalcomInvalidResponse) as raised:
            await client.get_booking(oa.BOOKING_UID)
        assert raised.value.details[0]["loc"] == ("start",)

    async def test_unknown_fields_are_ignored(self, router: respx.MockRouter, client: CalcomClient) -> None:
        data = oa.booking_data(somethingNew={"a": 1}, rating=None, hosts=[{"id": 42, "extra": True}])
        router.get(f"/v2/bookings/{oa.BOOKING_UID}").respond(200, json=oa.success(data))
        booking = await client.get_booking(oa.BOOKING_UID)
        assert booking.hosts[0].id == 42


class TestRetryThroughTheClient:
    async def test_a_rate_limited_slot_query_waits_as_told_then_succeeds(self, router: respx.MockRouter) -> None:
        waits: list[float] = []

        async def record(seconds: float) -> None:
            waits.append(seconds)

        limited = httpx.Response(429, json=oa.error_body(429, "ThrottlerException", "Too many requests"))
        limited.headers["Retry-After"] = "4"
        route = router.get("/v2/slots").mock(
            side_effect=[limited, httpx.Response(200, json=oa.success(oa.slots_data()))]
        )
        async with httpx.AsyncClient() as http:
            transport = CalcomTransport(http, oa.API_URL, sleep=record, jitter=lambda: 0.0)
            slots = await CalcomClient.from_transport(transport).get_slots(1201, START, START + timedelta(days=1))
        assert waits == [4.0]
        assert route.call_count == 2
        assert len(slots) == 3
