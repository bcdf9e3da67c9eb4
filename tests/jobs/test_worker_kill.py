"""Killing the worker mid-run and restarting it loses nothing and sends nothing twice beyond the one
email a kill can catch between the server's acceptance and its mark (issue 5's "Done when")."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import text

from adapter.services import Services
from tests.adapter.helpers import create_profile
from tests.factories import insert_sessions, valid_body
from tests.jobs.conftest import Inbox, SmtpServer, eventually
from thotis_ext.sessions import timed

SESSIONS = 20  # × 2 recipients = 40 reminders
KILLS = 3


def start(command: str, services: Services, smtp: SmtpServer) -> subprocess.Popen[bytes]:
    settings = services.settings
    env = {
        **os.environ,
        "THOTIS_ENV": "test",
        "THOTIS_DATABASE_URL": str(settings.database_url),
        "THOTIS_REDIS_URL": str(settings.redis_url),
        "THOTIS_REDIS_KEY_PREFIX": settings.redis_key_prefix,
        "THOTIS_SMTP_URL": smtp.url,
        "THOTIS_JOBS_SWEEP_SECONDS": "1",
        "THOTIS_EMAIL_LEASE_SECONDS": "5",
        "THOTIS_WEBHOOK_DELIVERY_INTERVAL_SECONDS": "0",
        "THOTIS_CALCOM_INBOX_SWEEP_SECONDS": "0",
        "THOTIS_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "adapter.cli", command], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


async def sent(services: Services) -> int:
    async with services.database.engine.connect() as connection:
        return int(await connection.scalar(text("SELECT count(*) FROM thotis.email_outbox WHERE status = 'sent'")) or 0)


class TestWorkerKilled:
    async def test_killed_worker_restarted_loses_nothing(
        self, api: httpx.AsyncClient, services: Services, smtp_server: SmtpServer, inbox: Inbox
    ) -> None:
        await create_profile(api, "m1", valid_body())
        soon = datetime.now(UTC) + timedelta(hours=3)
        await insert_sessions(
            services.database.engine, "m1", [(soon + timedelta(minutes=15 * i), "scheduled") for i in range(SESSIONS)]
        )
        async with services.database.session() as db:
            assert await timed.queue_reminders(db, datetime.now(UTC)) == SESSIONS
        inbox.delay = 0.05  # a slow server: kills land mid-batch
        scheduler = start("scheduler", services, smtp_server)
        try:
            for _ in range(KILLS):
                worker = start("worker", services, smtp_server)
                before = len(inbox.messages)
                await eventually(lambda before=before: len(inbox.messages) >= before + 3, 30)  # type: ignore[misc]
                worker.send_signal(signal.SIGKILL)
                worker.wait(10)
            worker = start("worker", services, smtp_server)

            async def all_sent() -> bool:
                return await sent(services) == 2 * SESSIONS

            await eventually(all_sent, 60)
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(15) == 0, worker.stderr.read().decode() if worker.stderr else ""
        finally:
            scheduler.send_signal(signal.SIGTERM)
            scheduler.wait(15)
        assert await sent(services) == 2 * SESSIONS
        async with services.database.engine.connect() as connection:
            expected = set(await connection.scalars(text("SELECT message_id FROM thotis.email_outbox")))
        received = Counter(str(m["Message-ID"]) for m in inbox.messages)
        assert set(received) == expected  # nothing lost
        duplicates = sum(count - 1 for count in received.values())
        assert duplicates <= KILLS, received  # at most the email in flight at each kill, with its own id
        print(f"\nworker killed {KILLS}×: {len(expected)} emails, {duplicates} re-sent with the same Message-ID")
