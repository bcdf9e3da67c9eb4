"""The every-5-minutes sync (R11.5, R3.2): lost webhooks caught up, slots recounted, event types re-asserted."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select

from adapter.services import Services
from calcom_client.simulator import CalcomSimulator
from jobs import work
from jobs.deps import JobDeps
from tests.adapter.helpers import ADMIN, SERVICE
from tests.adapter.test_availability import linked_mentor
from tests.adapter.test_bookings import SLOT, book, booking
from tests.jobs.conftest import NOW
from thotis_ext.models import Session, StudentProfile


async def mentor_event_type(services: Services) -> int:
    async with services.database.session() as db:
        profile = await db.get(StudentProfile, "m1")
        assert profile is not None and profile.calcom_event_type_id is not None
        return profile.calcom_event_type_id


async def session_row(services: Services, uid: str) -> Session | None:
    async with services.database.session() as db:
        return await db.scalar(select(Session).where(Session.uid == uid))


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
