"""Booking and cancelling sessions through the API against the Cal.com simulator (R5, R12, R13)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio import Redis
from sqlalchemy import text

from adapter.auth import Role
from adapter.services import Services
from calcom_client.simulator import CalcomSimulator
from core.local_servers import free_port
from tests.adapter.conftest import NOW
from tests.adapter.helpers import ADMIN, SERVICE, assert_error, auth, create_profile, finishes_without_waiting
from tests.adapter.test_availability import linked_mentor
from tests.conftest import empty_caches, reset
from tests.factories import insert_sessions, valid_body

SLOT = NOW + timedelta(days=1, hours=1)  # Tuesday 09:00 UTC = 10:00 Paris, inside the schedule


def booking(start: datetime = SLOT, **overrides: Any) -> dict[str, Any]:
    student = {
        "name": "Léa Martin",
        "email": "lea@example.org",
        "timeZone": "Europe/Paris",
        "language": "fr",
        "question": "Comment se passe la première année ?",
    }
    student.update(overrides.pop("prospectiveStudent", {}))
    body: dict[str, Any] = {
        "mentorId": "m1",
        "start": start.isoformat(),
        "consent": True,
        "prospectiveStudent": student,
    }
    body.update(overrides)
    return body


async def book(api: httpx.AsyncClient, body: dict[str, Any], headers: dict[str, str] = SERVICE) -> httpx.Response:
    return await api.post("/api/v2/bookings", json=body, headers=headers)


class TestBooking:
    async def test_books_a_session_with_a_meet_link_and_stores_the_student(
        self, api: httpx.AsyncClient, simulator: CalcomSimulator
    ) -> None:
        await linked_mentor(api, simulator)
        response = await book(api, booking())
        assert response.status_code == 201, response.text
        session = response.json()["data"]
        assert session["status"] == "scheduled" and session["mentorId"] == "m1"
        assert session["meetUrl"].startswith("https://meet.google.com/")
        assert datetime.fromisoformat(session["end"]) - datetime.fromisoformat(session["start"]) == timedelta(
            minutes=15
        )
        student = session["prospectiveStudent"]
        assert (student["name"], student["email"]) == ("Léa Martin", "lea@example.org")
        assert student["question"] == "Comment se passe la première année ?"
        stored = simulator.booking(session["uid"])
        assert stored.metadata["thotisSession"] == "true" and stored.metadata["thotisMentorId"] == "m1"
        again = await api.get(f"/api/v2/bookings/{session['uid']}", headers=SERVICE)
        assert again.json()["data"] == session
        stats = (await api.get("/api/v2/students/m1/stats", headers=SERVICE)).json()["data"]
        assert stats["scheduledSessions"] == 1

    async def test_booked_slot_leaves_the_availability(
        self, api: httpx.AsyncClient, simulator: CalcomSimulator
    ) -> None:
        await linked_mentor(api, simulator)
        params = {"start": NOW.isoformat(), "end": (NOW + timedelta(days=2)).isoformat()}
        before = (await api.get("/api/v2/students/m1/availability", params=params, headers=SERVICE)).json()["data"]
        assert any(datetime.fromisoformat(s["start"]) == SLOT for s in before)
        assert (await book(api, booking())).status_code == 201
        after = (await api.get("/api/v2/students/m1/availability", params=params, headers=SERVICE)).json()["data"]
        assert all(datetime.fromisoformat(s["start"]) != SLOT for s in after)

    @given(minutes=st.integers(-600, 600).filter(lambda m: m != 15))
    async def test_property_08_any_duration_but_15_is_rejected(
        self, session_client: httpx.AsyncClient, services: Services, simulator: CalcomSimulator, minutes: int
    ) -> None:
        await reset(services)
        assert_error(await book(session_client, booking(durationMinutes=minutes)), 400, "INVALID_DURATION")

    @given(early=st.integers(0, 2 * 60 * 60 - 1))
    async def test_property_14_a_start_before_now_plus_2h_is_rejected(
        self, session_client: httpx.AsyncClient, services: Services, simulator: CalcomSimulator, early: int
    ) -> None:
        await reset(services)
        await linked_mentor(session_client, simulator)
        start = NOW + timedelta(seconds=early)
        response = await book(session_client, booking(start))
        assert response.status_code == 400
        assert response.json()["error"]["code"] in {"BOOKING_TOO_SOON", "OFF_GRID"}
        if start.minute % 15 == 0 and start.second == 0:
            assert response.json()["error"]["code"] == "BOOKING_TOO_SOON"

    async def test_property_07_concurrent_bookings_of_one_slot_one_wins_the_rest_409(
        self, api: httpx.AsyncClient, simulator: CalcomSimulator
    ) -> None:
        await linked_mentor(api, simulator)
        results = await asyncio.gather(
            *(book(api, booking(prospectiveStudent={"email": f"s{i}@example.org"})) for i in range(6))
        )
        codes = sorted(r.status_code for r in results)
        assert codes == [201, 409, 409, 409, 409, 409], [r.text for r in results]
        for loser in (r for r in results if r.status_code == 409):
            assert_error(loser, 409, "SLOT_UNAVAILABLE")

    async def test_two_bookings_never_share_a_meet_link(
        self, api: httpx.AsyncClient, simulator: CalcomSimulator
    ) -> None:
        await linked_mentor(api, simulator)
        links = set()
        for quarter in range(4):
            response = await book(api, booking(SLOT + timedelta(minutes=15 * quarter)))
            links.add(response.json()["data"]["meetUrl"])
        assert len(links) == 4

    async def test_rules_of_consent_minors_and_mentor(self, api: httpx.AsyncClient, simulator: CalcomSimulator) -> None:
        await linked_mentor(api, simulator)
        assert_error(await book(api, booking(consent=False)), 400, "CONSENT_REQUIRED")
        minor = booking(prospectiveStudent={"isMinor": True})
        assert_error(await book(api, minor), 400, "PARENTAL_CONSENT_REQUIRED")
        with_parent = booking(
            prospectiveStudent={"isMinor": True, "parentEmail": "parent@example.org", "parentalConsent": True}
        )
        assert (await book(api, with_parent)).status_code == 201
        assert_error(await book(api, booking(NOW + timedelta(days=31))), 400, "BOOKING_TOO_FAR")
        assert_error(await book(api, booking(SLOT + timedelta(minutes=7))), 400, "OFF_GRID")
        assert_error(await book(api, booking(mentorId="nobody")), 404, "PROFILE_NOT_FOUND")
        bad_zone = booking(prospectiveStudent={"timeZone": "Mars/Base"})
        assert_error(await book(api, bad_zone), 400, "VALIDATION_ERROR")
        naive = booking()
        naive["start"] = "2026-12-08T09:00:00"
        assert_error(await book(api, naive), 400, "VALIDATION_ERROR")

    async def test_widget_books_only_its_mentor(self, api: httpx.AsyncClient, simulator: CalcomSimulator) -> None:
        await linked_mentor(api, simulator)
        assert_error(await book(api, booking(), auth(Role.WIDGET, "m2")), 403, "NOT_OWNER")
        assert (await book(api, booking(), auth(Role.WIDGET, "m1"))).status_code == 201

    async def test_cal_com_failure_leaves_no_session(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator
    ) -> None:
        await linked_mentor(api, simulator)
        simulator.fail_next(503, times=1, method="POST", path_prefix="/v2/bookings")
        assert_error(await book(api, booking()), 503, "CALCOM_UNAVAILABLE")
        async with services.database.engine.connect() as connection:
            assert await connection.scalar(text("SELECT count(*) FROM thotis.sessions")) == 0

    async def test_a_slot_thotis_holds_but_cal_com_accepts_is_a_409_and_writes_nothing(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator
    ) -> None:
        """The row goes in one statement with its emails, event, analytics and counter moves
        (core/write_batch.py): when its INSERT fails, none of them is written."""
        await linked_mentor(api, simulator)
        await insert_sessions(services.database.engine, "m1", [(SLOT, "scheduled")])  # Thotis holds SLOT
        before, known = await written(services), set(simulator.store.bookings)  # the simulator outlives the test
        response = await book(api, booking())
        assert_error(response, 409, "SLOT_UNAVAILABLE")
        made = [b for uid, b in simulator.store.bookings.items() if uid not in known]
        assert [(b.start, b.status) for b in made] == [(SLOT, "CANCELLED")]  # Cal.com's booking was undone
        assert await written(services) == before
        assert (await book(api, booking(SLOT + timedelta(minutes=15)))).status_code == 201
        after = await written(services)
        assert all(after[table] > before[table] for table in ("sessions", "email_outbox", "webhook_messages"))

    async def test_a_reused_cal_com_booking_id_is_a_502_and_the_new_booking_is_undone(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator
    ) -> None:
        """A Cal.com that lost its data (a restarted simulator) hands out an id Thotis holds."""
        await linked_mentor(api, simulator)
        first = (await book(api, booking())).json()["data"]
        first_id = simulator.store.bookings[first["uid"]].id
        simulator.store._counters["booking"] = first_id - 1  # the next booking gets its id again
        response = await book(api, booking(SLOT + timedelta(minutes=15)))
        assert_error(response, 502, "CALCOM_INCONSISTENT")
        [second] = [b for b in simulator.store.bookings.values() if b.id == first_id and b.uid != first["uid"]]
        assert second.status == "CANCELLED"
        async with services.database.engine.connect() as connection:
            assert await connection.scalar(text("SELECT count(*) FROM thotis.sessions")) == 1


async def written(services: Services) -> dict[str, Any]:
    """What a booking writes: sessions, emails, events, deliveries, analytics, m1's counters."""
    counts = {}
    async with services.database.engine.connect() as connection:
        for table in ("sessions", "email_outbox", "webhook_messages", "webhook_deliveries", "analytics_events"):
            counts[table] = await connection.scalar(text(f"SELECT count(*) FROM thotis.{table}"))
        counters = await connection.execute(
            text("SELECT scheduled_sessions, available_slots_7d FROM thotis.student_profiles WHERE user_id = 'm1'")
        )
        counts["counters"] = tuple(counters.one())
    return counts


