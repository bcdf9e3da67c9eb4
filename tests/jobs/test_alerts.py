"""Admin alerts for failures that need a person (R16): dead webhooks, Cal.com down, database down."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import text

from adapter.services import Services
from calcom_client.simulator import CalcomSimulator
from core.database import Database
from core.local_servers import free_port
from jobs import work
from jobs.deps import JobDeps
from tests.adapter.test_availability import linked_mentor
from tests.jobs.conftest import Inbox
from tests.jobs.test_email_jobs import move_clock, text_of

ADMINS = ["ops@example.org", "cto@example.org"]


def with_admins(deps: JobDeps, **extra: object) -> JobDeps:
    deps.settings = deps.settings.model_copy(update={"admin_emails": ADMINS, **extra})
    return deps


async def dead_delivery(services: Services) -> None:
    """A delivery given up after its retries (written directly: the retry path has its own tests)."""
    async with services.database.engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO thotis.webhook_endpoints (id, url, secret_encrypted) VALUES ('ep1', 'https://x.test', 's')"
                " ON CONFLICT DO NOTHING"
            )
        )
        message = f"msg_{await connection.scalar(text('SELECT count(*) FROM thotis.webhook_messages'))}"
        await connection.execute(
            text(
                "INSERT INTO thotis.webhook_messages (id, event_type, payload, sequence)"
                " VALUES (:id, 'booking.created', :payload, 1)"
            ),
            {"id": message, "payload": b"{}"},
        )
        await connection.execute(
            text(
                "INSERT INTO thotis.webhook_deliveries (message_id, endpoint_id, status, next_attempt_at)"
                " VALUES (:id, 'ep1', 'dead', now())"
            ),
            {"id": message},
        )


class TestAlerts:
    async def test_dead_webhooks_alert_each_admin_once_per_incident(
        self, api: httpx.AsyncClient, services: Services, deps: JobDeps, inbox: Inbox
    ) -> None:
        with_admins(deps)
        await dead_delivery(services)
        for _ in range(2):
            await work.check_alerts(deps)
            await work.send_emails(deps)
        assert sorted(m["To"].addresses[0].addr_spec for m in inbox.messages) == sorted(ADMINS)
        assert "redeliver" in text_of(inbox.messages[0])
        await dead_delivery(services)  # a new one: a new incident
        await work.check_alerts(deps)
        await work.send_emails(deps)
        assert len(inbox.messages) == 4

    async def test_calcom_unreachable_for_long_enough_alerts_once(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator, deps: JobDeps, inbox: Inbox
    ) -> None:
        with_admins(deps, calcom_down_alert_minutes=10)
        await linked_mentor(api, simulator)
        simulator.fail_next(status=503, times=10_000)
        for _ in range(4):  # 0, 5, 10, 15 minutes of outage
            await work.sync_calcom(deps)
            await work.send_emails(deps)
            move_clock(services, deps, simulator, timedelta(minutes=5))
        alerts = [m for m in inbox.messages if "Cal.com" in str(m["Subject"])]
        assert len(alerts) == len(ADMINS)
        simulator.knobs.faults.clear()
        await work.sync_calcom(deps)  # back: the next outage is a new incident
        assert await services.redis.client.get(deps.redis.key(work.CALCOM_DOWN_KEY)) is None  # type: ignore[union-attr]

    async def test_database_unreachable_is_alerted_straight_over_smtp(
        self, services: Services, deps: JobDeps, inbox: Inbox
    ) -> None:
        with_admins(deps)
        await services.redis.client.delete(deps.redis.key("alert:database-down"))  # type: ignore[union-attr]
        deps.database = Database(f"postgresql://127.0.0.1:{free_port()}/none", pool_size=1)
        try:
            await work.check_alerts(deps)
            await work.check_alerts(deps)  # at most once an hour
        finally:
            await deps.database.dispose()
        assert sorted(m["To"].addresses[0].addr_spec for m in inbox.messages) == sorted(ADMINS)
        assert "database" in str(inbox.messages[0]["Subject"]).lower()
