"""Mentor ↔ Cal.com linkage (R1.1, R3.2) and availability (R5.1, R8.2) against the simulator."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapter.auth import Role
from adapter.services import Services
from calcom_client.simulator import CalcomSimulator, User
from core.clock import FixedClock
from tests.adapter.conftest import NOW
from tests.adapter.helpers import ADMIN, SERVICE, assert_error, auth, create_profile
from tests.conftest import reset
from tests.factories import valid_body
from thotis_ext.availability import _spans_ttl, overlaps_any, slot_groups, slots_json

API = "/api/v2/students"

ZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo", "Pacific/Chatham", "Asia/Kolkata"]


def new_user(sim: CalcomSimulator, **kwargs: Any) -> User:
    name = f"mentor-{uuid.uuid4().hex[:10]}"
    return sim.add_user(name, f"{name}@example.org", **kwargs)


async def linked_mentor(api: httpx.AsyncClient, sim: CalcomSimulator, user_id: str = "m1") -> User:
    user = new_user(sim)
    body = valid_body(calcom={"username": user.username, "apiKey": user.api_key})
    data = await create_profile(api, user_id, body)
    assert data["calcom"]["status"] == "linked", data["calcom"]
    return user


async def slots(api: httpx.AsyncClient, user_id: str = "m1", **params: str) -> httpx.Response:
    return await api.get(f"{API}/{user_id}/availability", params=params, headers=SERVICE)


class TestLinking:
    async def test_provisions_a_15_minute_meet_event_type(
        self, api: httpx.AsyncClient, simulator: CalcomSimulator
    ) -> None:
        user = await linked_mentor(api, simulator)
        calcom = (await api.get(f"{API}/m1", headers=ADMIN)).json()["data"]["calcom"]
        assert calcom["userId"] == user.id and calcom["linked"] is True
        event_type = simulator.store.event_types[calcom["eventTypeId"]]
        assert event_type.length == 15 and event_type.slot_interval == 15
        assert event_type.minimum_booking_notice == 120
        assert event_type.locations == [{"type": "integration", "integration": "google-meet"}]
        public = (await api.get(f"{API}/m1", headers=SERVICE)).json()["data"]
        assert public["calcom"] == {"linked": True}

    async def test_adopts_an_existing_thotis_event_type_and_repairs_drift(
        self, api: httpx.AsyncClient, simulator: CalcomSimulator
    ) -> None:
        user = new_user(simulator)
        existing = simulator.add_event_type(user, title="Mine", slug="thotis-15", length=30)
        body = valid_body(calcom={"username": user.username, "apiKey": user.api_key})
        data = await create_profile(api, "m1", body)
        assert data["calcom"]["eventTypeId"] == existing.id
        assert simulator.store.event_types[existing.id].length == 15

    async def test_a_key_of_another_cal_user_is_reported(
        self, api: httpx.AsyncClient, simulator: CalcomSimulator
    ) -> None:
        user, other = new_user(simulator), new_user(simulator)
        body = valid_body(calcom={"username": user.username, "apiKey": other.api_key})
        data = await create_profile(api, "m1", body)
        assert data["calcom"]["status"] == "error" and other.username in data["calcom"]["error"]

    async def test_meet_not_connected_is_explained(self, api: httpx.AsyncClient, simulator: CalcomSimulator) -> None:
        user = new_user(simulator, google_meet=False)
        body = valid_body(calcom={"username": user.username, "apiKey": user.api_key})
        data = await create_profile(api, "m1", body)
        assert data["calcom"]["status"] == "error" and "Google Meet" in data["calcom"]["error"]

    async def test_the_same_cal_account_cannot_serve_two_mentors(
        self, api: httpx.AsyncClient, simulator: CalcomSimulator
    ) -> None:
        user = await linked_mentor(api, simulator, "m1")
        body = valid_body(calcom={"username": user.username, "apiKey": user.api_key})
        response = await api.post(f"{API}/m2/profile", json=body, headers=auth(Role.MENTOR, "m2"))
        assert_error(response, 409, "CALCOM_ACCOUNT_TAKEN")

    async def test_organisation_key_adopts_the_members_event_type_and_books_with_it(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator, monkeypatch: Any
    ) -> None:
        admin, user = new_user(simulator), new_user(simulator)
        monkeypatch.setattr(services.linker, "organisation_key", admin.api_key)
        existing = simulator.add_event_type(user, title="Thotis", slug="thotis-15", slot_interval=15)
        data = await create_profile(api, "m1", valid_body(calcom={"username": user.username}))
        assert data["calcom"]["status"] == "linked", data["calcom"]
        assert data["calcom"]["eventTypeId"] == existing.id and data["calcom"]["userId"] == user.id
        start = NOW + timedelta(days=1, hours=1)
        body = {
            "mentorId": "m1",
            "start": start.isoformat(),
            "consent": True,
            "prospectiveStudent": {"name": "Léa", "email": "lea@example.org", "timeZone": "UTC", "language": "fr"},
        }
        booked = await api.post("/api/v2/bookings", json=body, headers=SERVICE)
        assert booked.status_code == 201, booked.text
        assert simulator.store.bookings[booked.json()["data"]["uid"]].event_type_id == existing.id
        cancelled = await api.delete(f"/api/v2/bookings/{booked.json()['data']['uid']}", headers=SERVICE)
        assert cancelled.status_code == 200, cancelled.text

    async def test_organisation_key_cannot_create_nor_repair_an_event_type(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator, monkeypatch: Any
    ) -> None:
        admin, bare, edited = new_user(simulator), new_user(simulator), new_user(simulator)
        monkeypatch.setattr(services.linker, "organisation_key", admin.api_key)
        simulator.add_event_type(edited, title="Thotis", slug="thotis-15", length=30)
        missing = await create_profile(api, "m1", valid_body(calcom={"username": bare.username}))
        assert missing["calcom"]["status"] == "error" and "organisation key" in missing["calcom"]["error"]
        drift = await create_profile(api, "m2", valid_body(calcom={"username": edited.username}))
        assert drift["calcom"]["status"] == "error" and "15 minutes" in drift["calcom"]["error"]
        assert not any(et.owner_id == bare.id for et in simulator.store.event_types.values())
        assert [et.length for et in simulator.store.event_types.values() if et.owner_id == edited.id] == [30]

    async def test_api_key_is_never_returned(self, api: httpx.AsyncClient, simulator: CalcomSimulator) -> None:
        user = await linked_mentor(api, simulator)
        for headers in (ADMIN, SERVICE, auth(Role.MENTOR, "m1")):
            assert user.api_key not in (await api.get(f"{API}/m1", headers=headers)).text


class TestAvailability:
    @given(zone=st.sampled_from(ZONES), days=st.integers(0, 40), span=st.integers(1, 72))
    async def test_property_05_and_12_slots_in_the_asked_zone_same_instants_inside_the_window(
        self,
        session_client: httpx.AsyncClient,
        services: Services,
        simulator: CalcomSimulator,
        zone: str,
        days: int,
        span: int,
    ) -> None:
        await reset(services)
        await linked_mentor(session_client, simulator)
        start = NOW + timedelta(days=days) - timedelta(hours=3)
        end = start + timedelta(hours=span)
        params = {"start": start.isoformat(), "end": end.isoformat()}
        in_utc = (await slots(session_client, **params, timeZone="UTC")).json()["data"]
        response = await slots(session_client, **params, timeZone=zone)
        assert response.status_code == 200, response.text
        in_zone = response.json()["data"]
        instants = [(datetime.fromisoformat(s["start"]), datetime.fromisoformat(s["end"])) for s in in_zone]
        assert instants == [(datetime.fromisoformat(s["start"]), datetime.fromisoformat(s["end"])) for s in in_utc]
        for begin, finish in instants:
            assert begin.utcoffset() == begin.astimezone(ZoneInfo(zone)).utcoffset()
            assert finish - begin == timedelta(minutes=15)
            assert NOW + timedelta(hours=2) <= begin and finish <= NOW + timedelta(days=30)
            assert start <= begin and finish <= end
        assert instants == sorted(instants)

    @given(busy_hours=st.lists(st.tuples(st.integers(0, 4 * 24), st.integers(1, 6)), max_size=4))
    async def test_property_06_busy_times_never_appear_as_available(
        self,
        session_client: httpx.AsyncClient,
        services: Services,
        simulator: CalcomSimulator,
        busy_hours: list[tuple[int, int]],
    ) -> None:
        await reset(services)
        user = await linked_mentor(session_client, simulator)
        busy = [(NOW + timedelta(hours=h), NOW + timedelta(hours=h + length)) for h, length in busy_hours]
        for begin, finish in busy:
            simulator.add_busy(user, begin, finish)
        params = {"start": NOW.isoformat(), "end": (NOW + timedelta(days=5)).isoformat()}
        found = (await slots(session_client, **params)).json()["data"]
        assert found, "the schedule leaves free time in five weekdays"
        for item in found:
            begin, finish = datetime.fromisoformat(item["start"]), datetime.fromisoformat(item["end"])
            assert all(finish <= b_start or begin >= b_end for b_start, b_end in busy)

    async def test_default_range_is_the_whole_booking_window(
        self, api: httpx.AsyncClient, simulator: CalcomSimulator
    ) -> None:
        await linked_mentor(api, simulator)
        found = (await slots(api)).json()["data"]
        first, last = datetime.fromisoformat(found[0]["start"]), datetime.fromisoformat(found[-1]["end"])
        assert first >= NOW + timedelta(hours=2) and last <= NOW + timedelta(days=30)
        assert last - first > timedelta(days=25)

    async def test_a_booked_slot_disappears_once_the_cache_is_invalidated(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator
    ) -> None:
        await linked_mentor(api, simulator)
        params = {"start": NOW.isoformat(), "end": (NOW + timedelta(days=1)).isoformat()}
        first = (await slots(api, **params)).json()["data"][0]
        event_type_id = (await api.get(f"{API}/m1", headers=ADMIN)).json()["data"]["calcom"]["eventTypeId"]
        simulator.book(event_type_id, datetime.fromisoformat(first["start"]), name="Léa", email="lea@example.org")
        await services.cache.invalidate(groups=slot_groups(event_type_id))
        again = (await slots(api, **params)).json()["data"]
        assert first not in again

    async def test_the_default_range_asks_cal_com_once_a_minute_whatever_the_zone(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator
    ) -> None:
        await linked_mentor(api, simulator)
        services.clock = FixedClock(NOW + timedelta(seconds=10))
        in_utc = (await slots(api)).json()["data"]
        simulator.fail_next(503, times=10, path_prefix="/v2/slots")
        services.clock = FixedClock(NOW + timedelta(seconds=50))  # same minute, another rendered view
        response = await slots(api, timeZone="Asia/Kolkata")
        assert response.status_code == 200, response.text
        in_kolkata = response.json()["data"]
        assert [datetime.fromisoformat(s["start"]) for s in in_kolkata] == [
            datetime.fromisoformat(s["start"]) for s in in_utc
        ]
        assert in_utc[0]["start"].endswith("+00:00") and in_kolkata[0]["start"].endswith("+05:30")

    async def test_the_default_range_is_asked_for_once_a_ttl_not_at_each_minute_and_still_clipped(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator
    ) -> None:
        """Cal.com is asked for whole hours: a minute later the same answer serves, and the window
        (now + 2 h … now + 30 days) is applied to it on every read, at both ends."""
        await linked_mentor(api, simulator)
        services.clock = FixedClock(NOW + timedelta(minutes=14, seconds=10))  # the window opens 10:14:10 UTC
        before = (await slots(api)).json()["data"]
        assert datetime.fromisoformat(before[0]["start"]) == NOW + timedelta(hours=2, minutes=15)
        simulator.fail_next(503, times=10, path_prefix="/v2/slots")
        services.clock = FixedClock(NOW + timedelta(minutes=15, seconds=20))  # 70 s on: 10:15 is now too soon
        response = await slots(api)
        assert response.status_code == 200, response.text
        last = NOW + timedelta(days=30)  # 08:00-08:15 UTC fits in a window that now ends at 08:15:20
        newly_in = {"start": last.isoformat(), "end": (last + timedelta(minutes=15)).isoformat()}
        assert response.json()["data"] == [*before[1:], newly_in]

    async def test_concurrent_misses_ask_cal_com_once(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        await linked_mentor(api, simulator)
        client = services.calcom.client
        real, calls = client.get_slots, []

        async def slow_get_slots(*args: Any, **kwargs: Any) -> Any:
            calls.append(args)
            await asyncio.sleep(0.05)  # Cal.com's latency: the other requests arrive meanwhile
            return await real(*args, **kwargs)

        monkeypatch.setattr(client, "get_slots", slow_get_slots)
        answers = await asyncio.gather(*(slots(api, timeZone=zone) for zone in ZONES))
        assert [a.status_code for a in answers] == [200] * len(ZONES)
        assert len(calls) == 1
        starts = {tuple(datetime.fromisoformat(s["start"]) for s in a.json()["data"]) for a in answers}
        assert len(starts) == 1 and next(iter(starts))

    async def test_errors_have_stable_codes(self, api: httpx.AsyncClient, simulator: CalcomSimulator) -> None:
        await create_profile(api, "plain", valid_body())
        assert_error(await slots(api, "plain"), 409, "MENTOR_NOT_BOOKABLE")
        assert_error(await slots(api, "nobody"), 404, "PROFILE_NOT_FOUND")
        await linked_mentor(api, simulator)
        assert_error(await slots(api, timeZone="Mars/Olympus"), 400, "INVALID_TIME_ZONE")
        assert_error(await slots(api, start="2026-12-08T10:00:00"), 400, "INVALID_DATETIME")
        assert_error(await slots(api, start="tomorrow"), 400, "INVALID_DATETIME")
        later, earlier = (NOW + timedelta(days=2)).isoformat(), (NOW + timedelta(days=1)).isoformat()
        assert_error(await slots(api, start=later, end=earlier), 400, "INVALID_RANGE")
        assert (await slots(api, start=(NOW - timedelta(days=9)).isoformat(), end=NOW.isoformat())).json()["data"] == []

    async def test_cal_com_outage_is_a_503_never_a_stale_answer(
        self, api: httpx.AsyncClient, simulator: CalcomSimulator
    ) -> None:
        await linked_mentor(api, simulator)
        simulator.fail_next(503, times=10, path_prefix="/v2/slots")
        assert_error(await slots(api), 503, "CALCOM_UNAVAILABLE")

    async def test_widget_reads_only_its_mentor(self, api: httpx.AsyncClient, simulator: CalcomSimulator) -> None:
        await linked_mentor(api, simulator)
        own = await api.get(f"{API}/m1/availability", headers=auth(Role.WIDGET, "m1"))
        assert own.status_code == 200
        other = await api.get(f"{API}/m1/availability", headers=auth(Role.WIDGET, "m2"))
        assert_error(other, 403, "NOT_OWNER")


class TestFreeSlotCounts:
    @given(kinds=st.lists(st.sampled_from(["free", "busy", "unlinked"]), min_size=1, max_size=5))
    async def test_property_39_available_filter_returns_only_mentors_with_free_slots_in_7_days(
        self,
        session_client: httpx.AsyncClient,
        services: Services,
        simulator: CalcomSimulator,
        kinds: list[str],
    ) -> None:
        from thotis_ext.availability import refresh_slot_count

        await reset(services)
        for i, kind in enumerate(kinds):
            if kind == "unlinked":
                await create_profile(session_client, f"m{i}", valid_body())
                continue
            user = await linked_mentor(session_client, simulator, f"m{i}")
            if kind == "busy":
                simulator.add_busy(user, NOW - timedelta(days=1), NOW + timedelta(days=8))
        async with services.database.session() as session:
            for i in range(len(kinds)):
                await refresh_slot_count(session, services.calcom.client, services.cache, services.clock.now(), f"m{i}")
        listed = (await session_client.get(API, params={"available": "true"}, headers=SERVICE)).json()
        assert {m["userId"] for m in listed["data"]} == {f"m{i}" for i, k in enumerate(kinds) if k == "free"}
        assert all(m["availableSlots7d"] > 0 and m["nextAvailableAt"] for m in listed["data"])
        everyone = (await session_client.get(API, headers=SERVICE)).json()["data"]
        assert len(everyone) == len(kinds)
        # Discovery order (R4.4): mentors with free slots come first.
        counts = [m["availableSlots7d"] for m in everyone]
        assert counts == sorted(counts, reverse=True)


class TestRendering:
    """The rendered list: the zone's own offset on each instant, `+00:00` rather than `Z`."""

    def test_offsets_follow_the_zone_across_a_change_of_time(self) -> None:
        before = int(datetime(2026, 10, 25, 0, 30, tzinfo=UTC).timestamp())  # Paris leaves summer time at 01:00 UTC
        spans = [(before, before + 900), (before + 3600, before + 4500)]
        assert json.loads(slots_json(spans, ZoneInfo("Europe/Paris"))) == [
            {"start": "2026-10-25T02:30:00+02:00", "end": "2026-10-25T02:45:00+02:00"},
            {"start": "2026-10-25T02:30:00+01:00", "end": "2026-10-25T02:45:00+01:00"},
        ]
        assert json.loads(slots_json(spans[:1], ZoneInfo("UTC"))) == [
            {"start": "2026-10-25T00:30:00+00:00", "end": "2026-10-25T00:45:00+00:00"}
        ]
        assert json.loads(slots_json(spans[:1], ZoneInfo("Europe/London"))) == [
            {"start": "2026-10-25T01:30:00+01:00", "end": "2026-10-25T01:45:00+01:00"}
        ]

    @settings(max_examples=100)
    @given(
        zone=st.sampled_from([*ZONES, "Europe/London", "Australia/Lord_Howe", "America/St_Johns"]),
        quarters=st.lists(st.integers(0, 4 * 24 * 400), max_size=30),
    )
    def test_property_12_each_instant_is_kept_and_shown_with_the_zone_offset(
        self, zone: str, quarters: list[int]
    ) -> None:
        origin = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
        spans = [(origin + 900 * q, origin + 900 * q + 900) for q in sorted(quarters)]
        shown = json.loads(slots_json(spans, ZoneInfo(zone)))
        for (start, end), item in zip(spans, shown, strict=True):
            for instant, text in ((start, item["start"]), (end, item["end"])):
                expected = datetime.fromtimestamp(instant, ZoneInfo(zone)).isoformat()
                assert text == expected


class TestWithheldSlots:
    @given(
        spans=st.lists(st.tuples(st.integers(0, 200), st.integers(1, 20)), max_size=30),
        bookings=st.lists(st.integers(0, 200), max_size=12, unique=True),
    )
    def test_a_slot_is_withheld_exactly_when_it_overlaps_a_booking(
        self, spans: list[tuple[int, int]], bookings: list[int]
    ) -> None:
        """`overlaps_any` (one bisection) agrees with comparing the slot to every booking."""
        taken: list[tuple[int, int]] = []
        for start in sorted(bookings):  # a mentor's bookings never overlap one another
            if not taken or taken[-1][1] <= start:
                taken.append((start, start + 15))
        for start, length in spans:
            span = (start, start + length)
            assert overlaps_any(span, taken) == any(a < span[1] and span[0] < b for a, b in taken)


@settings(max_examples=100, deadline=None)
@given(ttl=st.integers(min_value=1, max_value=7 * 24 * 3600))
def test_a_cached_answer_lives_three_quarters_to_all_of_the_ttl(ttl: int) -> None:
    drawn = {_spans_ttl(ttl) for _ in range(20)}
    assert all(max(1, round(0.75 * ttl)) <= value <= ttl for value in drawn), (ttl, drawn)
