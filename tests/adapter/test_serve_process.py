"""`thotis serve` as a real process: JSON log lines on stderr without students' personal data, and a
graceful stop on SIGTERM (issue 7, production readiness)."""

from __future__ import annotations

import asyncio
import signal
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from adapter.calcom_wiring import connect_calcom
from adapter.demo import seed_database
from adapter.services import Services
from core.local_servers import free_port
from tests.adapter.helpers import SERVICE
from tests.conftest import WEBHOOK_SECRET, reset
from tests.processes import ThotisProcess, thotis
from thotis_ext.seed import sample_profiles

STUDENT_EMAIL = f"lea.leakcheck.{uuid.uuid4().hex[:6]}@example.org"
STUDENT_NAME = "Léa Leakcheckova"


def serve_env(services: Services, port: int, **extra: str) -> dict[str, str]:
    settings = services.settings
    return {
        "THOTIS_ENV": "test",
        "THOTIS_HOST": "127.0.0.1",
        "THOTIS_PORT": str(port),
        "THOTIS_DATABASE_URL": str(settings.database_url),
        "THOTIS_REDIS_URL": str(settings.redis_url),
        "THOTIS_REDIS_KEY_PREFIX": settings.redis_key_prefix,
        "THOTIS_DATABASE_POOL_SIZE": "3",
        "THOTIS_LOG_FORMAT": "json",
        "THOTIS_LOG_LEVEL": "INFO",
        "THOTIS_JOBS_ENABLED": "false",
        "THOTIS_WEBHOOK_DELIVERY_INTERVAL_SECONDS": "0",
        "THOTIS_CALCOM_INBOX_SWEEP_SECONDS": "0",
        "THOTIS_CALCOM_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "THOTIS_CACHE_LOCAL_ENTRIES": "0",
        **extra,
    }


def wait_ready(process: ThotisProcess, base: str) -> None:
    def ready() -> bool:
        try:
            return httpx.get(f"{base}/health/ready", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    process.wait_for(ready, 30, "/health/ready")


def parse_timestamp(value: str) -> datetime:
    stamp = datetime.fromisoformat(value)
    assert stamp.utcoffset() == timedelta(0), value
    return stamp


@pytest.fixture
async def clean(services: Services) -> AsyncIterator[Services]:
    await reset(services)
    yield services
    await reset(services)


class TestJsonLogs:
    async def test_a_booking_logs_json_lines_with_request_fields_and_no_student_data(self, clean: Services) -> None:
        sim_port, port = free_port(), free_port()
        calcom_url = f"http://127.0.0.1:{sim_port}"
        base = f"http://127.0.0.1:{port}"
        env = serve_env(clean, port, THOTIS_CALCOM_API_URL=calcom_url)
        simulator_args = ["simulator", "--port", str(sim_port), "--per-field", "1"]
        simulator_args += ["--webhook-url", f"{base}/webhooks/calcom"]
        with thotis(simulator_args, env) as simulator, thotis(["serve"], env) as server:
            simulator.wait_for(lambda: _answers(calcom_url), 30, "the simulator")
            settings = clean.settings.model_copy(update={"calcom_api_url": calcom_url})
            await seed_database(settings, str(settings.database_url), 1, connect_calcom(settings))
            wait_ready(server, base)
            mentor = sample_profiles(1)[0][0]
            async with httpx.AsyncClient(base_url=base, headers=SERVICE, timeout=10) as api:
                slots = await api.get(f"/api/v2/students/{mentor}/availability")
                assert slots.status_code == 200, slots.text
                body = _booking(mentor, slots.json()["data"][0]["start"])
                booked = await api.post("/api/v2/bookings", json=body, headers={"X-Request-ID": "booking-request-1"})
                assert booked.status_code == 201, booked.text
                unknown = await api.post("/api/v2/bookings", json={**body, "mentorId": "nobody"})
                assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "PROFILE_NOT_FOUND"
            # Cal.com's BOOKING_CREATED webhook (with the attendee's e-mail) reaches the sidecar too.
            server.wait_for(lambda: "/webhooks/calcom" in server.stderr(), 15, "Cal.com's webhook")
            assert server.terminate(15) == 0

        records = server.records()
        for record in records:
            parse_timestamp(record["timestamp"])
            assert record["level"] in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
            assert record["logger"] and isinstance(record["message"], str)
        assert any(r["logger"].startswith("uvicorn") for r in records), "uvicorn's own lines go through ours"
        access = [r for r in records if r["logger"] == "thotis.access"]
        booking = next(r for r in access if r.get("request_id") == "booking-request-1")
        assert (booking["method"], booking["path"], booking["status"]) == ("POST", "/api/v2/bookings", 201)
        assert booking["duration_ms"] > 0
        refused = next(r for r in access if r["status"] == 404)
        assert refused["error_code"] == "PROFILE_NOT_FOUND"
        hook = next(r for r in access if r["path"] == "/webhooks/calcom")
        assert hook["status"] < 300
        everything = server.stderr() + simulator.stderr()
        assert STUDENT_EMAIL not in everything and STUDENT_EMAIL.split("@")[0] not in everything
        assert "Leakcheckova" not in server.stderr()


class TestGracefulShutdown:
    async def test_a_request_in_flight_at_sigterm_completes_and_new_connections_are_refused(
        self, clean: Services, database_url: str
    ) -> None:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with thotis(["serve"], serve_env(clean, port, THOTIS_SHUTDOWN_TIMEOUT_SECONDS="15")) as server:
            wait_ready(server, base)
            locker = await _connect(database_url)
            try:
                # The test holds the profiles table: the request below waits in the database, in flight.
                transaction = locker.transaction()
                await transaction.start()
                await locker.execute("LOCK TABLE thotis.student_profiles IN ACCESS EXCLUSIVE MODE")
                async with httpx.AsyncClient(base_url=base, headers=SERVICE, timeout=30) as api:
                    slow = asyncio.create_task(api.get("/api/v2/students/someone"))
                    await _until(lambda: _waiting_on_lock(locker), 15)
                    server.process.send_signal(signal.SIGTERM)
                    server.wait_for(lambda: "Shutting down" in server.stderr(), 10, "the shutdown to begin")
                    await asyncio.sleep(0.3)
                    assert not _accepts(port), "a stopping server accepts no new connection"
                    assert not slow.done()
                    await transaction.rollback()
                    response = await slow
            finally:
                await locker.close()
            assert response.status_code == 404 and response.json()["error"]["code"] == "PROFILE_NOT_FOUND"
            assert server.process.wait(15) == 0, server.stderr()
        messages = [r["message"] for r in server.records()]
        assert any("Waiting for connections to close" in m for m in messages)
        assert not any("timeout graceful shutdown exceeded" in m for m in messages)


def _booking(mentor: str, start: str) -> dict[str, Any]:
    return {
        "mentorId": mentor,
        "start": start,
        "consent": True,
        "prospectiveStudent": {
            "name": STUDENT_NAME,
            "email": STUDENT_EMAIL,
            "timeZone": "Europe/Paris",
            "language": "fr",
            "question": "Comment se passe la première année ?",
        },
    }


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=1)
        return True
    except httpx.TransportError:
        return False


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


async def _connect(url: str) -> asyncpg.Connection:
    parsed = make_url(url)
    return await asyncpg.connect(
        user=parsed.username or "postgres",
        password=parsed.password,
        database=parsed.database,
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 5432,
    )


async def _waiting_on_lock(connection: asyncpg.Connection) -> bool:
    waiting = await connection.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
    )
    return bool(waiting)


async def _until(check: Any, seconds: float) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {seconds} s")
        await asyncio.sleep(0.05)
