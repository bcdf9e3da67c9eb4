"""Fault 4: the Thotis receiver down for a long time, then back (SPEC §5, R10.4: retries after 1 s,
2 s and 4 s, then a slower schedule, then dead-lettered and redeliverable by admins).

The slow schedule is compressed with THOTIS_WEBHOOK_RETRY_SCHEDULE_SECONDS (here "1": a delivery
is dead after 5 attempts, ≈ 8 s, instead of ≈ a day). A real `thotis serve` delivers; the receiver
process is stopped; events produced early in the outage die, events produced later are still being
retried when the receiver comes back and arrive on their own; the dead ones are redelivered
through the admin API (same `webhook-id`). In the end every event has arrived, the attempts
followed the documented schedule, and no id carried two different bodies.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import time
from collections import Counter

import asyncpg
import httpx

from tests.faults.conftest import FULL, sidecar_stack
from tests.faults.receiver import read_log
from tests.faults.stack import (
    PrivatePostgres,
    PrivateRedis,
    Report,
    admin_headers,
    event_types,
    eventually,
    produce_bookings,
)
from tests.faults.test_delivery_kill import start_receiver

SCENARIO = "4. Thotis receiver down for a long (compressed) period, then back"
SLOW_SCHEDULE = "1"
#: Delays between attempts of a delivery that never succeeds: 1, 2, 4 s, then the slow schedule.
NOMINAL_GAPS = (1.0, 2.0, 4.0, 1.0)
PER_BATCH = 40 if FULL else 15


class TestReceiverOutage:
    async def test_events_survive_the_outage_dead_ones_are_redelivered(
        self, postgres: PrivatePostgres, redis_server: PrivateRedis, report: Report
    ) -> None:
        async with sidecar_stack(
            postgres,
            redis_server.url,
            "outage",
            THOTIS_WEBHOOK_DELIVERY_INTERVAL_SECONDS="0.2",
            THOTIS_WEBHOOK_RETRY_SCHEDULE_SECONDS=SLOW_SCHEDULE,
            THOTIS_CALCOM_INBOX_SWEEP_SECONDS="0.5",
        ) as stack:
            receiver, log = start_receiver("outage-receiver", "outage-received")
            stack.add(receiver)
            await asyncio.to_thread(receiver.start().wait_ready)
            database = await asyncpg.connect(stack.database_url.replace("+asyncpg", ""), timeout=10)
            try:
                async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
                    created = await client.post(
                        "/api/v2/webhooks", json={"url": f"{receiver.base_url}/hooks"}, headers=admin_headers()
                    )
                    assert created.status_code == 201, created.text
                    endpoint = created.json()["data"]["id"]
                    types = await event_types(stack.database_url)

                    async def statuses() -> Counter[str]:
                        rows = await database.fetch("SELECT status FROM thotis.webhook_deliveries")
                        return Counter(r["status"] for r in rows)

                    before = await produce_bookings(client, types, 0, PER_BATCH)  # receiver up
                    await eventually(
                        lambda: _equals(statuses(), {"delivered": PER_BATCH}), 30, "delivery while the receiver is up"
                    )
                    receiver.stop()
                    down_at = time.monotonic()
                    early = await produce_bookings(client, types, 1000, PER_BATCH)  # will die
                    await asyncio.sleep(5.0)
                    late = await produce_bookings(client, types, 2000, PER_BATCH)  # still retrying at the end

                    async def early_dead() -> bool:
                        return (await statuses())["dead"] == PER_BATCH

                    await eventually(early_dead, 60, "the early events to be dead-lettered")
                    await asyncio.to_thread(receiver.start().wait_ready)
                    outage_s = time.monotonic() - down_at
                    counts_at_return = await statuses()
                    after = await produce_bookings(client, types, 3000, PER_BATCH)  # receiver back

                    async def live_delivered() -> bool:
                        return (await statuses())["delivered"] == 3 * PER_BATCH

                    await eventually(live_delivered, 60, "the late and new events to arrive on their own")
                    dead = [
                        r["id"]
                        for r in await database.fetch("SELECT id FROM thotis.webhook_deliveries WHERE status = 'dead'")
                    ]
                    gaps = await _attempt_gaps(database, dead)
                    for delivery_id in dead:
                        again = await client.post(
                            f"/api/v2/webhooks/{endpoint}/deliveries/{delivery_id}/redeliver", headers=admin_headers()
                        )
                        assert again.status_code == 200, again.text
                    await eventually(
                        lambda: _equals(statuses(), {"delivered": 4 * PER_BATCH}), 30, "the redeliveries to arrive"
                    )
                    attempts = await database.fetchval("SELECT count(*) FROM thotis.webhook_attempts")
                    messages = {r["id"] for r in await database.fetch("SELECT id FROM thotis.webhook_messages")}
            finally:
                await database.close()

        received = read_log(log)
        copies = Counter(record["id"] for record in received)
        bodies: dict[str, set[str]] = {}
        for record in received:
            bodies.setdefault(record["id"], set()).add(base64.b64decode(record["body"]).decode())
        report.add(
            SCENARIO,
            f"{4 * PER_BATCH} events ({PER_BATCH} before, {2 * PER_BATCH} during, {PER_BATCH} after a "
            f"{outage_s:.1f} s outage); at the receiver's return: {dict(counts_at_return)}; "
            f"{len(dead)} dead-lettered then redelivered by the admin API; {attempts} attempts in all; "
            f"{len(received)} deliveries received, {len(copies)} distinct webhook-ids",
        )
        report.add(
            SCENARIO,
            "gaps between the attempts of a dead delivery (s, nominal "
            f"{'/'.join(f'{g:g}' for g in NOMINAL_GAPS)}): "
            + "; ".join("/".join(f"{g:.1f}" for g in row) for row in gaps[:3]),
        )
        assert len(dead) == PER_BATCH
        assert set(copies) == messages, "an event never arrived"
        assert len(set(before + early + late + after)) == len(messages) == 4 * PER_BATCH
        assert all(len(versions) == 1 for versions in bodies.values())
        for row in gaps:
            assert len(row) == len(NOMINAL_GAPS), row
            for gap, nominal in zip(row, NOMINAL_GAPS, strict=True):
                # ±20 % jitter on the slow schedule; the loop looks every 0.2 s on a loaded machine.
                assert nominal * 0.8 - 0.05 <= gap <= nominal * 1.2 + 1.0, row


async def _equals(counts: object, expected: dict[str, int]) -> bool:
    return dict(await counts) == expected  # type: ignore[misc]


async def _attempt_gaps(database: asyncpg.Connection, delivery_ids: list[int]) -> list[list[float]]:
    rows = await database.fetch(
        "SELECT delivery_id, attempted_at FROM thotis.webhook_attempts WHERE delivery_id = ANY($1::bigint[]) "
        "ORDER BY delivery_id, attempted_at",
        delivery_ids,
    )
    times: dict[int, list[float]] = {}
    for row in rows:
        times.setdefault(row["delivery_id"], []).append(row["attempted_at"].timestamp())
    return [[b - a for a, b in itertools.pairwise(ts)] for ts in times.values()]
