"""POST /webhooks/calcom: the simulator's signed webhooks reach the sidecar and are verified."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import httpx
from litestar import Litestar
from sqlalchemy import text

from adapter.services import Services
from calcom_client.simulator import CalcomSimulator
from tests.adapter.conftest import NOW
from tests.adapter.helpers import assert_error, create_profile, inbox_deps
from tests.conftest import WEBHOOK_SECRET
from tests.factories import insert_sessions, valid_body
from webhooks_in import inbox

URL = "/webhooks/calcom"


def signed(body: bytes, secret: str = WEBHOOK_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Cal-Signature-256": digest, "Content-Type": "application/json"}


class TestCalcomWebhookRoute:
    async def test_accepts_a_correctly_signed_body(self, api: httpx.AsyncClient) -> None:
        sent = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        body = b'{"triggerEvent":"PING","createdAt":"%s","payload":{}}' % sent.encode()
        response = await api.post(URL, content=body, headers=signed(body))
        assert response.status_code == 200
        assert response.json()["data"] == {"received": True, "duplicate": False, "triggerEvent": "PING"}
        again = await api.post(URL, content=body, headers=signed(body))
        assert again.json()["data"] == {"received": True, "duplicate": True, "triggerEvent": "PING"}

    async def test_rejects_bad_signatures_with_401(self, api: httpx.AsyncClient) -> None:
        body = b'{"triggerEvent":"PING"}'
        for headers in (
            {},
            {"X-Cal-Signature-256": "no-secret-provided"},
            {"X-Cal-Signature-256": "zz"},
            signed(body, "wrong-secret"),
            signed(body + b" "),
        ):
            assert_error(await api.post(URL, content=body, headers=headers), 401, "INVALID_SIGNATURE")

    async def test_rejects_a_body_over_1_mib_with_413(self, api: httpx.AsyncClient) -> None:
        body = b'{"x":"' + b"a" * (1024 * 1024) + b'"}'
        assert_error(await api.post(URL, content=body, headers=signed(body)), 413, "PAYLOAD_TOO_LARGE")

    async def test_signed_non_json_is_400(self, api: httpx.AsyncClient) -> None:
        body = b"not json"
        assert_error(await api.post(URL, content=body, headers=signed(body)), 400, "MALFORMED_JSON")

    async def test_simulator_webhooks_reach_the_route_and_verify(
        self, api: httpx.AsyncClient, app: Litestar, simulator: CalcomSimulator
    ) -> None:
        """A second simulator, on the app's pinned clock (`simulator` pins both to NOW)."""
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sidecar") as to_sidecar:
            sim = CalcomSimulator(webhook_client=to_sidecar, clock=lambda: NOW)
            user = sim.add_user("hook-mentor", "hook@example.org")
            event_type = sim.add_event_type(user, title="Thotis", slug="thotis-15", slot_interval=15)
            sim.subscribe(
                "http://sidecar/webhooks/calcom",
                ["BOOKING_CREATED", "BOOKING_CANCELLED"],
                user=user,
                secret=WEBHOOK_SECRET,
            )
            booked = sim.book(event_type, NOW.replace(hour=10) + timedelta(days=1), name="Léa", email="lea@example.org")
            sim.cancel(booked.uid, "test")
            await sim.drain_webhooks()
            deliveries = sim.deliveries
            await sim.aclose()
        assert [d.trigger for d in deliveries] == ["BOOKING_CREATED", "BOOKING_CANCELLED"]
        assert [d.status_code for d in deliveries] == [200, 200], [d.error for d in deliveries]


