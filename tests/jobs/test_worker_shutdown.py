"""`thotis worker` and `thotis scheduler` as real processes: SIGTERM mid-job finishes (or releases)
the work with nothing lost, JSON log lines name the job and hold no student e-mail, and the
heartbeat `thotis health` reads follows the process's life (issue 7)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import text

from adapter.services import Services
from core.clock import FixedClock
from jobs import work
from jobs.deps import JobDeps
from jobs.heartbeat import check_heartbeat
from jobs.runtime import TaskiqSender, build_broker
from tests.adapter.helpers import create_profile
from tests.factories import STUDENT_EMAIL, insert_sessions, valid_body
from tests.jobs.conftest import Inbox, SmtpServer, eventually
from tests.processes import thotis
from thotis_ext.sessions import timed

SESSIONS = 10  # × 2 recipients = 20 reminders


def jobs_env(services: Services, smtp: SmtpServer, heartbeats: Path, **extra: str) -> dict[str, str]:
    settings = services.settings
    return {
        "THOTIS_ENV": "test",
        "THOTIS_DATABASE_URL": str(settings.database_url),
        "THOTIS_REDIS_URL": str(settings.redis_url),
        "THOTIS_REDIS_KEY_PREFIX": settings.redis_key_prefix,
        "THOTIS_DATABASE_POOL_SIZE": "3",
        "THOTIS_SMTP_URL": smtp.url,
        "THOTIS_EMAIL_LEASE_SECONDS": "5",
        "THOTIS_WEBHOOK_DELIVERY_INTERVAL_SECONDS": "0",
        "THOTIS_CALCOM_INBOX_SWEEP_SECONDS": "0",
        "THOTIS_LOG_FORMAT": "json",
        "THOTIS_LOG_LEVEL": "INFO",
        "THOTIS_HEARTBEAT_DIR": str(heartbeats),
        "THOTIS_HEARTBEAT_SECONDS": "0.2",
        **extra,
    }


def health(role: str, env: dict[str, str]) -> int:
    command = [sys.executable, "-m", "adapter.cli", "health", role]
    done = subprocess.run(command, env={**os.environ, **env}, capture_output=True, timeout=30)
    return done.returncode


async def queue_reminders(api: httpx.AsyncClient, services: Services) -> None:
    await create_profile(api, "m1", valid_body())
    soon = datetime.now(UTC) + timedelta(hours=3)
    await insert_sessions(
        services.database.engine, "m1", [(soon + timedelta(minutes=15 * i), "scheduled") for i in range(SESSIONS)]
    )
    async with services.database.session() as db:
        assert await timed.queue_reminders(db, datetime.now(UTC)) == SESSIONS


async def kick_send_emails(services: Services) -> None:
    """What the scheduler would do: one `send_emails` message on the stream."""
    broker = build_broker(services.settings)
    await broker.startup()
    try:
        await TaskiqSender(broker).send("send_emails", {})
    finally:
        await broker.shutdown()


async def statuses(services: Services) -> Counter[str]:
    async with services.database.engine.connect() as connection:
        rows = await connection.execute(text("SELECT status FROM thotis.email_outbox"))
        return Counter(status for (status,) in rows)


class TestWorkerShutdown:
    async def test_sigterm_mid_job_finishes_the_job_then_exits_0(
        self, api: httpx.AsyncClient, services: Services, smtp_server: SmtpServer, inbox: Inbox, tmp_path: Path
    ) -> None:
        await queue_reminders(api, services)
        # A slow server: the job takes 5 s, longer than any fixed grace a stop without waiting
        # for the job would give it before the process ends.
        inbox.delay = 0.25
        env = jobs_env(services, smtp_server, tmp_path, THOTIS_SHUTDOWN_TIMEOUT_SECONDS="20")
        with thotis(["worker"], env) as worker:
            worker.wait_for(lambda: (tmp_path / "worker.json").exists(), 30, "the first heartbeat")
            assert health("worker", env) == 0
            await kick_send_emails(services)
            await eventually(lambda: len(inbox.messages) >= 2, 30)
            assert worker.terminate(30) == 0
        assert await statuses(services) == Counter(sent=2 * SESSIONS)  # the job in flight ran to its end
        assert len(inbox.messages) == 2 * SESSIONS  # each once
        assert not (tmp_path / "worker.json").exists() and health("worker", env) == 1
        records = worker.records()
        done = [r for r in records if r.get("job") == "send_emails" and "done" in r["message"]]
        assert done and done[0]["logger"] == "thotis.jobs" and done[0]["duration_ms"] > 0
        assert any("finishing the jobs in flight" in r["message"] for r in records)
        assert STUDENT_EMAIL not in worker.stderr()

    async def test_a_job_cut_by_the_shutdown_timeout_is_released_and_done_by_the_next_worker(
        self,
        api: httpx.AsyncClient,
        services: Services,
        smtp_server: SmtpServer,
        inbox: Inbox,
        deps: JobDeps,
        tmp_path: Path,
    ) -> None:
        await queue_reminders(api, services)
        inbox.delay = 0.3  # six seconds of sending: longer than the worker may wait
        env = jobs_env(services, smtp_server, tmp_path, THOTIS_SHUTDOWN_TIMEOUT_SECONDS="1")
        with thotis(["worker"], env) as worker:
            worker.wait_for(lambda: (tmp_path / "worker.json").exists(), 30, "the first heartbeat")
            await kick_send_emails(services)
            await eventually(lambda: len(inbox.messages) >= 1, 30)
            assert worker.terminate(30) == 0
        left = await statuses(services)
        assert left["sent"] < 2 * SESSIONS and left["pending"] > 0 and sum(left.values()) == 2 * SESSIONS
        # The emails it had claimed keep their lease (5 s); once it is over, any worker sends them.
        inbox.delay = 0
        deps.clock = FixedClock(datetime.now(UTC) + timedelta(seconds=6))
        await work.send_emails(deps)
        assert await statuses(services) == Counter(sent=2 * SESSIONS)
        # Only the one email the SMTP server accepted in the instant before the cut may go twice.
        assert 2 * SESSIONS <= len(inbox.messages) <= 2 * SESSIONS + 1


class TestSchedulerProcess:
    async def test_the_scheduler_beats_while_it_runs_and_exits_0_on_sigterm(
        self, services: Services, smtp_server: SmtpServer, tmp_path: Path
    ) -> None:
        env = jobs_env(services, smtp_server, tmp_path)
        assert "not running" in str(check_heartbeat(tmp_path, "scheduler", 0.2))
        with thotis(["scheduler"], env) as scheduler:
            scheduler.wait_for(lambda: (tmp_path / "scheduler.json").exists(), 30, "the first heartbeat")
            assert health("scheduler", env) == 0
            assert scheduler.terminate(15) == 0
        assert "not running" in str(check_heartbeat(tmp_path, "scheduler", 0.2))
        assert all(r["logger"] for r in scheduler.records())
