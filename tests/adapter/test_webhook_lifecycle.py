"""Cal.com's webhooks applied to the sessions (R11, properties 19 and 47), through the HTTP route.

Bodies are those of calcom-contract.md §8.6 (tests/webhooks_in/payloads.py), signed as Cal.com
signs them; the app's clock is pinned to NOW by the `simulator` fixture.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from adapter.services import Services
from calcom_client.simulator import CalcomSimulator
from core.clock import FixedClock
from core.database import commit
from tests.adapter.conftest import NOW
from tests.adapter.helpers import ADMIN, SERVICE, assert_error, inbox_deps
from tests.adapter.test_availability import linked_mentor
from tests.adapter.test_bookings import booking as booking_body
from tests.adapter.test_calcom_webhooks import URL, signed
from tests.conftest import reset
from tests.webhooks_in import payloads
from tests.webhooks_in.payloads import Booking
from thotis_ext.sessions.lifecycle import Outcome, SessionLifecycle
from webhooks_in import inbox
from webhooks_in.parsing import CHANGES, InboundWebhook, booking_facts, parse_webhook

COUNTERS = (
    "scheduled_sessions",
    "completed_sessions",
    "cancelled_sessions",
    "mentor_cancellations",
    "no_show_sessions",
)
_ids = itertools.count(1000)


async def post(api: httpx.AsyncClient, body: bytes) -> httpx.Response:
    response = await api.post(URL, content=body, headers=signed(body))
    assert response.status_code == 200, response.text
    return response


async def mentor_event_type(api: httpx.AsyncClient, sim: CalcomSimulator) -> tuple[int, str]:
    """Link mentor m1 to a fresh simulator user; its Thotis event type id and organiser e-mail."""
    user = await linked_mentor(api, sim)
    calcom = (await api.get("/api/v2/students/m1", headers=ADMIN)).json()["data"]["calcom"]
    return int(calcom["eventTypeId"]), user.email


def booking(event_type_id: int, start: datetime, organizer: str, uid: str | None = None) -> Booking:
    return Booking(uid or uuid.uuid4().hex[:22], next(_ids), event_type_id, start, organizer_email=organizer)


async def session_row(services: Services, uid: str) -> dict[str, Any] | None:
    async with services.database.engine.connect() as connection:
        row = (await connection.execute(text("SELECT * FROM thotis.sessions WHERE uid = :uid"), {"uid": uid})).first()
    return dict(row._mapping) if row else None


async def counters(services: Services) -> dict[str, int]:
    async with services.database.engine.connect() as connection:
        row = (
            await connection.execute(
                text(f"SELECT {', '.join(COUNTERS)} FROM thotis.student_profiles WHERE user_id='m1'")
            )
        ).one()
    return dict(row._mapping)


SLOT = NOW + timedelta(days=10, hours=1)


class TestWebhookLifecycle:
    async def test_a_booking_made_on_cal_com_is_adopted_and_a_foreign_one_ignored(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator
    ) -> None:
        event_type_id, organizer = await mentor_event_type(api, simulator)
        mine, foreign = booking(event_type_id, SLOT, organizer), booking(999_999, SLOT, organizer)
        await post(api, payloads.created(mine, NOW))
        await post(api, payloads.created(foreign, NOW))
        row = await session_row(services, mine.uid)
        assert row is not None and row["status"] == "scheduled" and row["mentor_id"] == "m1"
        assert row["student_email"] == "lea@example.org" and row["meet_url"].startswith("https://meet.google.com/")
        assert row["student_question"] == "Comment se passe la première année ?"
        assert await session_row(services, foreign.uid) is None
        assert (await counters(services))["scheduled_sessions"] == 1

    async def test_cancellation_records_who_and_moves_counters_once(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator
    ) -> None:
        event_type_id, organizer = await mentor_event_type(api, simulator)
        by_mentor, by_student = (booking(event_type_id, SLOT + timedelta(hours=h), organizer) for h in (0, 1))
        for b in (by_mentor, by_student):
            await post(api, payloads.created(b, NOW))
        cancel = payloads.cancelled(by_mentor, NOW, by=organizer)
        assert (await post(api, cancel)).json()["data"]["duplicate"] is False
        assert (await post(api, cancel)).json()["data"]["duplicate"] is True  # property 19
        await post(api, payloads.cancelled(by_student, NOW, by=by_student.attendee_email))
        assert (await session_row(services, by_mentor.uid) or {})["cancelled_by"] == "mentor"
        assert (await session_row(services, by_student.uid) or {})["cancelled_by"] == "student"
        assert await counters(services) == {
            "scheduled_sessions": 0,
            "completed_sessions": 0,
            "cancelled_sessions": 2,
            "mentor_cancellations": 1,
            "no_show_sessions": 0,
        }

    async def test_reschedule_links_both_sessions(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator
    ) -> None:
        event_type_id, organizer = await mentor_event_type(api, simulator)
        old = booking(event_type_id, SLOT, organizer)
        new = booking(event_type_id, SLOT + timedelta(days=1), organizer)
        await post(api, payloads.created(old, NOW))
        await post(api, payloads.rescheduled(new, old, NOW))
        old_row, new_row = await session_row(services, old.uid), await session_row(services, new.uid)
        assert old_row and old_row["status"] == "cancelled" and old_row["rescheduled_to_uid"] == new.uid
        assert new_row and new_row["status"] == "scheduled" and new_row["rescheduled_from_uid"] == old.uid
        assert (await counters(services))["scheduled_sessions"] == 1

    async def test_meeting_ended_in_both_shapes_completes_once(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator
    ) -> None:
        event_type_id, organizer = await mentor_event_type(api, simulator)
        flat, enveloped = (booking(event_type_id, SLOT + timedelta(hours=h), organizer) for h in (0, 1))
        for b in (flat, enveloped):
            await post(api, payloads.created(b, NOW))
        await post(api, payloads.meeting_ended(flat))
        await post(api, payloads.meeting_ended(flat))
        await post(api, payloads.meeting_ended(enveloped, flat=False, sent=NOW))
        for b in (flat, enveloped):
            assert (await session_row(services, b.uid) or {})["status"] == "completed"
        assert (await counters(services))["completed_sessions"] == 2

    async def test_a_no_show_that_overtakes_its_booking_waits_for_it(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator
    ) -> None:
        event_type_id, organizer = await mentor_event_type(api, simulator)
        b = booking(event_type_id, SLOT, organizer)
        await post(api, payloads.no_show(b, NOW))
        assert await session_row(services, b.uid) is None
        await post(api, payloads.created(b, NOW))
        await post(api, payloads.meeting_ended(b))
        await inbox.process_pending(inbox_deps(services))
        row = await session_row(services, b.uid)
        assert row and row["status"] == "no_show" and row["no_show_party"] == "attendee"
        assert (await counters(services))["no_show_sessions"] == 1

    async def test_stale_future_and_unknown_webhooks(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator
    ) -> None:
        event_type_id, organizer = await mentor_event_type(api, simulator)
        b = booking(event_type_id, SLOT, organizer)
        for sent in (NOW - timedelta(minutes=11), NOW + timedelta(minutes=2)):
            body = payloads.created(b, sent)
            assert_error(await api.post(URL, content=body, headers=signed(body)), 401, "STALE_WEBHOOK")
        unknown = payloads.envelope("SOMETHING_NEW", {"uid": b.uid}, NOW)
        assert (await post(api, unknown)).json()["data"]["triggerEvent"] == "SOMETHING_NEW"
        assert_error(await api.post(URL, content=b"[1,2]", headers=signed(b"[1,2]")), 400, "MALFORMED_WEBHOOK")
        assert await session_row(services, b.uid) is None


# Valid histories of one booking (what Cal.com can say, in the order it happens), as builders.
Step = Callable[[Booking, Booking], bytes]
HISTORIES: dict[str, list[Step]] = {
    "created": [lambda b, n: payloads.created(b, NOW)],
    "cancelled by student": [
        lambda b, n: payloads.created(b, NOW),
        lambda b, n: payloads.cancelled(b, NOW, by=b.attendee_email),
    ],
    "cancelled by mentor": [
        lambda b, n: payloads.created(b, NOW),
        lambda b, n: payloads.cancelled(b, NOW, by=b.organizer_email),
    ],
    "ended": [lambda b, n: payloads.created(b, NOW), lambda b, n: payloads.meeting_ended(b)],
    "no-show": [
        lambda b, n: payloads.created(b, NOW),
        lambda b, n: payloads.meeting_ended(b),
        lambda b, n: payloads.no_show(b, NOW),
    ],
    "rescheduled": [lambda b, n: payloads.created(b, NOW), lambda b, n: payloads.rescheduled(n, b, NOW)],
    "rescheduled then cancelled": [
        lambda b, n: payloads.created(b, NOW),
        lambda b, n: payloads.rescheduled(n, b, NOW),
        lambda b, n: payloads.cancelled(n, NOW, by=n.attendee_email),
    ],
    "rescheduled then ended": [
        lambda b, n: payloads.created(b, NOW),
        lambda b, n: payloads.rescheduled(n, b, NOW),
        lambda b, n: payloads.meeting_ended(n),
    ],
}
STATE = ("status", "cancelled_by", "no_show_party")


class TestProperty47:
    @given(
        name=st.sampled_from(sorted(HISTORIES)),
        order=st.randoms(use_true_random=False),
        duplicates=st.lists(st.integers(0, 2), max_size=3),
    )
    async def test_duplicates_and_any_order_end_as_one_in_order_delivery(
        self,
        api: httpx.AsyncClient,
        services: Services,
        simulator: CalcomSimulator,
        name: str,
        order: Any,
        duplicates: list[int],
    ) -> None:
        await reset(services)
        event_type_id, organizer = await mentor_event_type(api, simulator)
        steps = HISTORIES[name]
        deps = inbox_deps(services)

        async def deliver(day: int, sequence: list[int]) -> tuple[dict[str, int], list[tuple[Any, ...]]]:
            first = booking(event_type_id, NOW + timedelta(days=day, hours=1), organizer)
            moved = booking(event_type_id, NOW + timedelta(days=day + 1, hours=2), organizer)
            before = await counters(services)
            for index in sequence:
                await post(api, steps[index](first, moved))
            while await inbox.process_pending(deps):  # the periodic sweep, until nothing waits
                pass
            after = await counters(services)
            rows = [await session_row(services, b.uid) for b in (first, moved)]
            links = [
                (r["rescheduled_to_uid"] is not None, r["rescheduled_from_uid"] is not None) if r else None
                for r in rows
            ]
            state = [tuple(r[c] for c in STATE) if r else None for r in rows]
            return {k: after[k] - before[k] for k in COUNTERS}, [*state, *links]

        in_order = await deliver(10, list(range(len(steps))))
        shuffled = list(range(len(steps))) + [d for d in duplicates if d < len(steps)]
        order.shuffle(shuffled)
        assert await deliver(20, shuffled) == in_order, (name, shuffled)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
FIELDS = ["uid", "bookingUid", "bookingId", "eventTypeId", "startTime", "endTime", "attendees", "metadata",
          "organizer", "cancelledBy", "rescheduleUid", "rescheduleStartTime", "noShowHost", "id"]  # fmt: skip


class TestNoBadWebhookIsA5xx:
    @given(
        trigger=st.sampled_from([*sorted(CHANGES), "PING", "X"]),
        payload=st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=8),
        flat=st.booleans(),
    )  # fmt: skip
    async def test_any_signed_body_gets_a_2xx_or_4xx(
        self,
        api: httpx.AsyncClient,
        services: Services,
        simulator: CalcomSimulator,
        trigger: str,
        payload: dict[str, Any],
        flat: bool,
    ) -> None:
        body = (
            json.dumps({"triggerEvent": trigger, **payload}).encode()
            if flat
            else payloads.envelope(trigger, payload, NOW)
        )
        response = await api.post(URL, content=body, headers=signed(body))
        assert response.status_code < 500, response.text
        async with services.database.engine.connect() as connection:
            failed = await connection.scalar(
                text("SELECT count(*) FROM thotis.calcom_webhook_events WHERE last_error IS NOT NULL")
            )
        assert failed == 0


class TestOwnBookingRace:
    """Cal.com sends BOOKING_CREATED for a booking Thotis made before Thotis's request commits."""

    async def test_the_webhook_of_an_own_booking_waits_for_its_request(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator
    ) -> None:
        event_type_id, organizer = await mentor_event_type(api, simulator)
        own = booking(event_type_id, SLOT, organizer)
        body = payloads.created(own, NOW, metadata={"thotisSession": "true", "thotisMentorId": "m1"})
        await post(api, body)
        assert await session_row(services, own.uid) is None  # left to the booking request
        deps = inbox_deps(services)
        await inbox.process_pending(deps)
        assert await session_row(services, own.uid) is None
        services.clock = FixedClock(NOW + inbox.ADOPT_OWN_AFTER)  # the request never recorded it
        await inbox.process_pending(inbox_deps(services))
        row = await session_row(services, own.uid)
        assert row is not None and row["status"] == "scheduled"
        assert (await counters(services))["scheduled_sessions"] == 1

    async def test_a_booking_made_through_the_api_is_counted_once_with_its_webhook(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator
    ) -> None:
        event_type_id, organizer = await mentor_event_type(api, simulator)
        made = await api.post("/api/v2/bookings", json=booking_body(), headers=SERVICE)
        assert made.status_code == 201, made.text
        uid = made.json()["data"]["uid"]
        own = Booking(uid, next(_ids), event_type_id, SLOT, organizer_email=organizer)
        await post(api, payloads.created(own, NOW, metadata={"thotisSession": "true", "thotisMentorId": "m1"}))
        services.clock = FixedClock(NOW + inbox.ADOPT_OWN_AFTER)
        await inbox.process_pending(inbox_deps(services))
        assert (await counters(services))["scheduled_sessions"] == 1
        async with services.database.engine.connect() as connection:
            events = await connection.scalar(text("SELECT count(*) FROM thotis.webhook_messages"))
        assert events == 1  # booking.created, from the API request only


