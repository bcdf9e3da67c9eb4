"""Property 48: running any job twice — one after the other or at the same time — sends no email and
no Thotis event twice (R6.3, R19.1)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from adapter.services import Services
from core.clock import FixedClock
from jobs import work
from jobs.deps import JobDeps
from tests.adapter.helpers import create_profile
from tests.conftest import reset
from tests.factories import insert_sessions, valid_body
from tests.jobs.conftest import NOW, Inbox

Job = Callable[[JobDeps], Awaitable[Any]]
JOBS: list[Job] = [
    work.send_emails,
    work.queue_reminders,
    work.queue_feedback_requests,
    work.auto_complete,
    work.deliver_webhooks,
    work.export_analytics,
    work.check_alerts,
    work.apply_calcom_inbox,
]

sessions_strategy = st.lists(
    st.tuples(st.integers(-72 * 60, 72 * 60), st.sampled_from(["scheduled", "completed", "cancelled"])),
    min_size=1,
    max_size=6,
    unique_by=lambda session: session[0],  # one mentor never has two sessions starting together
)


class TestProperty48:
    @given(
        sessions=sessions_strategy,
        order=st.permutations(JOBS),
        concurrent=st.booleans(),
        later=st.integers(0, 48 * 60),
    )
    async def test_property_48_running_any_job_twice_sends_no_email_and_no_event_twice(
        self,
        session_client: httpx.AsyncClient,
        services: Services,
        deps: JobDeps,
        inbox: Inbox,
        sessions: list[tuple[int, str]],
        order: list[Job],
        concurrent: bool,
        later: int,
    ) -> None:
        await reset(services)
        inbox.clear()
        clock = FixedClock(NOW)
        deps.clock = clock
        await create_profile(session_client, "m1", valid_body())
        starts = [(NOW + timedelta(minutes=offset), status) for offset, status in sessions]
        await insert_sessions(services.database.engine, "m1", starts)
        for moment in (NOW, NOW + timedelta(minutes=later)):
            clock.at = moment
            for job in order:
                if concurrent:
                    await asyncio.gather(job(deps), job(deps))
                else:
                    await job(deps)
                    await job(deps)
        ids = Counter(str(message["Message-ID"]) for message in inbox.messages)
        assert all(count == 1 for count in ids.values()), ids
        async with services.database.engine.connect() as connection:
            events = (
                await connection.execute(
                    text("SELECT event_type, subject, count(*) FROM thotis.webhook_messages GROUP BY 1, 2")
                )
            ).all()
        assert all(count == 1 for _, _, count in events), events
        reminded = {m["X-Thotis-Email"] for m in inbox.messages}
        assert "confirmation" not in reminded  # jobs never confirm a booking: the booking does
