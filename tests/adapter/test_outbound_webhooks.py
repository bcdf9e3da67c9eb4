"""Signed Thotis events out (R10; properties 27, 28, 29): endpoints, outbox, delivery, retries.

The receiver is a small ASGI app reached through httpx's ASGI transport: real HTTP requests and
answers, no network. Every received event is verified with the `standardwebhooks` package.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import httpx
import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from adapter.services import Services
from calcom_client.simulator import CalcomSimulator
from core.clock import FixedClock
from tests.adapter.conftest import NOW
from tests.adapter.helpers import ADMIN, SERVICE, assert_error
from tests.adapter.test_availability import linked_mentor
from tests.adapter.test_bookings import SLOT, book, booking
from tests.adapter.test_calcom_webhooks import URL as CALCOM_URL
from tests.adapter.test_calcom_webhooks import signed
from tests.calcom_client.simulator.support import Receiver
from tests.webhooks_in import payloads
from webhooks_out import signing
from webhooks_out.delivery import FAST_RETRIES, SLOW_RETRIES, DeliveryConfig, deliver_due, retry_delay
from webhooks_out.outbox import emit

HOOKS = "/api/v2/webhooks"
MAC_FULL_DIGITS = 32 * 8 // 6


async def add_endpoint(api: httpx.AsyncClient, events: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"url": "http://127.0.0.1:9/hooks", "description": "website"}
    if events is not None:
        body["events"] = events
    response = await api.post(HOOKS, json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def deliver(services: Services, receiver: Receiver, now: datetime, config: DeliveryConfig | None = None) -> int:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver), base_url="http://receiver") as http:
        return await deliver_due(services.database, http, services.box, now, config)


async def messages(services: Services) -> list[tuple[str, str | None, int]]:
    async with services.database.engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT event_type, subject, sequence FROM thotis.webhook_messages ORDER BY created_at, sequence")
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def delivery_rows(services: Services) -> list[dict[str, Any]]:
    async with services.database.engine.connect() as connection:
        rows = await connection.execute(text("SELECT * FROM thotis.webhook_deliveries ORDER BY id"))
        return [dict(row._mapping) for row in rows]


class TestEndpointsApi:
    async def test_create_shows_the_secret_once_and_list_never(
        self, api: httpx.AsyncClient, services: Services
    ) -> None:
        created = await add_endpoint(api, ["booking.created"])
        assert created["secret"].startswith("whsec_") and created["id"].startswith("ep_")
        listed = (await api.get(HOOKS, headers=ADMIN)).json()["data"]
        assert [e["id"] for e in listed] == [created["id"]] and "secret" not in listed[0]
        assert created["secret"] not in (await api.get(HOOKS, headers=ADMIN)).text
        assert (await api.delete(f"{HOOKS}/{created['id']}", headers=ADMIN)).status_code == 200
        assert_error(await api.delete(f"{HOOKS}/{created['id']}", headers=ADMIN), 404, "WEBHOOK_NOT_FOUND")

    @pytest.mark.parametrize(
        ("url", "code"),
        [
            ("ftp://example.org/x", "INVALID_WEBHOOK_URL"),
            ("http://user:pw@127.0.0.1/x", "INVALID_WEBHOOK_URL"),
            ("http://10.1.2.3/hook", "INVALID_WEBHOOK_URL"),
            ("http://169.254.169.254/latest/meta-data", "INVALID_WEBHOOK_URL"),
            ("http://[fe80::1]/hook", "INVALID_WEBHOOK_URL"),
            ("http://192.168.1.10:8080/hook", "INVALID_WEBHOOK_URL"),
            ("http://0.0.0.0/hook", "INVALID_WEBHOOK_URL"),
            ("http://127.0.0.1:99999/hook", "INVALID_WEBHOOK_URL"),
            ("not a url", "INVALID_WEBHOOK_URL"),
        ],
    )
    async def test_urls_that_must_not_be_called_are_refused(self, api: httpx.AsyncClient, url: str, code: str) -> None:
        assert_error(await api.post(HOOKS, json={"url": url}, headers=ADMIN), 400, code)

    async def test_unknown_events_and_other_roles_are_refused(self, api: httpx.AsyncClient) -> None:
        body = {"url": "http://127.0.0.1:9/h", "events": ["booking.exploded"]}
        assert_error(await api.post(HOOKS, json=body, headers=ADMIN), 400, "UNKNOWN_EVENT_TYPE")
        assert_error(await api.get(HOOKS, headers=SERVICE), 403, "ROLE_NOT_ALLOWED")


class TestDelivery:
    async def test_property_27_28_each_change_one_verifiable_event(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator
    ) -> None:
        endpoint = await add_endpoint(api)
        await linked_mentor(api, simulator)
        first = (await book(api, booking())).json()["data"]
        moved = await api.patch(
            f"/api/v2/bookings/{first['uid']}/reschedule",
            json={"start": (SLOT + timedelta(hours=1)).isoformat()},
            headers=SERVICE,
        )
        new_uid = moved.json()["data"]["uid"]
        assert (await api.delete(f"/api/v2/bookings/{new_uid}", headers=SERVICE)).status_code == 200
        # Cal.com's own webhooks for these changes arrive too: they must not add events.
        await simulator.drain_webhooks()
        assert [m[0] for m in await messages(services)] == [
            "booking.created",
            "booking.rescheduled",
            "booking.cancelled",
        ]
        receiver = Receiver()
        assert await deliver(services, receiver, NOW) == 3
        verifier = Webhook(endpoint["secret"])
        for item in receiver.received:
            verified = verifier.verify(item.body, item.headers)
            assert verified["id"] == item.headers["webhook-id"]
        types = [event["type"] for event in receiver.payloads()]
        assert sorted(types) == ["booking.cancelled", "booking.created", "booking.rescheduled"]
        rescheduled = next(e for e in receiver.payloads() if e["type"] == "booking.rescheduled")
        assert rescheduled["data"]["previousUid"] == first["uid"] and rescheduled["data"]["sessionUid"] == new_uid
        assert await deliver(services, receiver, NOW + timedelta(hours=1)) == 0  # delivered once

    async def test_an_event_is_queued_for_each_enabled_endpoint_that_wants_it(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator
    ) -> None:
        everything = await add_endpoint(api)
        await add_endpoint(api, ["rating.submitted"])
        disabled = await add_endpoint(api, ["booking.created"])
        async with services.database.engine.begin() as connection:
            await connection.execute(
                text("UPDATE thotis.webhook_endpoints SET disabled_at = now() WHERE id = :id"), {"id": disabled["id"]}
            )
        await linked_mentor(api, simulator)
        assert (await book(api, booking())).status_code == 201
        rows = await delivery_rows(services)
        assert [(row["endpoint_id"], row["status"], row["attempts"]) for row in rows] == [
            (everything["id"], "pending", 0)
        ]

    @given(position=st.integers(0, 10_000), part=st.sampled_from(["body", "id", "timestamp", "signature"]))
    def test_property_27_any_tampering_fails_verification(self, position: int, part: str) -> None:
        secret = signing.new_secret()
        body = b'{"id":"msg_1","type":"booking.created","data":{"sessionUid":"abc","sequence":1}}'
        now = int(time.time())
        headers = signing.headers([secret], "msg_1", now, body)
        Webhook(secret).verify(body, headers)  # untouched: verifies
        if part == "body":
            index = position % len(body)
            body = body[:index] + bytes([body[index] ^ 0x01]) + body[index + 1 :]
        elif part == "id":
            headers["webhook-id"] += "x"
        elif part == "timestamp":
            headers["webhook-timestamp"] = str(now + 1 + position % 100)
        else:
            raw = headers["webhook-signature"]  # "v1," + base64 of a 32-byte MAC
            # Only the first 42 digits carry 6 bits of the MAC each: the 43rd carries 4 and 2 unused
            # ones (A and B there can decode to the same MAC), the 44th is padding.
            index = 3 + position % MAC_FULL_DIGITS
            swapped = "A" if raw[index] != "A" else "B"
            headers["webhook-signature"] = raw[:index] + swapped + raw[index + 1 :]
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(body, headers)

    async def test_known_answer_signature(self) -> None:
        """The example of the Standard Webhooks specification (its test vector)."""
        secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        body = b'{"test": 2432232314}'
        expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        assert signing.sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == expected

    async def test_webhooks_from_cal_com_emit_once_even_when_repeated(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator
    ) -> None:
        await add_endpoint(api)
        await linked_mentor(api, simulator)
        calcom = (await api.get("/api/v2/students/m1", headers=ADMIN)).json()["data"]["calcom"]
        made = payloads.Booking("calcomPageBooking0001", 777, int(calcom["eventTypeId"]), SLOT)
        for body in (payloads.created(made, NOW), payloads.created(made, NOW), payloads.meeting_ended(made)):
            await api.post(CALCOM_URL, content=body, headers=signed(body))
        assert await messages(services) == [
            ("booking.created", made.uid, 1),
            ("booking.completed", made.uid, 2),
        ]

    async def test_ratings_emit_submitted_and_flagged(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator
    ) -> None:
        await add_endpoint(api, ["rating.submitted", "rating.flagged"])
        await linked_mentor(api, simulator)
        uid = (await book(api, booking())).json()["data"]["uid"]
        services.clock = FixedClock(SLOT + timedelta(minutes=30))
        await api.post(f"/api/v2/bookings/{uid}/rating", json={"rating": 2, "feedback": "Bof"}, headers=SERVICE)
        receiver = Receiver()
        await deliver(services, receiver, SLOT + timedelta(minutes=30))
        assert sorted(e["type"] for e in receiver.payloads()) == ["rating.flagged", "rating.submitted"]
        assert (await delivery_rows(services))[0]["status"] == "delivered"
        assert len(await delivery_rows(services)) == 2  # booking.created was not wanted by this endpoint


class TestOutboxNumbering:
    async def test_events_of_one_subject_number_on_within_and_across_transactions(self, services: Services) -> None:
        """The write batch sends a transaction's events in one statement, whose parts share one
        snapshot: the numbering must still count the subject's events ahead in the batch."""
        async with services.database.session() as session:
            ids = [
                await emit(session, "booking.created", {"sessionUid": "s1"}, subject="s1", occurred_at=NOW),
                await emit(session, "booking.cancelled", {"sessionUid": "s1"}, subject="s1", occurred_at=NOW),
                await emit(session, "booking.created", {}, subject="s2", occurred_at=NOW),
                await emit(session, "rating.submitted", {}, subject=None, occurred_at=NOW),
                await emit(session, "rating.flagged", {}, subject=None, occurred_at=NOW),
            ]
        async with services.database.session() as session:
            ids.append(await emit(session, "booking.completed", {"sessionUid": "s1"}, subject="s1", occurred_at=NOW))
        async with services.database.engine.connect() as connection:
            query = text("SELECT id, subject, sequence, payload FROM thotis.webhook_messages WHERE id = ANY(:ids)")
            rows = (await connection.execute(query, {"ids": ids})).all()
        numbered = sorted((row.subject or "", row.sequence) for row in rows)
        assert numbered == [("", 1), ("", 1), ("s1", 1), ("s1", 2), ("s1", 3), ("s2", 1)]
        for row in rows:
            # The stored bytes are the encoding of the event with its number: what is signed and sent.
            event = msgspec.json.decode(row.payload)
            assert event["id"] == row.id and event["data"]["sequence"] == row.sequence
            assert row.payload == msgspec.json.encode(event)
        assert msgspec.json.decode(next(r.payload for r in rows if r.id == ids[0]))["data"] == {
            "sessionUid": "s1",
            "sequence": 1,
        }

    async def test_a_sequence_in_the_data_is_refused(self, services: Services) -> None:
        async with services.database.session() as session:
            with pytest.raises(ValueError, match="sequence"):
                await emit(session, "booking.created", {"sequence": 7}, subject="s1", occurred_at=NOW)