NEW_BIO = "Toujours en droit, en troisième année maintenant : posez-moi vos questions sur la fac."


class TestAProfileEditHoldsNoLockAtCalcom:
    """An edit that links the mentor again asks Cal.com several times; the mentor's bookings must
    not wait for that behind a lock on the mentor's row."""

    async def test_a_booking_goes_through_while_an_edit_of_the_link_waits_for_calcom(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        user = await linked_mentor(api, simulator)
        there, go = asyncio.Event(), asyncio.Event()
        real = services.linker.client.list_event_types

        async def paused(*args: Any, **kwargs: Any) -> Any:
            there.set()
            await go.wait()
            return await real(*args, **kwargs)

        monkeypatch.setattr(services.linker.client, "list_event_types", paused)
        body = {"bio": NEW_BIO, "calcom": {"username": user.username, "apiKey": user.api_key}}
        edit = asyncio.ensure_future(api.put("/api/v2/students/m1/profile", json=body, headers=ADMIN))
        try:
            await asyncio.wait_for(there.wait(), 30)  # a hang guard only
            booked = await finishes_without_waiting(services, book(api, booking()))
            assert booked.status_code == 201, booked.text
        finally:
            go.set()
            edited = await edit
        assert edited.status_code == 200, edited.text
        data = edited.json()["data"]
        assert data["bio"] == NEW_BIO and data["calcom"]["status"] == "linked"
        stats = (await api.get("/api/v2/students/m1/stats", headers=SERVICE)).json()["data"]
        assert stats["scheduledSessions"] == 1  # the booking's counter move survived the edit

    async def test_an_edit_whose_cal_account_is_taken_changes_nothing(
        self, api: httpx.AsyncClient, simulator: CalcomSimulator
    ) -> None:
        taken = await linked_mentor(api, simulator, "m1")
        await create_profile(api, "m2", valid_body())
        body = {"bio": NEW_BIO, "calcom": {"username": taken.username, "apiKey": taken.api_key}}
        response = await api.put("/api/v2/students/m2/profile", json=body, headers=ADMIN)
        assert_error(response, 409, "CALCOM_ACCOUNT_TAKEN")
        kept = (await api.get("/api/v2/students/m2", headers=ADMIN)).json()["data"]
        assert kept["bio"] == valid_body()["bio"] and kept["calcom"]["status"] == "unlinked"


class TestCachedBookingTarget:
    """A booking calls Cal.com with the mentor's cached booking target (event type, key) while it
    reads the mentor's row; the row has the last word, as the cache may lag a change a moment."""

    @pytest.mark.parametrize(
        ("change", "status", "code"),
        [
            ("is_active = false", 404, "PROFILE_NOT_FOUND"),
            ("calcom_event_type_id = calcom_event_type_id + 1000", 409, "MENTOR_NOT_BOOKABLE"),
        ],
        ids=["deactivated", "relinked"],
    )
    async def test_a_mentor_changed_since_the_target_was_cached_is_refused_and_cal_com_s_booking_undone(
        self,
        api: httpx.AsyncClient,
        services: Services,
        simulator: CalcomSimulator,
        change: str,
        status: int,
        code: str,
    ) -> None:
        await linked_mentor(api, simulator)
        assert (await book(api, booking())).status_code == 201  # caches m1's booking target
        async with services.database.engine.begin() as connection:  # behind the cache's back
            await connection.execute(text(f"UPDATE thotis.student_profiles SET {change} WHERE user_id = 'm1'"))
        before, known = await written(services), set(simulator.store.bookings)
        assert_error(await book(api, booking(SLOT + timedelta(minutes=15))), status, code)
        made = [b.status for uid, b in simulator.store.bookings.items() if uid not in known]
        assert made == ["CANCELLED"]
        assert await written(services) == before

    async def test_a_booking_keeps_the_target_and_a_deactivation_drops_it(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator
    ) -> None:
        from thotis_ext.profiles.service import booking_target_key

        await linked_mentor(api, simulator)
        assert (await book(api, booking())).status_code == 201
        assert await services.cache.get_bytes(booking_target_key("m1")) is not None  # counters moved only
        deactivated = await api.patch("/api/v2/students/m1/status", json={"isActive": False}, headers=ADMIN)
        assert deactivated.status_code == 200, deactivated.text
        assert await services.cache.get_bytes(booking_target_key("m1")) is None
        known = set(simulator.store.bookings)
        assert_error(await book(api, booking(SLOT + timedelta(minutes=15))), 404, "PROFILE_NOT_FOUND")
        assert set(simulator.store.bookings) == known  # refused before Cal.com was asked


class TestCancellation:
    async def test_cancel_records_who_and_why_and_moves_counters(
        self, api: httpx.AsyncClient, simulator: CalcomSimulator
    ) -> None:
        await linked_mentor(api, simulator)
        uid = (await book(api, booking())).json()["data"]["uid"]
        response = await api.request(
            "DELETE", f"/api/v2/bookings/{uid}", json={"reason": "Exam", "cancelledBy": "mentor"}, headers=SERVICE
        )
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert data["status"] == "cancelled"
        assert data["cancellation"]["cancelledBy"] == "mentor" and data["cancellation"]["reason"] == "Exam"
        assert simulator.booking(uid).status.lower() == "cancelled"
        stats = (await api.get("/api/v2/students/m1/stats", headers=SERVICE)).json()["data"]
        assert (stats["scheduledSessions"], stats["cancelledSessions"], stats["mentorCancellations"]) == (0, 1, 1)
        assert_error(await api.delete(f"/api/v2/bookings/{uid}", headers=SERVICE), 409, "SESSION_NOT_SCHEDULED")

    async def test_cancel_inside_two_hours_is_refused(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator
    ) -> None:
        from core.clock import FixedClock

        await linked_mentor(api, simulator)
        uid = (await book(api, booking())).json()["data"]["uid"]
        services.clock = FixedClock(SLOT - timedelta(hours=1, minutes=59))
        response = await api.delete(f"/api/v2/bookings/{uid}", params={"reason": "late"}, headers=SERVICE)
        assert_error(response, 400, "CANCELLATION_TOO_LATE")

    async def test_mentors_see_and_cancel_only_their_own_sessions(
        self, api: httpx.AsyncClient, simulator: CalcomSimulator
    ) -> None:
        await linked_mentor(api, simulator)
        uid = (await book(api, booking())).json()["data"]["uid"]
        assert_error(await api.get(f"/api/v2/bookings/{uid}", headers=auth(Role.MENTOR, "m2")), 403, "NOT_OWNER")
        assert (await api.get(f"/api/v2/bookings/{uid}", headers=auth(Role.MENTOR, "m1"))).status_code == 200
        assert_error(await api.get("/api/v2/bookings/nope", headers=ADMIN), 404, "SESSION_NOT_FOUND")
        response = await api.delete(f"/api/v2/bookings/{uid}", headers=auth(Role.MENTOR, "m1"))
        assert response.json()["data"]["cancellation"]["cancelledBy"] == "mentor"


class TestReschedule:
    async def test_property_32_rescheduled_session_has_a_new_uid_and_meet_link(
        self, api: httpx.AsyncClient, simulator: CalcomSimulator
    ) -> None:
        await linked_mentor(api, simulator)
        old = (await book(api, booking())).json()["data"]
        new_start = SLOT + timedelta(hours=1)
        response = await api.patch(
            f"/api/v2/bookings/{old['uid']}/reschedule", json={"start": new_start.isoformat()}, headers=SERVICE
        )
        assert response.status_code == 200, response.text
        new = response.json()["data"]
        assert new["uid"] != old["uid"] and new["rescheduledFromUid"] == old["uid"]
        assert new["meetUrl"] != old["meetUrl"] and new["meetUrl"].startswith("https://meet.google.com/")
        assert datetime.fromisoformat(new["start"]) == new_start
        assert new["prospectiveStudent"] == old["prospectiveStudent"]
        previous = (await api.get(f"/api/v2/bookings/{old['uid']}", headers=SERVICE)).json()["data"]
        assert previous["status"] == "cancelled" and previous["rescheduledToUid"] == new["uid"]
        assert simulator.booking(old["uid"]).status.lower() == "cancelled"
        stats = (await api.get("/api/v2/students/m1/stats", headers=SERVICE)).json()["data"]
        assert (stats["scheduledSessions"], stats["cancelledSessions"]) == (1, 0)

    async def test_reschedule_to_a_taken_slot_keeps_the_original(
        self, api: httpx.AsyncClient, simulator: CalcomSimulator
    ) -> None:
        await linked_mentor(api, simulator)
        old = (await book(api, booking())).json()["data"]
        taken = SLOT + timedelta(minutes=30)
        assert (await book(api, booking(taken, prospectiveStudent={"email": "x@example.org"}))).status_code == 201
        response = await api.patch(
            f"/api/v2/bookings/{old['uid']}/reschedule", json={"start": taken.isoformat()}, headers=SERVICE
        )
        assert_error(response, 409, "SLOT_UNAVAILABLE")
        assert (await api.get(f"/api/v2/bookings/{old['uid']}", headers=SERVICE)).json()["data"]["status"] == (
            "scheduled"
        )

    async def test_a_failed_cancellation_of_the_old_booking_undoes_the_new_one(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator
    ) -> None:
        await linked_mentor(api, simulator)
        old = (await book(api, booking())).json()["data"]
        simulator.fail_next(503, times=5, method="POST", path_prefix=f"/v2/bookings/{old['uid']}/cancel")
        new_start = SLOT + timedelta(hours=2)
        response = await api.patch(
            f"/api/v2/bookings/{old['uid']}/reschedule", json={"start": new_start.isoformat()}, headers=SERVICE
        )
        assert_error(response, 503, "CALCOM_UNAVAILABLE")
        # The simulator outlives the test: only this mentor's bookings (another test may hold that start).
        mentor = simulator.booking(old["uid"]).owner_id
        active = [b for b in simulator.store.bookings.values() if b.status.lower() != "cancelled"]
        assert [b.uid for b in active if b.owner_id == mentor and b.start == new_start] == []
        assert simulator.booking(old["uid"]).status.lower() != "cancelled"
        async with services.database.engine.connect() as connection:
            assert await connection.scalar(text("SELECT count(*) FROM thotis.sessions")) == 1


class TestComplete:
    async def test_complete_after_start_once(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator
    ) -> None:
        from core.clock import FixedClock

        await linked_mentor(api, simulator)
        uid = (await book(api, booking())).json()["data"]["uid"]
        mentor = auth(Role.MENTOR, "m1")
        assert_error(await api.post(f"/api/v2/bookings/{uid}/complete", headers=mentor), 400, "SESSION_NOT_STARTED")
        services.clock = FixedClock(SLOT + timedelta(minutes=20))
        for _ in range(2):  # twice: the second changes nothing
            response = await api.post(f"/api/v2/bookings/{uid}/complete", headers=mentor)
            assert response.status_code == 200 and response.json()["data"]["status"] == "completed"
        stats = (await api.get("/api/v2/students/m1/stats", headers=SERVICE)).json()["data"]
        assert (stats["completedSessions"], stats["scheduledSessions"]) == (1, 0)
        assert_error(await api.post(f"/api/v2/bookings/{uid}/complete", headers=SERVICE), 403, "ROLE_NOT_ALLOWED")


class TestEndToEnd:
    async def test_profile_availability_book_get_reschedule_cancel(
        self, api: httpx.AsyncClient, simulator: CalcomSimulator
    ) -> None:
        await linked_mentor(api, simulator)
        free = (
            await api.get("/api/v2/students/m1/availability", params={"timeZone": "Europe/Paris"}, headers=SERVICE)
        ).json()["data"]
        first, later = free[0]["start"], free[5]["start"]
        booked = (await book(api, booking(datetime.fromisoformat(first)))).json()["data"]
        assert (await api.get(f"/api/v2/bookings/{booked['uid']}", headers=SERVICE)).status_code == 200
        moved = (
            await api.patch(f"/api/v2/bookings/{booked['uid']}/reschedule", json={"start": later}, headers=SERVICE)
        ).json()["data"]
        cancelled = (await api.delete(f"/api/v2/bookings/{moved['uid']}", headers=SERVICE)).json()["data"]
        assert cancelled["status"] == "cancelled"
        after = (
            await api.get("/api/v2/students/m1/availability", params={"timeZone": "Europe/Paris"}, headers=SERVICE)
        ).json()["data"]
        assert {s["start"] for s in after} >= {first, later}


class TestFreeSlotCountFollowsBookings:
    async def test_booking_and_cancelling_move_the_7_day_count(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator
    ) -> None:
        from thotis_ext.availability import refresh_slot_count

        await linked_mentor(api, simulator)
        async with services.database.session() as session:
            before = await refresh_slot_count(
                session, services.calcom.client, services.cache, services.clock.now(), "m1"
            )
        assert before > 0

        async def count() -> int:
            listed = (await api.get("/api/v2/students", headers=SERVICE)).json()["data"]
            return int(listed[0]["availableSlots7d"])

        assert await count() == before
        uid = (await book(api, booking())).json()["data"]["uid"]
        assert await count() == before - 1
        await api.delete(f"/api/v2/bookings/{uid}", headers=SERVICE)
        assert await count() == before

    async def test_a_booking_drops_the_list_pages_of_its_mentor_s_field_and_the_unfiltered_ones_only(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator
    ) -> None:
        await linked_mentor(api, simulator)  # LAW
        await create_profile(api, "m2", valid_body(field="MEDICINE"))

        async def years(path: str) -> dict[str, int]:
            listed = (await api.get(f"/api/v2/students{path}", headers=SERVICE)).json()["data"]
            return {m["userId"]: m["currentYear"] for m in listed}

        assert await years("/by-field/MEDICINE") == {"m2": 2} and await years("") == {"m1": 2, "m2": 2}
        async with services.database.session() as session:  # behind the caches' back
            await session.execute(text("UPDATE thotis.student_profiles SET current_year = 4"))
            await session.commit()
        assert (await book(api, booking())).status_code == 201
        assert await years("/by-field/MEDICINE") == {"m2": 2}, "another field's page is kept"
        assert await years("/by-field/LAW") == {"m1": 4}
        assert await years("") == {"m1": 4, "m2": 4}

    async def test_a_transaction_dropping_one_field_s_lists_and_then_all_drops_all(
        self, services: Services, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from core.database import commit
        from thotis_ext.profiles.service import ALL_LIST_GROUPS, invalidate_profile_after_commit, list_group

        dropped: list[str] = []

        async def invalidate(keys: Any = (), groups: Any = (), *, add: Any = None) -> bool:
            dropped.extend(groups)
            return True

        monkeypatch.setattr(services.cache, "invalidate", invalidate)
        async with services.database.sessionmaker() as session:
            invalidate_profile_after_commit(session, services.cache, "m1", in_field="LAW")  # a booking
            invalidate_profile_after_commit(session, services.cache, "m1")  # then its profile changes
            await commit(session)
        assert set(dropped) == set(ALL_LIST_GROUPS) and list_group("MEDICINE") in dropped

    async def test_a_mentor_moving_to_another_field_leaves_one_list_and_joins_the_other(
        self, api: httpx.AsyncClient
    ) -> None:
        await create_profile(api, "m2", valid_body(field="MEDICINE"))
        ids = {
            f: [m["userId"] for m in (await api.get(f"/api/v2/students/by-field/{f}", headers=SERVICE)).json()["data"]]
            for f in ("LAW", "MEDICINE")
        }
        assert ids == {"LAW": [], "MEDICINE": ["m2"]}
        response = await api.put("/api/v2/students/m2/profile", json={"field": "LAW"}, headers=auth(Role.MENTOR, "m2"))
        assert response.status_code == 200, response.text
        ids = {
            f: [m["userId"] for m in (await api.get(f"/api/v2/students/by-field/{f}", headers=SERVICE)).json()["data"]]
            for f in ("LAW", "MEDICINE")
        }
        assert ids == {"LAW": ["m2"], "MEDICINE": []}


class TestBookingProperties:
    @given(
        quarters=st.lists(st.integers(0, 11), min_size=1, max_size=6),
        concurrent=st.booleans(),
    )
    async def test_property_07_and_30_sessions_of_a_mentor_never_overlap_nor_share_a_link(
        self,
        session_client: httpx.AsyncClient,
        services: Services,
        simulator: CalcomSimulator,
        quarters: list[int],
        concurrent: bool,
    ) -> None:
        await reset(services)
        await linked_mentor(session_client, simulator)
        bodies = [
            booking(SLOT + timedelta(minutes=15 * q), prospectiveStudent={"email": f"s{i}@example.org"})
            for i, q in enumerate(quarters)
        ]
        if concurrent:
            responses = list(await asyncio.gather(*(book(session_client, body) for body in bodies)))
        else:
            responses = [await book(session_client, body) for body in bodies]
        assert all(r.status_code in (201, 409) for r in responses), [r.text for r in responses]
        won = [r.json()["data"] for r in responses if r.status_code == 201]
        assert len(won) == len(set(quarters))  # one per distinct slot, the rest 409
        starts = [datetime.fromisoformat(s["start"]) for s in won]
        assert len(starts) == len(set(starts))
        assert len({s["meetUrl"] for s in won}) == len(won)

    @given(
        name=st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=80).filter(str.strip),
        question=st.one_of(
            st.none(), st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=300).filter(str.strip)
        ),
        local=st.from_regex(r"[a-z][a-z0-9.]{0,20}", fullmatch=True).filter(lambda s: ".." not in s and s[-1] != "."),
    )
    async def test_property_13_a_booking_stores_name_email_and_question_as_given(
        self,
        session_client: httpx.AsyncClient,
        services: Services,
        simulator: CalcomSimulator,
        name: str,
        question: str | None,
        local: str,
    ) -> None:
        await reset(services)
        await linked_mentor(session_client, simulator)
        email = f"{local}@example.org"
        student: dict[str, Any] = {"name": name, "email": email, "question": question}
        response = await book(session_client, booking(prospectiveStudent=student))
        assert response.status_code == 201, response.text
        uid = response.json()["data"]["uid"]
        stored = (await session_client.get(f"/api/v2/bookings/{uid}", headers=SERVICE)).json()["data"]
        assert stored["prospectiveStudent"]["name"] == name.strip()
        assert stored["prospectiveStudent"]["email"] == email
        assert stored["prospectiveStudent"]["question"] == (question.strip() if question else None)


