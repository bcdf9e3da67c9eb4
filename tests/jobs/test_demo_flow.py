"""Issue 5's "Done when", as a person would see it: `thotis demo` with a compressed clock; bookings
through the API; the demo mailbox receives the confirmations in French and English, then the
24-hour reminders and the feedback requests, each exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
import redis

from adapter.mailbox_view import summaries
from core.local_servers import free_port
from core.settings import DEMO_JWT_SECRET
from core.tokens import Role, mint_token
from tests import servers
from tests.jobs.conftest import eventually

SPEED = 7200  # a second of real time is two hours of service time


@pytest.fixture
def demo(admin_database_url: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    database_url = servers.create_database(admin_database_url, prefix="thotis_demo")
    port = free_port()
    prefix = f"thotis-demo-{uuid.uuid4().hex[:8]}:"
    env = {
        **os.environ,
        "THOTIS_ENV": "demo",
        "THOTIS_PORT": str(port),
        "THOTIS_DATABASE_URL": database_url,
        "THOTIS_REDIS_URL": servers.redis_url(),
        "THOTIS_REDIS_KEY_PREFIX": prefix,
        "THOTIS_DATA_DIR": str(tmp_path),
        "THOTIS_CLOCK_SPEED": str(SPEED),
        "THOTIS_LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "adapter.cli", "demo", "--per-field", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield f"http://127.0.0.1:{port}", tmp_path / "mailbox"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(20)
        finally:
            if process.poll() is None:
                process.kill()
            servers.drop_database(admin_database_url, database_url)
            with redis.Redis.from_url(servers.redis_url()) as client:  # its jobs stream has no TTL
                for key in client.scan_iter(match=prefix + "*"):
                    client.delete(key)


def kinds(mailbox: Path) -> Counter[tuple[str, str]]:
    """(kind, recipient address) of every email in the mailbox."""
    return Counter((s.kind, s.to.rsplit("<", 1)[-1].rstrip(">")) for s in summaries(mailbox))


def count(mailbox: Path, kind: str) -> int:
    return sum(n for (k, _), n in kinds(mailbox).items() if k == kind)


class TestDemoFlow:
    async def test_confirmation_then_reminder_then_feedback_each_exactly_once(self, demo: tuple[str, Path]) -> None:
        base, mailbox = demo
        headers = {"Authorization": f"Bearer {mint_token(DEMO_JWT_SECRET, 'thotis', role=Role.SERVICE, sub='t')}"}
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:

            async def ready() -> bool:
                try:
                    return (await client.get("/health/ready")).status_code == 200
                except httpx.HTTPError:
                    return False

            await eventually(ready, 60)
            slots = (
                await client.get("/api/v2/students/demo-mentor-01/availability?timeZone=UTC", headers=headers)
            ).json()["data"]
            first = datetime.fromisoformat(slots[0]["start"])
            # More than a day ahead (so a reminder is due), and a few service hours more to book.
            later = [s["start"] for s in slots if datetime.fromisoformat(s["start"]) >= first + timedelta(hours=30)]
            students = [("Léa", "lea@example.org", "fr", "Europe/Paris"), ("Sam", "sam@example.org", "en", "UTC")]
            for (name, email, language, zone), start in zip(students, later, strict=False):
                student = {"name": name, "email": email, "language": language, "timeZone": zone}
                body = {"mentorId": "demo-mentor-01", "start": start, "consent": True, "prospectiveStudent": student}
                response = await client.post("/api/v2/bookings", json=body, headers=headers)
                assert response.status_code == 201, response.text

        await eventually(lambda: count(mailbox, "confirmation") == 4, 15)
        subjects = {s.to.rsplit("<", 1)[-1].rstrip(">"): s.subject for s in summaries(mailbox)}
        assert subjects["lea@example.org"].startswith("Session Thotis confirmée")  # French
        assert subjects["sam@example.org"].startswith("Thotis session confirmed")  # English

        await eventually(lambda: count(mailbox, "feedback_request") == 2, 90)
        await asyncio.sleep(3)  # several more sweeps: nothing may arrive twice
        final = kinds(mailbox)
        mentor = next(to for kind, to in final if kind == "confirmation" and to.endswith("mentors.example.org"))
        assert final == Counter(
            {
                ("confirmation", "lea@example.org"): 1,
                ("confirmation", "sam@example.org"): 1,
                ("confirmation", mentor): 2,
                ("reminder", "lea@example.org"): 1,
                ("reminder", "sam@example.org"): 1,
                ("reminder", mentor): 2,
                ("feedback_request", "lea@example.org"): 1,
                ("feedback_request", "sam@example.org"): 1,
            }
        )
