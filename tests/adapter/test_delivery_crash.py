"""Crash test of outbound delivery (R10.4): `thotis deliver` is killed (SIGKILL) at random points
while events flow (1,000 with `make test-full`) to a real local HTTP receiver, and restarted until nothing is pending.
Every event arrives; a duplicate only ever repeats an already-seen `webhook-id` with the same bytes.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from sqlalchemy import text
from standardwebhooks import Webhook

from adapter.services import Services
from tests.adapter.helpers import ADMIN
from webhooks_out.outbox import emit

ROOT = Path(__file__).resolve().parents[2]
#: `make test-full` sends 1,000 events and kills 5 times; `make test` the same flow, shorter.
FULL = os.environ.get("THOTIS_TEST_FULL") == "1"
EVENTS = 1000 if FULL else 300
#: Workers killed while events are still pending; the last one is left to finish.
KILLS = 5 if FULL else 3
DEADLINE_S = 150.0


class _Inbox:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: dict[str, list[tuple[dict[str, str], bytes]]] = defaultdict(list)


def _receiver(inbox: _Inbox) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            if len(body) != length:  # the sender died mid-request: nothing was delivered
                return
            headers = {k.lower(): v for k, v in self.headers.items()}
            with inbox.lock:
                inbox.received[headers["webhook-id"]].append((headers, body))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


async def _pending(services: Services) -> int:
    async with services.database.engine.connect() as connection:
        count = await connection.scalar(
            text("SELECT count(*) FROM thotis.webhook_deliveries WHERE status <> 'delivered'")
        )
        return int(count or 0)


def _worker(services: Services) -> subprocess.Popen[bytes]:
    settings = services.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("THOTIS_")} | {
        "THOTIS_ENV": "test",
        "THOTIS_DATABASE_URL": str(settings.database_url),
        "THOTIS_REDIS_URL": str(settings.redis_url),
        "THOTIS_WEBHOOK_DELIVERY_INTERVAL_SECONDS": "0.05",
        "THOTIS_WEBHOOK_DELIVERY_LEASE_SECONDS": "1",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "adapter.cli", "deliver"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


class TestDeliveryCrash:
    async def test_killed_workers_lose_nothing(self, api: httpx.AsyncClient, services: Services) -> None:
        inbox = _Inbox()
        server = _receiver(inbox)
        try:
            url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
            endpoint = (await api.post("/api/v2/webhooks", json={"url": url}, headers=ADMIN)).json()["data"]
            now = datetime.now(UTC)
            async with services.database.session() as session:
                ids = [
                    await emit(session, "booking.created", {"n": n}, subject=f"s{n % 97}", occurred_at=now)
                    for n in range(EVENTS)
                ]
            rng = random.Random(47)
            kills, deadline = 0, time.monotonic() + DEADLINE_S
            while await _pending(services) and time.monotonic() < deadline:
                worker = _worker(services)
                before = await _pending(services)
                while worker.poll() is None and time.monotonic() < deadline:
                    pending = await _pending(services)
                    if pending == 0:
                        break
                    if pending < before and kills < KILLS:  # it is sending: kill it somewhere in the flow
                        await asyncio.sleep(rng.uniform(0.0, 0.3))
                        break
                    await asyncio.sleep(0.02)
                if await _pending(services):
                    kills += 1
                worker.send_signal(signal.SIGKILL)
                worker.wait(timeout=10)
            assert await _pending(services) == 0, "deliveries still pending at the deadline"
            assert kills >= KILLS, f"only {kills} kill(s) happened mid-flow; the test proved little"
            assert set(inbox.received) == set(ids)  # every event arrived, nothing else did
            verifier = Webhook(endpoint["secret"])
            for message_id, copies in inbox.received.items():
                assert len({body for _, body in copies}) == 1  # a duplicate is the same message
                for headers, body in copies:
                    assert json.loads(body)["id"] == message_id
                    verifier.verify(body, headers)
        finally:
            server.shutdown()
