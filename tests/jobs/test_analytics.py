"""Product analytics (seed task 21): events recorded with each change, exported to Mixpanel by a job."""

from __future__ import annotations

import json

import httpx
import respx
from pydantic import SecretStr
from sqlalchemy import func, select

from adapter.services import Services
from calcom_client.simulator import CalcomSimulator
from jobs import work
from jobs.deps import JobDeps
from tests.adapter.helpers import SERVICE
from tests.adapter.test_availability import linked_mentor
from tests.adapter.test_bookings import book, booking
from thotis_ext.analytics.models import AnalyticsEvent

TRACK = "https://api.mixpanel.com/track"


def with_token(deps: JobDeps) -> JobDeps:
    deps.settings = deps.settings.model_copy(update={"mixpanel_token": SecretStr("mp-token")})
    return deps


async def unsent(services: Services) -> int:
    async with services.database.session() as db:
        return int(await db.scalar(select(func.count()).where(AnalyticsEvent.sent_at.is_(None))) or 0)


class TestExport:
    async def test_lifecycle_events_reach_mixpanel_with_their_properties_and_no_personal_data(
        self, api: httpx.AsyncClient, simulator: CalcomSimulator, deps: JobDeps
    ) -> None:
        await linked_mentor(api, simulator)
        session = (await book(api, booking())).json()["data"]
        await api.request("DELETE", f"/api/v2/bookings/{session['uid']}", headers=SERVICE)
        with respx.mock(assert_all_called=True) as mock:
            route = mock.post(TRACK).respond(200, json={"status": 1, "error": None})
            counts = await work.export_analytics(with_token(deps))
        assert counts is not None and counts["sent"] == 3
        events = [event for call in route.calls for event in json.loads(call.request.content)]
        names = [event["event"] for event in events]
        assert names == ["profile_created", "booking_created", "booking_cancelled"]
        created = events[1]["properties"]
        assert created["token"] == "mp-token" and created["field"] == "LAW"
        assert created["university"] == "Sorbonne Université" and created["$insert_id"]
        assert created["distinct_id"] == f"session:{session['uid']}"
        everything = json.dumps(events)
        assert "lea@example.org" not in everything and "Léa" not in everything

    async def test_a_failing_mixpanel_keeps_events_for_the_next_run(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator, deps: JobDeps
    ) -> None:
        await linked_mentor(api, simulator)
        with respx.mock() as mock:
            mock.post(TRACK).respond(503)
            counts = await work.export_analytics(with_token(deps))
        assert counts is not None and counts["failed"] == 1 and await unsent(services) == 1
        with respx.mock() as mock:
            mock.post(TRACK).respond(200, json={"status": 1})
            await work.export_analytics(deps)
        assert await unsent(services) == 0

    async def test_a_refused_batch_is_dropped_not_retried_for_ever(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator, deps: JobDeps
    ) -> None:
        await linked_mentor(api, simulator)
        with respx.mock() as mock:
            mock.post(TRACK).respond(400, json={"status": 0, "error": "bad"})
            counts = await work.export_analytics(with_token(deps))
        assert counts is not None and counts["discarded"] == 1 and await unsent(services) == 0

    async def test_without_a_token_nothing_is_sent_and_events_are_discarded(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator, deps: JobDeps
    ) -> None:
        await linked_mentor(api, simulator)
        with respx.mock(assert_all_called=False) as mock:
            route = mock.post(TRACK).respond(200, json={"status": 1})
            counts = await work.export_analytics(deps)
        assert not route.called and counts is not None and counts["discarded"] == 1

    async def test_mixpanel_down_never_slows_or_fails_a_booking(
        self, api: httpx.AsyncClient, simulator: CalcomSimulator, deps: JobDeps
    ) -> None:
        await linked_mentor(api, simulator)
        with respx.mock() as mock:
            mock.post(TRACK).mock(side_effect=httpx.ConnectError("down"))
            assert (await book(api, booking())).status_code == 201
            counts = await work.export_analytics(with_token(deps))
        assert counts is not None and counts["failed"] >= 1


class TestRecordedEvents:
    async def test_a_whole_session_records_every_product_event_once(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator, deps: JobDeps
    ) -> None:
        from datetime import timedelta

        from tests.adapter.test_bookings import SLOT
        from tests.jobs.conftest import NOW
        from tests.jobs.test_email_jobs import move_clock

        await linked_mentor(api, simulator)
        session = (await book(api, booking(start=SLOT + timedelta(days=2)))).json()["data"]
        move_clock(services, deps, simulator, SLOT + timedelta(days=1, hours=2) - NOW)  # within a day of it
        await work.queue_reminders(deps)
        await work.send_emails(deps)
        move_clock(services, deps, simulator, timedelta(days=1))  # ended, past the grace period
        for _ in range(2):
            await work.auto_complete(deps)
            await work.send_emails(deps)
        link = await api.post(f"/api/v2/bookings/{session['uid']}/rating-link", headers=SERVICE)
        token = link.json()["data"]["token"]
        rated = await api.post(
            f"/api/v2/bookings/{session['uid']}/rating",
            json={"rating": 2},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert rated.status_code == 201, rated.text
        async with services.database.session() as db:
            names = sorted(await db.scalars(select(AnalyticsEvent.name)))
        assert names == sorted(
            ["profile_created", "booking_created", "reminder_sent", "reminder_sent", "booking_completed",
             "feedback_requested", "rating_submitted"]
        )  # fmt: skip
