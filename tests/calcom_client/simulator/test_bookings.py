"""Bookings: `/v2/bookings` with cal-api-version 2024-08-13."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from calcom_client.simulator import CalcomSimulator, User
from tests.calcom_client.simulator.support import BOOKINGS, MONDAY, auth, booking_body, create_event_type

UNAVAILABLE = "User either already has booking at this time or is not available"


@pytest.fixture
async def event_type(api: httpx.AsyncClient, mentor: User) -> dict[str, Any]:
    return await create_event_type(api, mentor, minimumBookingNotice=120)


async def book(api: httpx.AsyncClient, event_type_id: int, hour: int, minute: int = 0, **extra: Any) -> httpx.Response:
    start = MONDAY.replace(hour=hour, minute=minute)
    return await api.post("/v2/bookings", headers=BOOKINGS, json=booking_body(event_type_id, start, **extra))


class TestCreateBooking:
    async def test_returns_the_booking_with_the_meet_link_as_location(
        self, api: httpx.AsyncClient, event_type: dict[str, Any], mentor: User
    ) -> None:
        response = await book(
            api,
            event_type["id"],
            9,
            metadata={"thotis": "session", "mentorId": "m-1"},
            bookingFieldsResponses={"notes": "Quelle prépa choisir ?"},
            somethingNew={"ignored": True},  # unknown fields are stripped, not refused
        )

        data = response.json()["data"]
        assert response.status_code == 201
        assert data["status"] == "accepted"
        assert data["start"] == "2050-09-05T09:00:00.000Z"
        assert data["end"] == "2050-09-05T09:15:00.000Z"
        assert data["duration"] == 15
        assert data["location"].startswith("https://meet.google.com/")
        assert data["meetingUrl"] == data["location"]
        assert data["metadata"] == {"thotis": "session", "mentorId": "m-1"}  # videoCallUrl is not returned
        assert data["bookingFieldsResponses"]["notes"] == "Quelle prépa choisir ?"
        assert data["attendees"] == [
            {
                "name": "Zoé Martin",
                "email": "zoe@example.org",
                "timeZone": "Europe/Paris",
                "language": "fr",
                "absent": False,
            }
        ]
        assert data["hosts"][0]["id"] == mentor.id
        assert data["eventType"] == {"id": event_type["id"], "slug": "thotis"}

    async def test_two_bookings_never_share_a_meet_link(
        self, api: httpx.AsyncClient, event_type: dict[str, Any]
    ) -> None:
        first = await book(api, event_type["id"], 9)
        second = await book(api, event_type["id"], 10)

        assert first.json()["data"]["location"] != second.json()["data"]["location"]
        assert first.json()["data"]["uid"] != second.json()["data"]["uid"]

    async def test_refuses_the_same_slot_twice(self, api: httpx.AsyncClient, event_type: dict[str, Any]) -> None:
        await book(api, event_type["id"], 9)

        again = await book(api, event_type["id"], 9)

        error = again.json()["error"]
        assert again.status_code == 400
        assert error["code"] == "BadRequestException"
        assert error["message"] == UNAVAILABLE
        assert error["details"] == {"message": UNAVAILABLE, "error": "Bad Request", "statusCode": 400}

    async def test_refuses_an_overlapping_off_grid_start(
        self, api: httpx.AsyncClient, event_type: dict[str, Any]
    ) -> None:
        await book(api, event_type["id"], 9)

        response = await book(api, event_type["id"], 9, 10)

        assert response.json()["error"]["message"] == UNAVAILABLE

    async def test_accepts_an_off_grid_start_inside_working_hours(
        self, api: httpx.AsyncClient, event_type: dict[str, Any]
    ) -> None:
        response = await book(api, event_type["id"], 9, 7)

        assert response.status_code == 201

    async def test_refuses_outside_working_hours_and_busy_time(
        self, api: httpx.AsyncClient, sim: CalcomSimulator, mentor: User, event_type: dict[str, Any]
    ) -> None:
        sim.add_busy(mentor, MONDAY.replace(hour=12), MONDAY.replace(hour=13))

        evening = await book(api, event_type["id"], 16)  # 18:00 in Paris
        busy = await book(api, event_type["id"], 12, 30)

        assert evening.json()["error"]["message"] == UNAVAILABLE
        assert busy.json()["error"]["message"] == UNAVAILABLE

    async def test_refuses_the_past_and_the_minimum_notice(
        self, api: httpx.AsyncClient, event_type: dict[str, Any]
    ) -> None:
        past = await book(api, event_type["id"], 5)
        too_soon = await book(api, event_type["id"], 7, 45)  # now is 06:00 UTC, notice 2 h

        assert past.json()["error"]["message"] == "Attempting to book a meeting in the past."
        assert "violating the minimum booking notice" in too_soon.json()["error"]["message"]
        assert too_soon.status_code == 400

    async def test_reports_body_errors_and_metadata_limits(
        self, api: httpx.AsyncClient, event_type: dict[str, Any]
    ) -> None:
        body = booking_body(event_type["id"], "tomorrow", metadata={f"k{i}": "v" for i in range(51)})
        del body["attendee"]["timeZone"]

        response = await api.post("/v2/bookings", headers=BOOKINGS, json=body)

        errors = response.json()["error"]["details"]["errors"]
        assert response.status_code == 400
        assert {e["property"] for e in errors} == {"start", "attendee", "metadata"}

    async def test_requires_custom_fields_the_event_type_requires(self, api: httpx.AsyncClient, mentor: User) -> None:
        question = {
            "type": "textarea",
            "slug": "question",
            "label": "Question",
            "required": True,
            "placeholder": "",
            "hidden": False,
        }
        et = await create_event_type(api, mentor, bookingFields=[question])

        missing = await book(api, et["id"], 9)
        given = await book(api, et["id"], 9, bookingFieldsResponses={"question": "Pourquoi ?"})

        assert missing.status_code == 400
        assert missing.json()["error"]["message"].startswith("Missing required booking field response: question")
        assert given.status_code == 201

    async def test_books_by_event_type_slug_and_username(
        self, api: httpx.AsyncClient, event_type: dict[str, Any]
    ) -> None:
        body = booking_body(0, MONDAY.replace(hour=9))
        del body["eventTypeId"]

        response = await api.post(
            "/v2/bookings", headers=BOOKINGS, json={**body, "eventTypeSlug": "thotis", "username": "alice"}
        )

        assert response.json()["data"]["eventTypeId"] == event_type["id"]

    async def test_an_unknown_event_type_is_a_404(self, api: httpx.AsyncClient, mentor: User) -> None:
        response = await book(api, 4242, 9)

        assert response.status_code == 404
        assert response.json()["error"]["message"] == "Event type with id 4242 not found."

    async def test_falls_back_to_cal_video_without_google_calendar(
        self, api: httpx.AsyncClient, sim: CalcomSimulator
    ) -> None:
        user = sim.add_user("carol", "carol@example.com")
        et = await create_event_type(api, user)
        user.google_meet = False  # Google Calendar disconnected after the event type was set up

        data = (await book(api, et["id"], 9)).json()["data"]

        assert data["location"] == f"https://cal.simulator/video/{data['uid']}"


class TestReadBookings:
    async def test_gets_a_booking_by_uid_without_auth(self, api: httpx.AsyncClient, event_type: dict[str, Any]) -> None:
        created = (await book(api, event_type["id"], 9)).json()["data"]

        response = await api.get(f"/v2/bookings/{created['uid']}", headers=BOOKINGS)

        assert response.json()["data"] == created

    async def test_an_unknown_uid_is_a_404(self, api: httpx.AsyncClient) -> None:
        response = await api.get("/v2/bookings/nope", headers=BOOKINGS)

        assert response.status_code == 404
        assert response.json()["error"]["message"] == "Booking with uid=nope was not found in the database"

    async def test_lists_filters_sorts_and_paginates(
        self, api: httpx.AsyncClient, sim: CalcomSimulator, mentor: User, event_type: dict[str, Any]
    ) -> None:
        uids = [(await book(api, event_type["id"], hour)).json()["data"]["uid"] for hour in (9, 10, 11)]
        sim.advance(timedelta(hours=1))
        await api.post(f"/v2/bookings/{uids[1]}/cancel", headers=BOOKINGS, json={"cancellationReason": "ill"})
        changed_after = (sim.now - timedelta(minutes=1)).isoformat()
        headers = auth(mentor, **BOOKINGS)

        upcoming = await api.get("/v2/bookings", params={"status": "upcoming", "sortStart": "desc"}, headers=headers)
        cancelled = await api.get("/v2/bookings", params={"status": "cancelled"}, headers=headers)
        updated = await api.get("/v2/bookings", params={"afterUpdatedAt": changed_after}, headers=headers)
        page = await api.get("/v2/bookings", params={"take": 2, "skip": 2}, headers=headers)

        assert [b["uid"] for b in upcoming.json()["data"]] == [uids[2], uids[0]]
        assert [b["uid"] for b in cancelled.json()["data"]] == [uids[1]]
        assert [b["uid"] for b in updated.json()["data"]] == [uids[1]]
        assert [b["uid"] for b in page.json()["data"]] == [uids[2]]
        assert page.json()["pagination"] == {
            "totalItems": 3,
            "remainingItems": 0,
            "returnedItems": 1,
            "itemsPerPage": 2,
            "currentPage": 2,
            "totalPages": 2,
            "hasNextPage": False,
            "hasPreviousPage": True,
        }

    async def test_past_bookings_are_listed_as_past(
        self, api: httpx.AsyncClient, sim: CalcomSimulator, mentor: User, event_type: dict[str, Any]
    ) -> None:
        uid = (await book(api, event_type["id"], 9)).json()["data"]["uid"]
        sim.advance(timedelta(hours=4))

        past = await api.get("/v2/bookings", params={"status": "past,cancelled"}, headers=auth(mentor, **BOOKINGS))

        assert [b["uid"] for b in past.json()["data"]] == [uid]

    async def test_references_carry_the_google_meet_link(
        self, api: httpx.AsyncClient, mentor: User, event_type: dict[str, Any]
    ) -> None:
        booking = (await book(api, event_type["id"], 9)).json()["data"]

        response = await api.get(
            f"/v2/bookings/{booking['uid']}/references",
            params={"type": "google_video"},
            headers=auth(mentor, **BOOKINGS),
        )

        assert [r["meetingUrl"] for r in response.json()["data"]] == [booking["location"]]


class TestCancelBooking:
    async def test_cancels_with_a_reason(
        self, api: httpx.AsyncClient, mentor: User, event_type: dict[str, Any]
    ) -> None:
        uid = (await book(api, event_type["id"], 9)).json()["data"]["uid"]

        response = await api.post(
            f"/v2/bookings/{uid}/cancel", headers=auth(mentor, **BOOKINGS), json={"cancellationReason": "Sick"}
        )

        data = response.json()["data"]
        assert response.status_code == 200
        assert data["status"] == "cancelled"
        assert data["cancellationReason"] == "Sick"
        assert data["cancelledByEmail"] == "alice@example.com"

    async def test_cancelling_frees_the_slot(self, api: httpx.AsyncClient, event_type: dict[str, Any]) -> None:
        uid = (await book(api, event_type["id"], 9)).json()["data"]["uid"]
        await api.post(f"/v2/bookings/{uid}/cancel", headers=BOOKINGS, json={})

        assert (await book(api, event_type["id"], 9)).status_code == 201

    async def test_refuses_to_cancel_twice(self, api: httpx.AsyncClient, event_type: dict[str, Any]) -> None:
        uid = (await book(api, event_type["id"], 9)).json()["data"]["uid"]
        await api.post(f"/v2/bookings/{uid}/cancel", headers=BOOKINGS, json={})

        again = await api.post(f"/v2/bookings/{uid}/cancel", headers=BOOKINGS, json={})

        assert again.status_code == 400
        assert again.json()["error"]["message"] == "This booking has already been cancelled."

    async def test_the_host_must_give_a_reason(
        self, api: httpx.AsyncClient, mentor: User, event_type: dict[str, Any]
    ) -> None:
        uid = (await book(api, event_type["id"], 9)).json()["data"]["uid"]

        response = await api.post(f"/v2/bookings/{uid}/cancel", headers=auth(mentor, **BOOKINGS), json={})

        assert response.json()["error"]["message"] == "Cancellation reason is required when you are the host"


class TestRescheduleBooking:
    async def test_creates_a_new_booking_linked_both_ways(
        self, api: httpx.AsyncClient, event_type: dict[str, Any]
    ) -> None:
        old = (await book(api, event_type["id"], 9)).json()["data"]

        response = await api.post(
            f"/v2/bookings/{old['uid']}/reschedule",
            headers=BOOKINGS,
            json={"start": "2050-09-05T11:00:00Z", "rescheduledBy": "zoe@example.org", "reschedulingReason": "Exam"},
        )
        new = response.json()["data"]
        old_now = (await api.get(f"/v2/bookings/{old['uid']}", headers=BOOKINGS)).json()["data"]

        assert response.status_code == 201
        assert new["uid"] != old["uid"]
        assert new["start"] == "2050-09-05T11:00:00.000Z"
        assert new["rescheduledFromUid"] == old["uid"]
        assert new["reschedulingReason"] == "Exam"
        assert old_now["status"] == "cancelled"
        assert old_now["rescheduledToUid"] == new["uid"]
        assert old_now["rescheduledByEmail"] == "zoe@example.org"
        assert new["icsUid"] == old["icsUid"]

    async def test_keeps_the_meet_link_as_cal_com_does(
        self, api: httpx.AsyncClient, event_type: dict[str, Any]
    ) -> None:
        old = (await book(api, event_type["id"], 9)).json()["data"]

        new = (
            await api.post(
                f"/v2/bookings/{old['uid']}/reschedule", headers=BOOKINGS, json={"start": "2050-09-05T11:00:00Z"}
            )
        ).json()["data"]

        assert new["location"] == old["location"]

    async def test_may_be_told_to_give_a_new_meet_link(
        self, api: httpx.AsyncClient, sim: CalcomSimulator, event_type: dict[str, Any]
    ) -> None:
        sim.service.keep_meet_link_on_reschedule = False
        old = (await book(api, event_type["id"], 9)).json()["data"]

        new = (
            await api.post(
                f"/v2/bookings/{old['uid']}/reschedule", headers=BOOKINGS, json={"start": "2050-09-05T11:00:00Z"}
            )
        ).json()["data"]

        assert new["location"].startswith("https://meet.google.com/")
        assert new["location"] != old["location"]

    async def test_may_move_within_its_own_time(self, api: httpx.AsyncClient, event_type: dict[str, Any]) -> None:
        old = (await book(api, event_type["id"], 9)).json()["data"]

        response = await api.post(
            f"/v2/bookings/{old['uid']}/reschedule", headers=BOOKINGS, json={"start": "2050-09-05T09:05:00Z"}
        )

        assert response.status_code == 201

    async def test_refuses_an_already_rescheduled_booking(
        self, api: httpx.AsyncClient, event_type: dict[str, Any]
    ) -> None:
        old = (await book(api, event_type["id"], 9)).json()["data"]
        new = (
            await api.post(
                f"/v2/bookings/{old['uid']}/reschedule", headers=BOOKINGS, json={"start": "2050-09-05T11:00:00Z"}
            )
        ).json()["data"]

        again = await api.post(
            f"/v2/bookings/{old['uid']}/reschedule", headers=BOOKINGS, json={"start": "2050-09-05T12:00:00Z"}
        )

        assert again.status_code == 400
        assert f"rescheduled already to booking with uid={new['uid']}" in again.json()["error"]["message"]

    async def test_refuses_a_taken_slot(self, api: httpx.AsyncClient, event_type: dict[str, Any]) -> None:
        old = (await book(api, event_type["id"], 9)).json()["data"]
        await book(api, event_type["id"], 11)

        response = await api.post(
            f"/v2/bookings/{old['uid']}/reschedule", headers=BOOKINGS, json={"start": "2050-09-05T11:00:00Z"}
        )

        assert response.json()["error"]["message"] == UNAVAILABLE


class TestMarkAbsent:
    async def test_is_forbidden_before_the_start(
        self, api: httpx.AsyncClient, mentor: User, event_type: dict[str, Any]
    ) -> None:
        uid = (await book(api, event_type["id"], 9)).json()["data"]["uid"]

        response = await api.post(
            f"/v2/bookings/{uid}/mark-absent", headers=auth(mentor, **BOOKINGS), json={"host": True}
        )

        assert response.status_code == 403
        assert response.json()["error"]["message"] == "Cannot mark no-show before the meeting has started."

    async def test_marks_attendees_and_host_after_the_start(
        self, api: httpx.AsyncClient, sim: CalcomSimulator, mentor: User, event_type: dict[str, Any]
    ) -> None:
        uid = (await book(api, event_type["id"], 9)).json()["data"]["uid"]
        sim.now = MONDAY.replace(hour=9, minute=20)

        response = await api.post(
            f"/v2/bookings/{uid}/mark-absent",
            headers=auth(mentor, **BOOKINGS),
            json={"host": False, "attendees": [{"email": "zoe@example.org", "absent": True}]},
        )

        data = response.json()["data"]
        assert response.status_code == 200
        assert data["attendees"][0]["absent"] is True
        assert data["absentHost"] is False

    async def test_only_the_organizer_may_mark(
        self, api: httpx.AsyncClient, sim: CalcomSimulator, event_type: dict[str, Any]
    ) -> None:
        uid = (await book(api, event_type["id"], 9)).json()["data"]["uid"]
        sim.now = MONDAY.replace(hour=10)
        other = sim.add_user("bob", "bob@example.com")

        response = await api.post(
            f"/v2/bookings/{uid}/mark-absent", headers=auth(other, **BOOKINGS), json={"host": True}
        )

        assert response.status_code == 403
