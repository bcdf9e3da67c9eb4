"""The real taskiq worker and scheduler on the test Redis: a booking's confirmation goes out with no
one calling a job, and the scheduler's sweeps find the rest."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr

from adapter.jobs_wiring import JobsService
from adapter.services import Services
from calcom_client.simulator import CalcomSimulator
from core import jobs as core_jobs
from jobs.runtime import RETENTION_EVERY, SWEEPS, schedule
from tests.adapter.helpers import create_profile
from tests.adapter.test_availability import linked_mentor
from tests.adapter.test_bookings import book, booking
from tests.factories import insert_sessions, valid_body
from tests.jobs.conftest import Inbox, SmtpServer, eventually


@pytest.fixture
async def running_jobs(services: Services, smtp_server: SmtpServer) -> AsyncIterator[Callable[..., JobsService]]:
    started: list[tuple[JobsService, asyncio.Task[None]]] = []

    def start(*, worker: bool = True, scheduler: bool = False, **settings: object) -> JobsService:
        configured = services.settings.model_copy(
            update={"smtp_url": SecretStr(smtp_server.url), "jobs_enabled": True, **settings}
        )
        jobs = JobsService(dataclasses.replace(services, settings=configured), worker=worker, scheduler=scheduler)
        started.append((jobs, asyncio.create_task(jobs.run())))
        return jobs

    yield start
    for jobs, task in started:
        jobs.stop()
        await asyncio.wait_for(task, 10)
    assert core_jobs._sender is None  # stopping uninstalls the sender


class TestWorker:
    async def test_a_booking_sends_its_confirmation_through_the_worker_without_a_sweep(
        self, api: httpx.AsyncClient, simulator: CalcomSimulator, inbox: Inbox, running_jobs: Callable[..., JobsService]
    ) -> None:
        running_jobs()
        await eventually(lambda: core_jobs._sender is not None)
        await linked_mentor(api, simulator)
        assert (await book(api, booking())).status_code == 201
        await eventually(lambda: len(inbox.messages) == 2)
        assert {m["X-Thotis-Email"] for m in inbox.messages} == {"confirmation"}

    async def test_the_scheduler_runs_the_sweeps(
        self, api: httpx.AsyncClient, services: Services, inbox: Inbox, running_jobs: Callable[..., JobsService]
    ) -> None:
        await create_profile(api, "m1", valid_body())
        ended = datetime.now(UTC) - timedelta(hours=1)  # long past the grace period: auto-completed
        await insert_sessions(services.database.engine, "m1", [(ended, "scheduled")])
        running_jobs(scheduler=True, jobs_sweep_seconds=1)
        await eventually(lambda: any(m["X-Thotis-Email"] == "feedback_request" for m in inbox.messages), 20)


class TestSchedule:
    def test_every_sweep_and_the_sync_are_scheduled_at_their_configured_cadence(self, services: Services) -> None:
        configured = services.settings.model_copy(update={"jobs_sweep_seconds": 7, "sync_interval_seconds": 300})
        tasks = {task.task_name: task.interval for task in schedule(configured)}
        assert tasks == {**dict.fromkeys(SWEEPS, 7), "sync_calcom": 300, "apply_retention": RETENTION_EVERY}
