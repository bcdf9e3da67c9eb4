"""Fault 5: the delivery worker (`thotis deliver`) killed with SIGKILL at random points while it
delivers (SPEC §5: at-least-once from a durable outbox; nothing is lost when a process dies).

A real `thotis serve` (its own delivery off) adopts bookings from signed Cal.com webhooks, one
`booking.created` event each; `thotis deliver` processes send them to a receiver process that logs
what it accepted, and are killed mid-flow and restarted. Every event arrives; a copy only ever
repeats an already-seen `webhook-id` with the same bytes, and every copy verifies with a Standard
Webhooks verifier.
"""

from __future__ import annotations

import asyncio
import base64
import random
import secrets
import time
from collections import Counter

import httpx
from standardwebhooks import Webhook

from core.local_servers import clean_env, free_port
from tests.faults.conftest import FULL, sidecar_stack
from tests.faults.receiver import read_log
from tests.faults.stack import (
    ARTIFACTS,
    PrivatePostgres,
    PrivateRedis,
    Proc,
    Report,
    admin_headers,
    event_types,
    eventually,
    produce_bookings,
    python_module,
    scalar,
    thotis,
)

SCENARIO = "5. Delivery worker killed (SIGKILL) at random points while delivering"
EVENTS = 600 if FULL else 200
KILLS = 6 if FULL else 2
DEADLINE_S = 120.0
#: Deliveries one worker has in flight at most (DeliveryConfig.concurrency): what a kill may repeat.
IN_FLIGHT = 20


def start_receiver(name: str, log_name: str, delay_ms: int = 0) -> tuple[Proc, object]:
    port = free_port()
    log = ARTIFACTS / "faults" / f"{log_name}-{secrets.token_hex(3)}.jsonl"
    args = ["--port", str(port), "--log", str(log), "--delay-ms", str(delay_ms)]
    return python_module(name, "tests.faults.receiver", args, clean_env({}), port), log


class TestDeliveryWorkerKilled:
    async def test_killed_workers_lose_nothing_and_repeat_only_webhook_ids(
        self, postgres: PrivatePostgres, redis_server: PrivateRedis, report: Report
    ) -> None:
        async with sidecar_stack(
            postgres,
            redis_server.url,
            "deliver",
            THOTIS_WEBHOOK_DELIVERY_INTERVAL_SECONDS="0",
            THOTIS_CALCOM_INBOX_SWEEP_SECONDS="0.5",
        ) as stack:
            receiver, log = start_receiver("deliver-receiver", "deliver-received", delay_ms=100)
            stack.add(receiver)
            await asyncio.to_thread(receiver.start().wait_ready)
            worker_env = {
                **stack.env,
                "THOTIS_WEBHOOK_DELIVERY_INTERVAL_SECONDS": "0.05",
                "THOTIS_WEBHOOK_DELIVERY_LEASE_SECONDS": "1",
            }
            worker = stack.add(thotis("deliver-worker", ["deliver"], worker_env))
            async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
                created = await client.post(
                    "/api/v2/webhooks", json={"url": f"{receiver.base_url}/hooks"}, headers=admin_headers()
                )
                assert created.status_code == 201, created.text
                secret = created.json()["data"]["secret"]
                await produce_bookings(client, await event_types(stack.database_url), 0, EVENTS)

            async def queued() -> bool:
                return await scalar(stack.database_url, "SELECT count(*) FROM thotis.webhook_deliveries") == EVENTS

            await eventually(queued, 60, "every event to be in the outbox")

            async def pending() -> int:
                return int(
                    await scalar(
                        stack.database_url, "SELECT count(*) FROM thotis.webhook_deliveries WHERE status <> 'delivered'"
                    )
                )

            rng = random.Random(5)
            kills, deadline, started = 0, time.monotonic() + DEADLINE_S, time.monotonic()
            while await pending() and time.monotonic() < deadline:
                worker.start()
                before = await pending()
                while worker.alive and time.monotonic() < deadline:
                    left = await pending()
                    if left == 0:
                        break
                    if left < before and kills < KILLS:  # it is sending: kill it somewhere in the flow
                        await asyncio.sleep(rng.uniform(0.0, 0.15))
                        break
                    await asyncio.sleep(0.02)
                if await pending():
                    kills += 1
                worker.kill()
            flow_s = time.monotonic() - started
            assert await pending() == 0, "deliveries still pending at the deadline"
            messages = {str(m) for m in await _column(stack.database_url, "SELECT id FROM thotis.webhook_messages")}

        received = read_log(log)
        copies = Counter(record["id"] for record in received)
        bodies: dict[str, set[str]] = {}
        for record in received:
            bodies.setdefault(record["id"], set()).add(record["body"])
        verifier = Webhook(secret)
        for record in received:
            verifier.verify(
                base64.b64decode(record["body"]),
                {
                    "webhook-id": record["id"],
                    "webhook-timestamp": record["timestamp"],
                    "webhook-signature": record["signature"],
                },
            )
        duplicates = sum(n - 1 for n in copies.values())
        report.add(
            SCENARIO,
            f"{EVENTS} events produced; worker killed {kills}× mid-flow; {len(received)} deliveries received, "
            f"{len(copies)} distinct webhook-ids, {duplicates} repeated (same id, same bytes); "
            f"all delivered {flow_s:.1f} s after the first worker started",
        )
        assert kills >= KILLS, f"only {kills} kill(s) happened mid-flow; the test proved little"
        assert set(copies) == messages, "an event was lost, or an unknown one arrived"
        assert all(len(versions) == 1 for versions in bodies.values()), "a repeated id carried other bytes"
        assert duplicates <= kills * IN_FLIGHT, "more repeats than deliveries a killed worker had in flight"


async def _column(database_url: str, sql: str) -> list[object]:
    import asyncpg

    connection = await asyncpg.connect(database_url.replace("+asyncpg", ""), timeout=10)
    try:
        return [row[0] for row in await connection.fetch(sql)]
    finally:
        await connection.close()
