"""Slots: `GET /v2/slots` with cal-api-version 2024-09-04 (no auth)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx

from calcom_client.simulator import CalcomSimulator, User
from tests.calcom_client.simulator.support import BOOKINGS, MONDAY, SLOTS, booking_body, create_event_type

PARIS = timedelta(hours=2)  # Europe/Paris offset in September


async def slots(api: httpx.AsyncClient, **params: Any) -> httpx.Response:
    return await api.get("/v2/slots", params=params, headers=SLOTS)


def starts(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [slot["start"] for day in response.json()["data"].values() for slot in day]


class TestSlotsFollowTheSchedule:
    async def test_offers_working_hours_after_the_minimum_notice(self, api: httpx.AsyncClient, mentor: User) -> None:
        et = await create_event_type(api, mentor, minimumBookingNotice=120)

        response = await slots(api, eventTypeId=et["id"], start="2050-09-05", end="2050-09-05", timeZone="Europe/Paris")

        found = starts(response)
        assert list(response.json()["data"]) == ["2050-09-05"]
        assert found[0] == "2050-09-05T10:00:00.000+02:00"  # now is 08:00 in Paris, notice is 2 h
        assert found[-1] == "2050-09-05T17:45:00.000+02:00"  # the last 15 minutes before 18:00
        assert len(found) == 32

    async def test_answers_in_utc_with_z_without_a_time_zone(self, api: httpx.AsyncClient, mentor: User) -> None:
        et = await create_event_type(api, mentor)

        found = starts(await slots(api, eventTypeId=et["id"], start="2050-09-05", end="2050-09-05"))

        assert found[0] == "2050-09-05T08:00:00.000Z"

    async def test_keys_days_by_the_requested_zone_with_the_same_instants(
        self, api: httpx.AsyncClient, mentor: User
    ) -> None:
        et = await create_event_type(api, mentor)
        query = {"eventTypeId": et["id"], "start": "2050-09-05", "end": "2050-09-05"}

        utc = await slots(api, **query)
        auckland = await slots(api, **query, timeZone="Pacific/Auckland")

        assert list(auckland.json()["data"]) == ["2050-09-05", "2050-09-06"]
        instants = {datetime.fromisoformat(s) for s in starts(auckland)}
        assert instants == {datetime.fromisoformat(s) for s in starts(utc)}
        assert all(s.endswith("+12:00") for s in starts(auckland))

    async def test_leaves_out_days_without_slots(self, api: httpx.AsyncClient, mentor: User) -> None:
        et = await create_event_type(api, mentor)

        response = await slots(api, eventTypeId=et["id"], start="2050-09-10", end="2050-09-11")

        assert response.json() == {"status": "success", "data": {}}

    async def test_slot_interval_sets_the_step(self, api: httpx.AsyncClient, mentor: User) -> None:
        et = await create_event_type(api, mentor, slotInterval=30)

        found = starts(await slots(api, eventTypeId=et["id"], start="2050-09-05", end="2050-09-05"))

        assert found[:3] == ["2050-09-05T08:00:00.000Z", "2050-09-05T08:30:00.000Z", "2050-09-05T09:00:00.000Z"]

    async def test_follows_local_hours_across_a_dst_change(self, api: httpx.AsyncClient, sim: CalcomSimulator) -> None:
        everyday = {day: ((time(9), time(18)),) for day in range(7)}
        user = sim.add_user("night", "n@example.com", weekly_schedule=everyday)
        et = await create_event_type(api, user)

        sunday = starts(
            await slots(api, eventTypeId=et["id"], start="2050-10-30", end="2050-10-30", timeZone="Europe/Paris")
        )

        assert sunday[0] == "2050-10-30T09:00:00.000+01:00"  # winter time began at 03:00 that night

    async def test_a_midnight_end_means_the_end_of_that_day(self, api: httpx.AsyncClient, mentor: User) -> None:
        et = await create_event_type(api, mentor)

        bare = await slots(api, eventTypeId=et["id"], start="2050-09-05", end="2050-09-05")
        midnight = await slots(api, eventTypeId=et["id"], start="2050-09-05T00:00:00Z", end="2050-09-05T00:00:00Z")

        assert starts(bare) == starts(midnight)


class TestSlotsExcludeTakenTime:
    async def test_busy_calendar_events_remove_slots(
        self, api: httpx.AsyncClient, sim: CalcomSimulator, mentor: User
    ) -> None:
        et = await create_event_type(api, mentor)
        sim.add_busy(mentor, MONDAY.replace(hour=8), MONDAY.replace(hour=9))  # 10:00–11:00 in Paris

        found = starts(await slots(api, eventTypeId=et["id"], start="2050-09-05", end="2050-09-05"))

        assert found[0] == "2050-09-05T09:00:00.000Z"

    async def test_a_booking_removes_its_slot(self, api: httpx.AsyncClient, mentor: User) -> None:
        et = await create_event_type(api, mentor)
        taken = MONDAY.replace(hour=9)
        assert (await api.post("/v2/bookings", headers=BOOKINGS, json=booking_body(et["id"], taken))).status_code == 201

        found = starts(await slots(api, eventTypeId=et["id"], start="2050-09-05", end="2050-09-05"))

        assert "2050-09-05T09:00:00.000Z" not in found
        assert "2050-09-05T08:45:00.000Z" in found
        assert "2050-09-05T09:15:00.000Z" in found

    async def test_the_booking_being_rescheduled_keeps_its_slot(self, api: httpx.AsyncClient, mentor: User) -> None:
        et = await create_event_type(api, mentor)
        booked = await api.post("/v2/bookings", headers=BOOKINGS, json=booking_body(et["id"], MONDAY.replace(hour=9)))
        uid = booked.json()["data"]["uid"]

        found = starts(
            await slots(api, eventTypeId=et["id"], start="2050-09-05", end="2050-09-05", bookingUidToReschedule=uid)
        )

        assert "2050-09-05T09:00:00.000Z" in found

    async def test_minimum_notice_follows_the_clock(
        self, api: httpx.AsyncClient, sim: CalcomSimulator, mentor: User
    ) -> None:
        et = await create_event_type(api, mentor, minimumBookingNotice=120)
        sim.now = datetime(2050, 9, 5, 10, 7, tzinfo=UTC)  # 12:07 in Paris

        found = starts(
            await slots(api, eventTypeId=et["id"], start="2050-09-05", end="2050-09-05", timeZone="Europe/Paris")
        )

        assert found[0] == "2050-09-05T14:15:00.000+02:00"


class TestSlotsQuery:
    async def test_range_format_adds_the_end(self, api: httpx.AsyncClient, mentor: User) -> None:
        et = await create_event_type(api, mentor)

        response = await slots(api, eventTypeId=et["id"], start="2050-09-05", end="2050-09-05", format="range")

        first = response.json()["data"]["2050-09-05"][0]
        assert first == {"start": "2050-09-05T08:00:00.000Z", "end": "2050-09-05T08:15:00.000Z"}

    async def test_duration_picks_another_allowed_length(self, api: httpx.AsyncClient, mentor: User) -> None:
        et = await create_event_type(api, mentor, lengthInMinutesOptions=[15, 30])

        response = await slots(
            api, eventTypeId=et["id"], start="2050-09-05", end="2050-09-05", format="range", duration=30
        )

        day = response.json()["data"]["2050-09-05"]
        assert day[0] == {"start": "2050-09-05T08:00:00.000Z", "end": "2050-09-05T08:30:00.000Z"}
        assert day[1]["start"] == "2050-09-05T08:30:00.000Z"

    async def test_finds_the_event_type_by_slug_and_username(self, api: httpx.AsyncClient, mentor: User) -> None:
        await create_event_type(api, mentor)

        response = await slots(api, eventTypeSlug="thotis", username="alice", start="2050-09-05", end="2050-09-05")

        assert starts(response)

    async def test_an_unknown_event_type_is_a_404(self, api: httpx.AsyncClient, mentor: User) -> None:
        response = await slots(api, eventTypeId=999, start="2050-09-05", end="2050-09-05")

        assert response.status_code == 404
        assert response.json()["error"]["message"] == "Event Type not found"

    async def test_missing_start_and_bad_zone_are_validation_errors(self, api: httpx.AsyncClient, mentor: User) -> None:
        et = await create_event_type(api, mentor)

        response = await slots(api, eventTypeId=et["id"], end="2050-09-05", timeZone="Mars/Olympus")

        errors = response.json()["error"]["details"]["errors"]
        assert response.status_code == 400
        assert {e["property"] for e in errors} == {"start", "timeZone"}
