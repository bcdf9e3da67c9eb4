"""The every-5-minutes sync (R11.5, R3.2): lost webhooks caught up, slots recounted, event types re-asserted."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from adapter.services import Services
from calcom_client.simulator import CalcomSimulator
from core.database import commit
from jobs import work
from jobs.deps import JobDeps
from tests.adapter.helpers import ADMIN, SERVICE, finishes_without_waiting, waiting_on_a_lock
from tests.adapter.test_availability import linked_mentor
from tests.adapter.test_bookings import SLOT, book, booking
from tests.jobs.conftest import NOW
from tests.webhooks_in import payloads
from thotis_ext.models import Session, StudentProfile
from thotis_ext.sessions.lifecycle import Outcome, SessionLifecycle
from webhooks_in.parsing import booking_facts, parse_webhook


async def mentor_event_type(services: Services) -> int:
    async with services.database.session() as db:
        profile = await db.get(StudentProfile, "m1")
        assert profile is not None and profile.calcom_event_type_id is not None
        return profile.calcom_event_type_id


async def session_row(services: Services, uid: str) -> Session | None:
    async with services.database.session() as db:
        return await db.scalar(select(Session).where(Session.uid == uid))


class SyncAtCalcom:
    """A sync run paused in its slot count, its last Cal.com call, until `resume`."""

    def __init__(self, deps: JobDeps, monkeypatch: pytest.MonkeyPatch) -> None:
        self.there, self.go = asyncio.Event(), asyncio.Event()
        real = deps.calcom.get_slots

        async def paused(*args: Any, **kwargs: Any) -> Any:
            self.there.set()
            await self.go.wait()
            return await real(*args, **kwargs)

        monkeypatch.setattr(deps.calcom, "get_slots", paused)
        self.run = asyncio.ensure_future(work.sync_calcom(deps))

    async def arrived(self) -> None:
        await asyncio.wait_for(self.there.wait(), 30)  # a hang guard only

    async def resume(self) -> Any:
        self.go.set()
        return await self.run


class TestReconcile:
    async def test_a_booking_made_in_calcom_whose_webhook_was_lost_is_adopted_and_confirmed(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator, deps: JobDeps
    ) -> None:
        await linked_mentor(api, simulator)
        made = simulator.book(await mentor_event_type(services), SLOT, name="Noé", email="noe@example.org")
        simulator.advance(timedelta(minutes=3))  # older than the 2 minutes a Thotis request may take
        counts = await work.sync_calcom(deps)
        assert counts is not None and counts["bookingsApplied"] == 1, counts
        row = await session_row(services, made.uid)
        assert row is not None and row.status == "scheduled" and row.student_email == "noe@example.org"
        again = await work.sync_calcom(deps)
        assert again is not None and again["bookingsApplied"] == 0  # idempotent

    async def test_a_cancellation_in_calcom_without_webhook_is_mirrored(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator, deps: JobDeps
    ) -> None:
        await linked_mentor(api, simulator)
        created = (await book(api, booking())).json()["data"]
        simulator.cancel(created["uid"], "Changed my mind", by="lea@example.org")
        counts = await work.sync_calcom(deps)
        assert counts is not None and counts["bookingsApplied"] == 1, counts
        row = await session_row(services, created["uid"])
        assert row is not None and row.status == "cancelled" and row.cancelled_by == "student"
        stats = (await api.get("/api/v2/students/m1/stats", headers=SERVICE)).json()["data"]
        assert stats["cancelledSessions"] == 1 and stats["scheduledSessions"] == 0

    async def test_free_slot_count_is_refreshed(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator, deps: JobDeps
    ) -> None:
        user = await linked_mentor(api, simulator)
        await work.sync_calcom(deps)
        before = (await api.get("/api/v2/students/m1", headers=SERVICE)).json()["data"]
        simulator.add_busy(user, NOW, NOW + timedelta(days=8))  # the mentor's calendar fills up
        await work.sync_calcom(deps)
        after = (await api.get("/api/v2/students/m1", headers=SERVICE)).json()["data"]
        assert after["availableSlots7d"] == 0 < before["availableSlots7d"]

    async def test_an_edited_event_type_is_put_back_to_15_minutes(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator, deps: JobDeps
    ) -> None:
        await linked_mentor(api, simulator)
        event_type = simulator.store.event_types[await mentor_event_type(services)]
        event_type.length = 30  # the mentor edited it in Cal.com
        await work.sync_calcom(deps)
        assert simulator.store.event_types[event_type.id].length == 15
        calcom = (await api.get("/api/v2/students/m1", headers=ADMIN)).json()["data"]["calcom"]
        assert calcom["status"] == "linked"

    async def test_calcom_down_fails_the_run_and_is_logged(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator, deps: JobDeps
    ) -> None:
        await linked_mentor(api, simulator)
        simulator.fail_next(status=503, times=1000)
        assert await work.sync_calcom(deps) is None
        runs = (await api.get("/api/v2/platform/jobs", headers=ADMIN)).json()["data"]
        sync = next(run for run in runs if run["name"] == "sync_calcom")
        assert sync["failures"] == 1 and sync["runs"] == 1
        assert "unreachable" in sync["lastError"]


StartSync = Callable[[], SyncAtCalcom]


@pytest.fixture
def start_sync(deps: JobDeps, monkeypatch: pytest.MonkeyPatch) -> Callable[[], SyncAtCalcom]:
    """Starts a sync run that pauses at Cal.com."""
    return lambda: SyncAtCalcom(deps, monkeypatch)


class TestSyncHoldsNoLockAtCalcom:
    async def test_adopting_two_lost_bookings_while_the_webhook_of_one_is_applied_does_not_deadlock(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator, deps: JobDeps
    ) -> None:
        """Each adoption moves the mentor's counters. Had the sync adopted both in one transaction,
        it would hold the counters (moved by the first) while inserting the second, and the
        second's webhook, holding that booking, would wait for the counters: a deadlock."""
        await linked_mentor(api, simulator)
        event_type = await mentor_event_type(services)
        simulator.book(event_type, SLOT, name="Noé", email="noe@example.org")
        second = simulator.book(event_type, SLOT + timedelta(hours=1), name="Léa Martin", email="lea@example.org")
        simulator.advance(timedelta(minutes=3))  # both webhooks late; the sync finds both bookings
        event = parse_webhook(payloads.created(payloads.Booking(second.uid, second.id, event_type, second.start), NOW))
        facts = booking_facts(event)
        assert event.change is not None and facts is not None
        async with services.database.sessionmaker() as hooking:
            webhook = SessionLifecycle(hooking, services.cache, services.clock)
            assert await webhook.apply(event.change, facts) is Outcome.APPLIED  # not committed yet
            syncing = asyncio.ensure_future(work.sync_calcom(deps))
            for _ in range(250):  # until the sync waits for the webhook's transaction
                if syncing.done() or await waiting_on_a_lock(services):
                    break
                await asyncio.sleep(0.02)
            await commit(hooking)
        counts = await syncing
        assert counts is not None and counts["bookingsSeen"] == 2 and counts["bookingsApplied"] == 1, counts
        stats = (await api.get("/api/v2/students/m1/stats", headers=SERVICE)).json()["data"]
        assert stats["scheduledSessions"] == 2

    async def test_a_booking_of_the_mentor_does_not_wait_for_the_sync(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator, start_sync: StartSync
    ) -> None:
        await linked_mentor(api, simulator)
        sync = start_sync()
        try:
            await sync.arrived()
            booked = await finishes_without_waiting(services, book(api, booking()))
            assert booked.status_code == 201, booked.text
        finally:
            counts = await sync.resume()
        assert counts is not None and counts["mentors"] == 1 and counts["relinkedMeanwhile"] == 0, counts
        row = await session_row(services, booked.json()["data"]["uid"])
        assert row is not None and row.status == "scheduled"

    async def test_a_link_the_sync_repairs_while_adopting_bookings_is_its_own_change(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator, deps: JobDeps
    ) -> None:
        """The sync repairs the link and adopts a booking in the same pass: the link is written,
        the slots recounted, and nothing counts as a profile edit made meanwhile."""
        await linked_mentor(api, simulator)
        made = simulator.book(await mentor_event_type(services), SLOT, name="Noé", email="noe@example.org")
        simulator.advance(timedelta(minutes=3))
        async with services.database.session() as db:
            await db.execute(
                text("UPDATE thotis.student_profiles SET calcom_link_status = 'error' WHERE user_id = 'm1'")
            )
        counts = await work.sync_calcom(deps)
        assert counts is not None and counts["bookingsApplied"] == 1 and counts["relinkedMeanwhile"] == 0, counts
        async with services.database.session() as db:
            profile = await db.get(StudentProfile, "m1")
            assert profile is not None and profile.calcom_link_status == "linked"
            assert profile.slots_refreshed_at is not None and profile.available_slots_7d > 0
        assert await session_row(services, made.uid) is not None

    async def test_a_link_changed_meanwhile_is_kept_and_the_bookings_found_are_recorded(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator, start_sync: StartSync
    ) -> None:
        await linked_mentor(api, simulator)
        made = simulator.book(await mentor_event_type(services), SLOT, name="Noé", email="noe@example.org")
        simulator.advance(timedelta(minutes=3))  # its webhook lost; the sync adopts it
        async with services.database.session() as db:
            before = await db.get(StudentProfile, "m1")
            assert before is not None

        async def break_the_link() -> None:  # as a profile edit with another Cal.com key would
            async with services.database.session() as db:
                await db.execute(
                    text(
                        "UPDATE thotis.student_profiles SET calcom_link_status = 'error', "
                        "calcom_link_error = 'key changed' WHERE user_id = 'm1'"
                    )
                )

        sync = start_sync()
        try:
            await sync.arrived()
            await finishes_without_waiting(services, break_the_link())
        finally:
            counts = await sync.resume()
        assert counts is not None and counts["relinkedMeanwhile"] == 1 and counts["bookingsApplied"] == 1, counts
        async with services.database.session() as db:
            profile = await db.get(StudentProfile, "m1")
            assert profile is not None
            assert (profile.calcom_link_status, profile.calcom_link_error) == ("error", "key changed")
            # the count made for the old link is not written
            assert profile.slots_refreshed_at == before.slots_refreshed_at
        row = await session_row(services, made.uid)
        assert row is not None and row.status == "scheduled"
