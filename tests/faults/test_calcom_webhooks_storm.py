"""Fault 6: Cal.com webhooks duplicated and reordered at a high rate (SPEC §4: "Duplicates are
processed once. Events may arrive out of order"; property 47).

Signed bodies exactly as Cal.com sends them (tests/webhooks_in/payloads.py) for bookings made on
the mentors' Cal.com pages: some only created, some created then cancelled, some created then
rescheduled. Every body is sent three times and all of them are shuffled (a cancellation or a
reschedule often arrives before its creation) and posted concurrently to a real `thotis serve`.
Each is acknowledged (200, `duplicate: true` after the first), each booking ends with one row in
the state one in-order delivery gives, and no change produces two outbound events.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import random
import secrets
from collections import Counter
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from tests.faults.conftest import FULL, sidecar_stack
from tests.faults.stack import WEBHOOK_SECRET, PrivatePostgres, PrivateRedis, Report, Tally, eventually, mentor_ids
from tests.webhooks_in import payloads
from tests.webhooks_in.payloads import Booking

SCENARIO = "6. Duplicate and reordered Cal.com webhooks at high rate"
BOOKINGS_PER_KIND = 30 if FULL else 12
COPIES = 3
CONCURRENCY = 16
MENTORS = mentor_ids(10)


def _signed(body: bytes) -> dict[str, str]:
    digest = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Cal-Signature-256": digest, "Content-Type": "application/json"}


class TestWebhookStorm:
    async def test_duplicates_and_reordering_leave_one_effect_each(
        self, postgres: PrivatePostgres, redis_server: PrivateRedis, report: Report
    ) -> None:
        async with sidecar_stack(postgres, redis_server.url, "hooks", THOTIS_CALCOM_INBOX_SWEEP_SECONDS="0.5") as stack:
            database = await asyncpg.connect(stack.database_url.replace("+asyncpg", ""), timeout=10)
            try:
                event_types = {
                    r["user_id"]: r["calcom_event_type_id"]
                    for r in await database.fetch("SELECT user_id, calcom_event_type_id FROM thotis.student_profiles")
                }
                now = datetime.now(UTC)
                base = now.replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
                rng = random.Random(6)
                expected: dict[str, str] = {}
                pairs: list[tuple[str, str]] = []
                bodies: list[bytes] = []
                booking_id = 900_000_000 + rng.randrange(1_000_000)

                def booking(n: int) -> Booking:
                    nonlocal booking_id
                    booking_id += 1
                    mentor = MENTORS[n % len(MENTORS)]
                    start = base + timedelta(hours=n // len(MENTORS), minutes=15 * (n % 4))
                    return Booking(secrets.token_hex(11), booking_id, event_types[mentor], start)

                for n in range(BOOKINGS_PER_KIND):
                    kept = booking(3 * n)
                    bodies.append(payloads.created(kept, now))
                    expected[kept.uid] = "scheduled"
                    gone = booking(3 * n + 1)
                    bodies += [payloads.created(gone, now), payloads.cancelled(gone, now, by=gone.attendee_email)]
                    expected[gone.uid] = "cancelled"
                    old = booking(3 * n + 2)
                    new = Booking(
                        secrets.token_hex(11),
                        old.booking_id + 500_000,
                        old.event_type_id,
                        old.start + timedelta(days=1),
                    )
                    bodies += [payloads.created(old, now), payloads.rescheduled(new, old, now)]
                    expected[old.uid], expected[new.uid] = "cancelled", "scheduled"
                    pairs.append((old.uid, new.uid))
                storm = [body for body in bodies for _ in range(COPIES)]
                rng.shuffle(storm)

                tally = Tally()
                duplicates = Counter[bool]()
                queue: asyncio.Queue[bytes] = asyncio.Queue()
                for body in storm:
                    queue.put_nowait(body)
                async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:

                    async def sender() -> None:
                        while not queue.empty():
                            body = queue.get_nowait()
                            response = await client.post("/webhooks/calcom", content=body, headers=_signed(body))
                            tally.record(response, 0.0)
                            if response.status_code == 200:
                                duplicates[bool(response.json()["data"]["duplicate"])] += 1

                    started = asyncio.get_running_loop().time()
                    await asyncio.gather(*(sender() for _ in range(CONCURRENCY)))
                    send_s = asyncio.get_running_loop().time() - started

                async def all_applied() -> bool:
                    pending = await database.fetchval(
                        "SELECT count(*) FROM thotis.calcom_webhook_events WHERE status = 'pending'"
                    )
                    return pending == 0

                await eventually(all_applied, 60, "every stored webhook to be applied")
                applied_s = asyncio.get_running_loop().time() - started
                rows = {
                    r["uid"]: (r["status"], r["rescheduled_to_uid"])
                    for r in await database.fetch("SELECT uid, status, rescheduled_to_uid FROM thotis.sessions")
                }
                events = Counter(
                    (r["subject"], r["event_type"])
                    for r in await database.fetch("SELECT subject, event_type FROM thotis.webhook_messages")
                )
                inbox = Counter(
                    r["status"] for r in await database.fetch("SELECT status FROM thotis.calcom_webhook_events")
                )
                counters = {
                    r["user_id"]: r["scheduled_sessions"]
                    for r in await database.fetch("SELECT user_id, scheduled_sessions FROM thotis.student_profiles")
                }
                scheduled = Counter(
                    r["mentor_id"]
                    for r in await database.fetch("SELECT mentor_id FROM thotis.sessions WHERE status = 'scheduled'")
                )
            finally:
                await database.close()

        report.add(
            SCENARIO,
            f"{len(bodies)} distinct webhooks × {COPIES} copies, shuffled, {CONCURRENCY} at a time: "
            f"{tally.summary()}; {duplicates[False]} stored, {duplicates[True]} acknowledged as duplicates; "
            f"sent in {send_s:.1f} s, all applied after {applied_s:.1f} s",
        )
        report.add(
            SCENARIO,
            f"{len(expected)} bookings → {len(rows)} session rows; inbox {dict(inbox)}; outbound events "
            f"{dict(Counter(kind for _, kind in events.elements()))}",
        )
        assert dict(tally.answers) == {"200": len(storm)}, tally.summary()
        assert duplicates[False] == len(bodies) and duplicates[True] == len(storm) - len(bodies)
        assert {uid: status for uid, (status, _) in rows.items()} == expected
        assert all(rows[old][1] == new for old, new in pairs), "a reschedule lost its link"
        assert max(events.values(), default=0) == 1, [key for key, n in events.items() if n > 1]
        assert {m: counters[m] for m in MENTORS} == {m: scheduled.get(m, 0) for m in MENTORS}
