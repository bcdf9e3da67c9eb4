"""Webhook subscriptions and the webhooks the simulator sends, as Cal.com sends them."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest

from calcom_client.simulator import CalcomSimulator, User
from tests.calcom_client.simulator.support import (
    BOOKINGS,
    HOOK_URL,
    MONDAY,
    Received,
    Receiver,
    auth,
    booking_body,
    create_event_type,
    validating_client,
)

SECRET = "whsec-thotis"
ALL = ["BOOKING_CREATED", "BOOKING_CANCELLED", "BOOKING_RESCHEDULED", "BOOKING_NO_SHOW_UPDATED", "MEETING_ENDED"]
JS_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def expected_signature(received: Received, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), received.body, hashlib.sha256).hexdigest()


async def subscribe(api: httpx.AsyncClient, user: User, **fields: Any) -> dict[str, Any]:
    body = {"subscriberUrl": HOOK_URL, "triggers": ALL, "active": True, "secret": SECRET, **fields}
    response = await api.post("/v2/webhooks", headers=auth(user), json=body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


@pytest.fixture
async def event_type(api: httpx.AsyncClient, mentor: User) -> dict[str, Any]:
    return await create_event_type(api, mentor, description="Échange avec un étudiant")


async def book(api: httpx.AsyncClient, event_type_id: int, hour: int = 9) -> dict[str, Any]:
    body = booking_body(
        event_type_id, MONDAY.replace(hour=hour), metadata={"thotis": "1"}, bookingFieldsResponses={"notes": "Bonjour"}
    )
    response = await api.post("/v2/bookings", headers=BOOKINGS, json=body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


class TestSubscriptions:
    async def test_user_level_create_list_get_update_delete(self, api: httpx.AsyncClient, mentor: User) -> None:
        created = await subscribe(api, mentor)
        path = f"/v2/webhooks/{created['id']}"

        listed = await api.get("/v2/webhooks", headers=auth(mentor))
        updated = await api.patch(path, headers=auth(mentor), json={"active": False})
        deleted = await api.delete(path, headers=auth(mentor))
        gone = await api.get(path, headers=auth(mentor))

        assert re.fullmatch(r"[0-9a-f-]{36}", created["id"])
        assert created["payloadTemplate"] is None
        assert created["userId"] == mentor.id
        assert [w["id"] for w in listed.json()["data"]] == [created["id"]]
        assert updated.json()["data"]["active"] is False
        assert deleted.json()["data"]["id"] == created["id"]
        assert gone.status_code == 404

    async def test_one_subscription_per_url_and_user(self, api: httpx.AsyncClient, mentor: User) -> None:
        await subscribe(api, mentor)

        again = await api.post(
            "/v2/webhooks", headers=auth(mentor), json={"subscriberUrl": HOOK_URL, "triggers": ALL, "active": True}
        )

        assert again.status_code == 409
        assert again.json()["error"]["message"] == "Webhook with this subscriber url already exists for this user"

    async def test_rejects_unknown_triggers(self, api: httpx.AsyncClient, mentor: User) -> None:
        body = {"subscriberUrl": HOOK_URL, "triggers": ["BOOKING_COMPLETED"], "active": True}

        response = await api.post("/v2/webhooks", headers=auth(mentor), json=body)

        assert response.status_code == 400

    async def test_event_type_level_crud(
        self, api: httpx.AsyncClient, sim: CalcomSimulator, mentor: User, event_type: dict[str, Any]
    ) -> None:
        base = f"/v2/event-types/{event_type['id']}/webhooks"
        body = {"subscriberUrl": HOOK_URL, "triggers": ["BOOKING_CREATED"], "active": True}

        created = (await api.post(base, headers=auth(mentor), json=body)).json()["data"]
        got = await api.get(f"{base}/{created['id']}", headers=auth(mentor))
        listed = await api.get(base, headers=auth(mentor))
        stranger = await api.get(base, headers=auth(sim.add_user("bob", "bob@example.com")))
        cleared = await api.delete(base, headers=auth(mentor))

        assert created["eventTypeId"] == event_type["id"]
        assert got.json()["data"] == created
        assert len(listed.json()["data"]) == 1
        assert stranger.status_code == 403
        assert cleared.json()["data"] == "1 webhooks deleted"


class TestBookingWebhooks:
    async def test_booking_created_is_signed_over_the_raw_body(
        self, api: httpx.AsyncClient, sim: CalcomSimulator, receiver: Receiver, mentor: User, event_type: dict[str, Any]
    ) -> None:
        await subscribe(api, mentor)
        booking = await book(api, event_type["id"])
        await sim.drain_webhooks()

        [received] = receiver.of("BOOKING_CREATED")
        envelope = received.json()
        payload = envelope["payload"]
        assert received.path == "/webhooks/calcom"
        assert received.headers["content-type"] == "application/json"
        assert received.headers["x-cal-signature-256"] == expected_signature(received)
        assert "Zoé".encode() in received.body  # UTF-8 as JSON.stringify sends it, not \u escapes
        assert received.body == json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()
        assert set(envelope) == {"triggerEvent", "createdAt", "payload"}
        assert JS_ISO.match(envelope["createdAt"])
        assert payload["uid"] == booking["uid"]
        assert payload["bookingId"] == booking["id"]
        assert payload["type"] == "thotis"
        assert payload["startTime"] == "2050-09-05T09:00:00Z"
        assert payload["endTime"] == "2050-09-05T09:15:00Z"
        assert payload["location"] == "integrations:google:meet"
        assert payload["metadata"] == {"thotis": "1", "videoCallUrl": booking["location"]}
        assert payload["status"] == "ACCEPTED"
        assert payload["additionalNotes"] == "Bonjour"
        assert payload["organizer"]["email"] == "alice@example.com"
        assert payload["organizer"]["utcOffset"] == 120
        assert payload["attendees"][0]["email"] == "zoe@example.org"
        assert payload["responses"]["name"] == {"label": "your_name", "value": "Zoé Martin", "isHidden": False}
        assert payload["eventTypeId"] == event_type["id"]
        assert payload["length"] == 15
        assert payload["eventTitle"] == "Thotis session"
        assert payload["iCalUID"] == booking["icsUid"]
        assert "videoCallData" not in payload  # only dedicated video apps add it, not Google Meet

    async def test_booking_cancelled_has_no_meet_link(
        self, api: httpx.AsyncClient, sim: CalcomSimulator, receiver: Receiver, mentor: User, event_type: dict[str, Any]
    ) -> None:
        await subscribe(api, mentor)
        booking = await book(api, event_type["id"])
        await api.post(
            f"/v2/bookings/{booking['uid']}/cancel",
            headers=auth(mentor, **BOOKINGS),
            json={"cancellationReason": "Ill"},
        )
        await sim.drain_webhooks()

        [received] = receiver.of("BOOKING_CANCELLED")
        payload = received.json()["payload"]
        assert received.headers["x-cal-signature-256"] == expected_signature(received)
        assert payload["uid"] == booking["uid"]
        assert payload["status"] == "CANCELLED"
        assert payload["cancellationReason"] == "Ill"
        assert payload["cancelledBy"] == "alice@example.com"
        assert payload["startTime"] == "2050-09-05T09:00:00+00:00"
        assert payload["location"] == "integrations:google:meet"
        assert "metadata" not in payload
        assert "videoCallData" not in payload

    async def test_booking_rescheduled_names_the_old_booking(
        self, api: httpx.AsyncClient, sim: CalcomSimulator, receiver: Receiver, mentor: User, event_type: dict[str, Any]
    ) -> None:
        await subscribe(api, mentor)
        old = await book(api, event_type["id"])
        new = (
            await api.post(
                f"/v2/bookings/{old['uid']}/reschedule", headers=BOOKINGS, json={"start": "2050-09-05T11:00:00Z"}
            )
        ).json()["data"]
        await sim.drain_webhooks()

        [received] = receiver.of("BOOKING_RESCHEDULED")
        payload = received.json()["payload"]
        assert payload["uid"] == new["uid"]
        assert payload["bookingId"] == new["id"]
        assert payload["rescheduleUid"] == old["uid"]
        assert payload["rescheduleId"] == old["id"]
        assert payload["rescheduleStartTime"] == "2050-09-05T09:00:00Z"
        assert payload["startTime"] == "2050-09-05T11:00:00Z"
        assert payload["metadata"]["videoCallUrl"] == new["location"]
        assert payload["iCalSequence"] == 1
        assert receiver.of("BOOKING_CANCELLED") == []  # Cal.com sends none for the old booking

    async def test_no_show_update_on_mark_absent(
        self, api: httpx.AsyncClient, sim: CalcomSimulator, receiver: Receiver, mentor: User, event_type: dict[str, Any]
    ) -> None:
        await subscribe(api, mentor)
        booking = await book(api, event_type["id"])
        sim.now = MONDAY.replace(hour=9, minute=10)
        await api.post(
            f"/v2/bookings/{booking['uid']}/mark-absent",
            headers=auth(mentor, **BOOKINGS),
            json={"attendees": [{"email": "zoe@example.org", "absent": True}]},
        )
        await api.post(
            f"/v2/bookings/{booking['uid']}/mark-absent", headers=auth(mentor, **BOOKINGS), json={"host": True}
        )
        await sim.drain_webhooks()

        [received] = receiver.of("BOOKING_NO_SHOW_UPDATED")  # marking only the host sends nothing
        assert received.json()["payload"] == {
            "message": "zoe@example.org marked as no-show",
            "attendees": [{"email": "zoe@example.org", "noShow": True}],
            "bookingUid": booking["uid"],
            "bookingId": booking["id"],
        }

    async def test_without_secret_the_header_is_the_literal(
        self, api: httpx.AsyncClient, sim: CalcomSimulator, receiver: Receiver, mentor: User, event_type: dict[str, Any]
    ) -> None:
        await api.post(
            "/v2/webhooks", headers=auth(mentor), json={"subscriberUrl": HOOK_URL, "triggers": ALL, "active": True}
        )
        await book(api, event_type["id"])
        await sim.drain_webhooks()

        assert receiver.received[0].headers["x-cal-signature-256"] == "no-secret-provided"

    async def test_only_matching_active_subscriptions_receive(
        self, api: httpx.AsyncClient, sim: CalcomSimulator, receiver: Receiver, mentor: User, event_type: dict[str, Any]
    ) -> None:
        other = sim.add_user("bob", "bob@example.com")
        sim.subscribe("http://thotis.test/bob", ALL, user=other)
        sim.subscribe("http://thotis.test/inactive", ALL, user=mentor, active=False)
        sim.subscribe("http://thotis.test/cancel-only", ["BOOKING_CANCELLED"], user=mentor)
        sim.subscribe("http://thotis.test/event-type", ["BOOKING_CREATED"], event_type=event_type["id"], secret="et")
        await book(api, event_type["id"])
        await sim.drain_webhooks()

        [received] = receiver.received
        assert received.path == "/event-type"
        assert received.headers["x-cal-signature-256"] == expected_signature(received, "et")


class TestMeetingWebhooks:
    async def test_meeting_ended_is_the_flat_booking_row(
        self, api: httpx.AsyncClient, sim: CalcomSimulator, receiver: Receiver, mentor: User, event_type: dict[str, Any]
    ) -> None:
        await subscribe(api, mentor)
        booking = await book(api, event_type["id"])

        assert sim.end_meeting(booking["uid"]) == 1
        await sim.drain_webhooks()

        [received] = receiver.of("MEETING_ENDED")
        body = received.json()
        assert received.headers["x-cal-signature-256"] == expected_signature(received)
        assert "payload" not in body and "createdAt" not in body
        assert body["uid"] == booking["uid"]
        assert body["startTime"] == "2050-09-05T09:00:00.000Z"
        assert body["user"]["email"] == "alice@example.com"
        assert "videoCallUrl" not in body["metadata"]
        assert sim.end_meeting(booking["uid"]) == 0  # each job is sent once

    async def test_meeting_ended_in_the_later_envelope(
        self, api: httpx.AsyncClient, sim: CalcomSimulator, receiver: Receiver, mentor: User, event_type: dict[str, Any]
    ) -> None:
        sim.dispatcher.meeting_shape = "envelope"
        await subscribe(api, mentor)
        booking = await book(api, event_type["id"])
        sim.end_meeting(booking["uid"])
        await sim.drain_webhooks()

        body = receiver.of("MEETING_ENDED")[0].json()
        assert set(body) == {"triggerEvent", "createdAt", "payload"}
        assert body["payload"]["uid"] == booking["uid"]

    async def test_the_cron_sends_due_jobs_and_cancelling_drops_them(
        self, api: httpx.AsyncClient, sim: CalcomSimulator, receiver: Receiver, mentor: User, event_type: dict[str, Any]
    ) -> None:
        await subscribe(api, mentor)
        kept = await book(api, event_type["id"], 9)
        dropped = await book(api, event_type["id"], 10)
        await api.post(f"/v2/bookings/{dropped['uid']}/cancel", headers=BOOKINGS, json={})
        sim.advance(timedelta(hours=3, minutes=20))  # 09:20 UTC: the first meeting is over

        sent = sim.run_webhook_cron()
        await sim.drain_webhooks()

        assert sent == 1
        assert [r.json()["uid"] for r in receiver.of("MEETING_ENDED")] == [kept["uid"]]


class TestDelivery:
    async def test_a_failing_subscriber_is_tried_once_and_logged(
        self, api: httpx.AsyncClient, sim: CalcomSimulator, receiver: Receiver, mentor: User, event_type: dict[str, Any]
    ) -> None:
        receiver.status = 500
        sub = await subscribe(api, mentor)
        await book(api, event_type["id"])
        await sim.drain_webhooks()

        [delivery] = sim.deliveries
        assert len(receiver.received) == 1
        assert delivery.subscription_id == sub["id"]
        assert delivery.status_code == 500
        assert not delivery.ok

    async def test_a_network_error_is_logged_not_raised(self, mentor: User) -> None:
        def refuse(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("connection refused", request=request)

        async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as webhook_client:
            sim = CalcomSimulator(webhook_client=webhook_client)
            user = sim.add_user("alice", "alice@example.com")
            et = sim.add_event_type(user, title="T", slug="t", minimum_booking_notice=0)
            sim.subscribe(HOOK_URL, ALL, user=user)
            start = (sim.now + timedelta(days=7)).replace(hour=9, minute=0, second=0, microsecond=0)
            while start.weekday() >= 5:
                start += timedelta(days=1)

            sim.book(et, start, name="Zoé", email="zoe@example.org")
            await sim.drain_webhooks()

        assert sim.deliveries[0].error is not None
        assert "ConnectError" in sim.deliveries[0].error

    async def test_a_subscriber_calling_back_does_not_deadlock(
        self, sim: CalcomSimulator, receiver: Receiver, mentor: User, event_type: dict[str, Any]
    ) -> None:
        seen: list[int] = []

        async def read_back(received: Received) -> None:
            uid = received.json()["payload"]["uid"]
            async with validating_client(sim) as client:
                seen.append((await client.get(f"/v2/bookings/{uid}", headers=BOOKINGS)).status_code)

        receiver.on_receive = read_back
        sim.subscribe(HOOK_URL, ["BOOKING_CREATED"], user=mentor, secret=SECRET)
        async with validating_client(sim) as client:
            await book(client, event_type["id"])
        await sim.drain_webhooks()

        assert seen == [200]

    async def test_a_directly_made_booking_sends_the_same_webhook(
        self, sim: CalcomSimulator, receiver: Receiver, mentor: User, event_type: dict[str, Any]
    ) -> None:
        sim.subscribe(HOOK_URL, ["BOOKING_CREATED", "BOOKING_RESCHEDULED"], user=mentor, secret=SECRET)

        booking = sim.book(event_type["id"], MONDAY.replace(hour=9), name="Zoé", email="zoe@example.org", notes="Hi")
        moved = sim.reschedule(booking.uid, MONDAY.replace(hour=10), by="alice@example.com")
        await sim.drain_webhooks()

        assert [r.json()["triggerEvent"] for r in receiver.received] == ["BOOKING_CREATED", "BOOKING_RESCHEDULED"]
        assert receiver.of("BOOKING_RESCHEDULED")[0].json()["payload"]["rescheduledBy"] == "alice@example.com"
        assert moved.from_reschedule == booking.uid

    async def test_bookings_made_outside_an_event_loop_are_sent_at_the_next_drain(self) -> None:
        receiver = Receiver()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver)) as webhook_client:
            sim = CalcomSimulator(webhook_client=webhook_client)
            sim.now = MONDAY
            user = sim.add_user("alice", "alice@example.com")
            et = sim.add_event_type(user, title="T", slug="t")
            sim.subscribe(HOOK_URL, ["BOOKING_CREATED"], user=user)
            await asyncio.to_thread(sim.book, et, MONDAY.replace(hour=9), name="Zoé", email="zoe@example.org")

            assert sim.dispatcher.pending == 1
            await sim.drain_webhooks()

        assert len(receiver.of("BOOKING_CREATED")) == 1