class TestBookedSlotsWithheld:
    """A Thotis booking keeps the mentor's slots from Cal.com cached and withholds its own
    (`availability.withheld_slot`): what is offered next is what Cal.com would answer, without asking."""

    async def _offered(self, api: httpx.AsyncClient) -> list[datetime]:
        params = {"start": NOW.isoformat(), "end": (NOW + timedelta(days=3)).isoformat()}
        response = await api.get("/api/v2/students/m1/availability", params=params, headers=SERVICE)
        assert response.status_code == 200, response.text
        return [datetime.fromisoformat(s["start"]) for s in response.json()["data"]]

    def _count_slot_calls(self, services: Services, monkeypatch: pytest.MonkeyPatch) -> list[object]:
        client = services.calcom.client
        real, calls = client.get_slots, []

        async def counted(*args: Any, **kwargs: Any) -> Any:
            calls.append(args)
            return await real(*args, **kwargs)

        monkeypatch.setattr(client, "get_slots", counted)
        return calls

    async def test_a_booked_slot_is_withheld_without_asking_cal_com_again(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        await linked_mentor(api, simulator)
        before = await self._offered(api)
        assert SLOT in before
        calls = self._count_slot_calls(services, monkeypatch)
        assert (await book(api, booking())).status_code == 201
        after = await self._offered(api)
        assert after == [start for start in before if start != SLOT]
        assert calls == []

    async def test_a_booking_made_in_cal_com_directly_is_withheld_too(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Its webhook records the session and withholds the slot; Cal.com is not asked again."""
        from tests.adapter.test_calcom_webhooks import signed

        await linked_mentor(api, simulator)
        before = await self._offered(api)
        calls = self._count_slot_calls(services, monkeypatch)
        event_type_id = (await api.get("/api/v2/students/m1", headers=ADMIN)).json()["data"]["calcom"]["eventTypeId"]
        payload = {
            "uid": "made-in-calcom", "bookingId": 4242, "eventTypeId": event_type_id, "status": "ACCEPTED",
            "startTime": SLOT.isoformat().replace("+00:00", "Z"),
            "endTime": (SLOT + timedelta(minutes=15)).isoformat().replace("+00:00", "Z"),
            "attendees": [{"email": "someone@example.org", "name": "Someone", "timeZone": "UTC"}],
            "organizer": {"email": "host@example.org"}, "metadata": {},
        }  # fmt: skip
        sent = services.clock.now().isoformat().replace("+00:00", "Z")
        body = json.dumps({"triggerEvent": "BOOKING_CREATED", "createdAt": sent, "payload": payload}).encode()
        assert (await api.post("/webhooks/calcom", content=body, headers=signed(body))).status_code == 200
        async with services.database.engine.connect() as connection:
            status = await connection.scalar(text("SELECT status FROM thotis.sessions WHERE uid = 'made-in-calcom'"))
        assert status == "scheduled"
        assert await self._offered(api) == [start for start in before if start != SLOT]
        assert calls == []

    async def test_a_cancelled_booking_gives_its_slot_back(
        self, api: httpx.AsyncClient, simulator: CalcomSimulator
    ) -> None:
        await linked_mentor(api, simulator)
        before = await self._offered(api)
        uid = (await book(api, booking())).json()["data"]["uid"]
        assert SLOT not in await self._offered(api)
        cancelled = await api.request("DELETE", f"/api/v2/bookings/{uid}", json={"reason": "Exam"}, headers=SERVICE)
        assert cancelled.status_code == 200, cancelled.text
        assert await self._offered(api) == before

    async def test_a_booking_thotis_could_not_record_leaves_its_slot_offered(
        self, api: httpx.AsyncClient, simulator: CalcomSimulator
    ) -> None:
        """When the session's write fails, Cal.com's booking is undone and nothing is withheld."""
        await linked_mentor(api, simulator)
        before = await self._offered(api)
        first = (await book(api, booking())).json()["data"]
        simulator.store._counters["booking"] = simulator.store.bookings[first["uid"]].id - 1  # an id reused
        second = SLOT + timedelta(minutes=15)
        assert_error(await book(api, booking(second)), 502, "CALCOM_INCONSISTENT")
        assert await self._offered(api) == [start for start in before if start != SLOT]
        assert second in before

    async def test_a_booking_made_when_redis_is_away_drops_the_slots_instead(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With Redis away nothing can be withheld: the slots are read from Cal.com again."""
        await linked_mentor(api, simulator)
        before = await self._offered(api)
        gone = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
        monkeypatch.setattr(services.redis, "client", gone)
        monkeypatch.setattr(services.redis, "_down_until", 0.0)  # its breaker opens: closed again after the test
        try:
            assert (await book(api, booking())).status_code == 201
            calls = self._count_slot_calls(services, monkeypatch)
            assert await self._offered(api) == [start for start in before if start != SLOT]
            assert len(calls) == 1
        finally:
            await gone.aclose()

    @given(quarters=st.lists(st.integers(0, 40), min_size=1, max_size=5, unique=True))
    async def test_property_06_what_is_offered_after_bookings_is_what_cal_com_answers(
        self, session_client: httpx.AsyncClient, services: Services, simulator: CalcomSimulator, quarters: list[int]
    ) -> None:
        """Whichever slots are booked, the withheld list equals Cal.com's own fresh answer."""
        await reset(services)
        await linked_mentor(session_client, simulator)
        offered = await self._offered(session_client)
        for i, q in enumerate(quarters):
            body = booking(offered[q], prospectiveStudent={"email": f"s{i}@example.org"})
            assert (await book(session_client, body)).status_code == 201
        withheld = await self._offered(session_client)
        await empty_caches(services)
        assert withheld == await self._offered(session_client)  # from Cal.com, after the bookings
        assert not {offered[q] for q in quarters} & set(withheld)


class TestRescheduleChoices:
    @given(quarters=st.sets(st.integers(0, 11), min_size=1, max_size=4))
    async def test_property_34_reschedule_choices_are_free_slots_without_the_current_one(
        self,
        session_client: httpx.AsyncClient,
        services: Services,
        simulator: CalcomSimulator,
        quarters: set[int],
    ) -> None:
        await reset(services)
        await linked_mentor(session_client, simulator)
        booked = set()
        for i, q in enumerate(sorted(quarters)):
            start = SLOT + timedelta(minutes=15 * q)
            body = booking(start, prospectiveStudent={"email": f"s{i}@example.org"})
            assert (await book(session_client, body)).status_code == 201
            booked.add(start)
        params = {"start": NOW.isoformat(), "end": (NOW + timedelta(days=2)).isoformat()}
        choices = (await session_client.get("/api/v2/students/m1/availability", params=params, headers=SERVICE)).json()
        offered = {datetime.fromisoformat(s["start"]) for s in choices["data"]}
        assert offered and not offered & booked
        assert {SLOT + timedelta(minutes=15 * q) for q in range(12)} - booked <= offered