class TestRetries:
    async def test_property_29_retried_1_2_4_s_then_slowly_then_dead_and_redeliverable(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator
    ) -> None:
        endpoint = await add_endpoint(api)
        await linked_mentor(api, simulator)
        await book(api, booking())
        failing = Receiver(status=lambda n: 500)
        now = NOW
        waits = []
        for _ in range(len(FAST_RETRIES) + len(SLOW_RETRIES) + 1):
            assert await deliver(services, failing, now) == 1
            [row] = await delivery_rows(services)
            if row["status"] == "dead":
                break
            waits.append((row["next_attempt_at"] - now).total_seconds())
            assert await deliver(services, failing, row["next_attempt_at"] - timedelta(milliseconds=1)) == 0
            now = row["next_attempt_at"]
        assert row["status"] == "dead" and row["attempts"] == len(FAST_RETRIES) + len(SLOW_RETRIES) + 1
        assert waits[:3] == [1.0, 2.0, 4.0]
        for wait, planned in zip(waits[3:], SLOW_RETRIES, strict=True):
            assert 0.8 * planned <= wait <= 1.2 * planned
        ids = {item.headers["webhook-id"] for item in failing.received}
        assert len(ids) == 1  # the same webhook-id on every attempt
        log = (await api.get(f"{HOOKS}/{endpoint['id']}/deliveries", headers=ADMIN)).json()["data"]
        assert len(log[0]["attempts"]) == row["attempts"] and log[0]["attempts"][0]["statusCode"] == 500
        again = await api.post(f"{HOOKS}/{endpoint['id']}/deliveries/{row['id']}/redeliver", headers=ADMIN)
        assert again.status_code == 200
        ok = Receiver()
        assert await deliver(services, ok, NOW) == 1
        assert ok.received[0].headers["webhook-id"] in ids
        assert (await delivery_rows(services))[0]["status"] == "delivered"

    async def test_410_disables_the_endpoint_and_retry_after_is_honoured(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator
    ) -> None:
        await add_endpoint(api)
        await linked_mentor(api, simulator)
        await book(api, booking())
        busy = Receiver(status=lambda n: 503, reply_headers={"Retry-After": "120"})
        await deliver(services, busy, NOW)
        [row] = await delivery_rows(services)
        assert (row["next_attempt_at"] - NOW).total_seconds() == 120
        gone = Receiver(status=lambda n: 410)
        await deliver(services, gone, row["next_attempt_at"])
        listed = (await api.get(HOOKS, headers=ADMIN)).json()["data"]
        assert listed[0]["disabled"] is True and "410" in listed[0]["disabledReason"]
        await book(api, booking(SLOT + timedelta(minutes=15)))
        assert len(await delivery_rows(services)) == 1  # a disabled endpoint gets nothing new

    async def test_redirects_are_not_followed(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator
    ) -> None:
        await add_endpoint(api)
        await linked_mentor(api, simulator)
        await book(api, booking())
        moved = Receiver(status=lambda n: 302, reply_headers={"Location": "http://169.254.169.254/"})
        await deliver(services, moved, NOW)
        [row] = await delivery_rows(services)
        assert len(moved.received) == 1 and row["status"] == "pending" and row["last_status_code"] == 302

    async def test_rotation_signs_with_both_secrets_for_a_while(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator
    ) -> None:
        endpoint = await add_endpoint(api)
        rotated = (await api.post(f"{HOOKS}/{endpoint['id']}/rotate-secret", headers=ADMIN)).json()["data"]
        assert rotated["secret"] != endpoint["secret"]
        await linked_mentor(api, simulator)
        await book(api, booking())
        receiver = Receiver()
        await deliver(services, receiver, NOW)
        item = receiver.received[0]
        assert len(item.headers["webhook-signature"].split(" ")) == 2
        for secret in (endpoint["secret"], rotated["secret"]):
            Webhook(secret).verify(item.body, item.headers)

    async def test_the_slow_schedule_is_configurable(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator
    ) -> None:
        await add_endpoint(api)
        await linked_mentor(api, simulator)
        await book(api, booking())
        config, failing, now, waits = DeliveryConfig(slow_retries=(10, 20)), Receiver(status=lambda n: 503), NOW, []
        for _ in range(6):
            await deliver(services, failing, now, config)
            [row] = await delivery_rows(services)
            if row["status"] == "dead":
                break
            waits.append((row["next_attempt_at"] - now).total_seconds())
            now = row["next_attempt_at"]
        assert row["status"] == "dead" and row["attempts"] == 6 and waits[:3] == [1.0, 2.0, 4.0]
        assert 8 <= waits[3] <= 12 and 16 <= waits[4] <= 24

    def test_retry_schedule_gives_up_after_the_slow_schedule(self) -> None:
        total = sum(FAST_RETRIES + SLOW_RETRIES)
        assert 20 * 3600 <= total <= 28 * 3600  # about a day
        assert retry_delay(len(FAST_RETRIES) + len(SLOW_RETRIES) + 1) is None
        assert retry_delay(0) is None