def _created(
    uid: str, event_type_id: int, trigger: str = "BOOKING_CREATED", metadata: dict[str, str] | None = None
) -> bytes:
    sent = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    start = (datetime.now(UTC) + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    payload = {
        "uid": uid, "bookingId": 987_654, "eventTypeId": event_type_id, "status": "ACCEPTED",
        "startTime": start.isoformat().replace("+00:00", "Z"),
        "endTime": (start + timedelta(minutes=15)).isoformat().replace("+00:00", "Z"),
        "attendees": [{"email": "someone@example.org", "name": "Someone", "timeZone": "UTC"}],
        "organizer": {"email": "host@example.org"}, "metadata": metadata or {},
    }  # fmt: skip
    return json.dumps({"triggerEvent": trigger, "createdAt": sent, "payload": payload}).encode()


async def _stored(services: Services, uid: str) -> tuple[str, str | None, int]:
    """Status, outcome, and how many times it was applied (0: decided when stored)."""
    async with services.database.session() as session:
        row = (
            await session.execute(
                text("SELECT status, outcome, attempts FROM thotis.calcom_webhook_events WHERE booking_uid = :uid"),
                {"uid": uid},
            )
        ).one()
    return row.status, row.outcome, row.attempts


async def _settled(services: Services, uid: str) -> tuple[str, str | None, int]:
    """The stored event once the background application, if any, is done."""
    for _ in range(100):
        if (stored := await _stored(services, uid))[0] != "pending":
            return stored
        await asyncio.sleep(0.02)
    return await _stored(services, uid)


class TestForeignBookings:
    """Bookings of event types that are no mentor's are stored already ignored: no second transaction."""

    _stored = staticmethod(_stored)

    async def test_a_booking_of_another_event_type_is_stored_ignored(
        self, api: httpx.AsyncClient, services: Services
    ) -> None:
        body = _created("foreign-booking-1", 424_242)
        response = await api.post(URL, content=body, headers=signed(body))
        assert response.status_code == 200 and response.json()["data"]["duplicate"] is False
        assert await self._stored(services, "foreign-booking-1") == ("ignored", "ignored", 0)

    async def test_a_change_to_a_known_session_is_applied_whatever_its_event_type(
        self, api: httpx.AsyncClient, services: Services
    ) -> None:
        """A mentor relinked to a new event type: cancellations of older bookings still apply."""
        await create_profile(api, "m1", valid_body())
        (uid,) = await insert_sessions(services.database.engine, "m1", [(NOW + timedelta(days=2), "scheduled")])
        body = _created(uid, 555_555, trigger="BOOKING_CANCELLED")
        assert (await api.post(URL, content=body, headers=signed(body))).status_code == 200
        assert await _settled(services, uid) == ("processed", "applied", 1)  # applied after the answer


class TestKnownCreations:
    """Cal.com's BOOKING_CREATED for a booking whose session Thotis holds (every booking Thotis
    makes) changes nothing, and is stored already done: no second transaction."""

    async def _held(self, api: httpx.AsyncClient, services: Services) -> str:
        """The uid of a session Thotis holds, of a mentor m1."""
        await create_profile(api, "m1", valid_body())
        (uid,) = await insert_sessions(services.database.engine, "m1", [(NOW + timedelta(days=2), "scheduled")])
        return uid

    async def _meet_url(self, services: Services, uid: str) -> str | None:
        async with services.database.session() as session:
            return (
                await session.execute(text("SELECT meet_url FROM thotis.sessions WHERE uid = :uid"), {"uid": uid})
            ).scalar_one()

    async def test_a_creation_of_a_held_session_is_stored_unchanged(
        self, api: httpx.AsyncClient, services: Services
    ) -> None:
        uid = await self._held(api, services)
        body = _created(uid, 555_555, metadata={"thotisSession": "true"})
        response = await api.post(URL, content=body, headers=signed(body))
        assert response.json()["data"] == {"received": True, "duplicate": False, "triggerEvent": "BOOKING_CREATED"}
        assert await _stored(services, uid) == ("processed", "unchanged", 0)
        assert await self._meet_url(services, uid) is None

    async def test_a_creation_that_brings_the_first_meet_link_is_applied(
        self, api: httpx.AsyncClient, services: Services
    ) -> None:
        uid = await self._held(api, services)
        link = "https://meet.google.com/abc-defg-hij"
        body = _created(uid, 555_555, metadata={"videoCallUrl": link})
        assert (await api.post(URL, content=body, headers=signed(body))).status_code == 200
        assert await _settled(services, uid) == ("processed", "applied", 1)
        assert await self._meet_url(services, uid) == link

    async def test_a_creation_that_repeats_the_meet_link_is_stored_unchanged(
        self, api: httpx.AsyncClient, services: Services
    ) -> None:
        uid = await self._held(api, services)
        link = "https://meet.google.com/abc-defg-hij"
        async with services.database.engine.begin() as connection:
            await connection.execute(text("UPDATE thotis.sessions SET meet_url = :url"), {"url": link})
        body = _created(uid, 555_555, metadata={"videoCallUrl": "https://meet.google.com/other-link"})
        assert (await api.post(URL, content=body, headers=signed(body))).status_code == 200
        assert await _stored(services, uid) == ("processed", "unchanged", 0)
        assert await self._meet_url(services, uid) == link  # the first link stays, as when applied

    async def _mentor_with_event_type(self, api: httpx.AsyncClient, services: Services) -> None:
        await create_profile(api, "m1", valid_body())
        async with services.database.engine.begin() as connection:
            await connection.execute(text("UPDATE thotis.student_profiles SET calcom_event_type_id = 555555"))

    async def test_a_creation_thotis_made_but_has_not_recorded_yet_waits_for_the_sweep(
        self, api: httpx.AsyncClient, services: Services
    ) -> None:
        """The booking request has not committed its row: the event is stored pending and left to
        the sweep (applying it now would only defer it), which finds the row once it is committed."""
        await self._mentor_with_event_type(api, services)
        link = "https://meet.google.com/abc-defg-hij"
        body = _created("not-yet-recorded", 555_555, metadata={"thotisSession": "true", "videoCallUrl": link})
        assert (await api.post(URL, content=body, headers=signed(body))).status_code == 200
        # The ASGI transport answers once the background work is done: none was tried.
        assert await _stored(services, "not-yet-recorded") == ("pending", None, 0)
        await inbox.process_pending(inbox_deps(services))
        assert await _stored(services, "not-yet-recorded") == ("pending", "deferred", 1)  # still not committed

        (uid,) = await insert_sessions(services.database.engine, "m1", [(NOW + timedelta(days=2), "scheduled")])
        async with services.database.engine.begin() as connection:  # the booking request commits its row
            await connection.execute(
                text("UPDATE thotis.sessions SET uid = 'not-yet-recorded' WHERE uid = :uid"), {"uid": uid}
            )
        await inbox.process_pending(inbox_deps(services))
        assert await _stored(services, "not-yet-recorded") == ("processed", "applied", 2)
        assert await self._meet_url(services, "not-yet-recorded") == link

    async def test_a_creation_made_in_calcom_directly_is_applied_at_once(
        self, api: httpx.AsyncClient, services: Services
    ) -> None:
        """No session row, but not Thotis's own booking: adopted right after the answer, as before."""
        await self._mentor_with_event_type(api, services)
        body = _created("made-in-calcom", 555_555)
        assert (await api.post(URL, content=body, headers=signed(body))).status_code == 200
        assert await _stored(services, "made-in-calcom") == ("processed", "applied", 1)