class TestConcurrentApplication:
    """Two webhooks of one booking applied at the same time, in two transactions (the route
    applies each as it arrives): the later state wins, as in one in-order delivery."""

    async def test_a_cancellation_racing_its_creation_still_cancels(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator
    ) -> None:
        event_type_id, organizer = await mentor_event_type(api, simulator)
        raced = booking(event_type_id, SLOT, organizer)
        created = parse_webhook(payloads.created(raced, NOW))
        cancelled = parse_webhook(payloads.cancelled(raced, NOW, by=raced.attendee_email))

        async def apply(session: AsyncSession, event: InboundWebhook) -> Outcome:
            facts = booking_facts(event)
            assert event.change is not None and facts is not None
            return await SessionLifecycle(session, services.cache, services.clock).apply(event.change, facts)

        async with services.database.sessionmaker() as creating, services.database.sessionmaker() as cancelling:
            assert await apply(creating, created) is Outcome.APPLIED  # inserted, not committed yet
            racing = asyncio.create_task(apply(cancelling, cancelled))  # sees no row, its insert waits
            await asyncio.sleep(0.3)
            assert not racing.done()
            await commit(creating)
            assert await racing is Outcome.APPLIED
            await commit(cancelling)
        row = await session_row(services, raced.uid)
        assert row is not None and row["status"] == "cancelled"
        assert (await counters(services))["scheduled_sessions"] == 0
        assert (await counters(services))["cancelled_sessions"] == 1
