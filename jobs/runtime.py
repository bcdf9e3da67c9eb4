"""Running jobs: the Redis broker, the schedule, the worker and scheduler loops, the job sender.

`thotis worker` runs the receiver, `thotis scheduler` the scheduler; `thotis demo` runs both in
its HTTP process. Every process that may ask for jobs installs a `TaskiqSender`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from taskiq import AsyncBroker, ScheduledTask, ScheduleSource, TaskiqScheduler, async_shared_broker
from taskiq.api import run_receiver_task, run_scheduler_task
from taskiq.kicker import AsyncKicker
from taskiq_redis import RedisStreamBroker

import jobs.tasks  # noqa: F401  (declares the tasks on the shared broker)
from core.settings import Settings
from jobs.deps import JobDeps

log = logging.getLogger("thotis.jobs")

#: Jobs the scheduler starts on the sweep cadence (THOTIS_JOBS_SWEEP_SECONDS).
SWEEPS = (
    "send_emails",
    "queue_reminders",
    "queue_feedback_requests",
    "auto_complete",
    "export_analytics",
    "check_alerts",
    "deliver_webhooks",
    "apply_calcom_inbox",
)


#: Retention is a matter of months: checking hourly is plenty.
RETENTION_EVERY = 3600


def build_broker(settings: Settings) -> AsyncBroker:
    """A Redis Streams broker: a message a worker took but never finished is handed out again."""
    if not settings.redis_url:
        raise ValueError("THOTIS_REDIS_URL is needed for jobs")
    prefix = settings.redis_key_prefix
    broker = RedisStreamBroker(
        settings.redis_url,
        queue_name=f"{prefix}jobs",
        consumer_group_name=f"{prefix}workers",
        maxlen=10_000,  # nudges and ticks only: the work itself is in the database
        idle_timeout=120_000,
    )
    async_shared_broker.default_broker(broker)
    return broker


def schedule(settings: Settings) -> list[ScheduledTask]:
    """What the scheduler starts, and how often (seconds)."""
    every = settings.jobs_sweep_seconds
    tasks = [ScheduledTask(task_name=name, labels={}, args=[], kwargs={}, interval=every) for name in SWEEPS]
    tasks.append(
        ScheduledTask(task_name="sync_calcom", labels={}, args=[], kwargs={}, interval=settings.sync_interval_seconds)
    )
    tasks.append(ScheduledTask(task_name="apply_retention", labels={}, args=[], kwargs={}, interval=RETENTION_EVERY))
    return tasks


class SettingsSchedule(ScheduleSource):
    """The schedule, from settings rather than labels, so operators can tune it."""

    def __init__(self, settings: Settings) -> None:
        self._tasks = schedule(settings)

    async def get_schedules(self) -> list[ScheduledTask]:
        return list(self._tasks)


class TaskiqSender:
    """Sends a job by name (core.jobs.JobSender) through the broker."""

    def __init__(self, broker: AsyncBroker) -> None:
        self.broker = broker

    async def send(self, name: str, kwargs: Mapping[str, Any]) -> None:
        await AsyncKicker(task_name=name, broker=self.broker, labels={}).kiq(**kwargs)


class JobsRuntime:
    """The worker and/or the scheduler of one process, started and stopped as one background task."""

    def __init__(self, broker: AsyncBroker, deps: JobDeps, *, worker: bool, scheduler: bool) -> None:
        self.broker = broker
        self.deps = deps
        self.worker = worker
        self.scheduler = scheduler
        self._task: asyncio.Future[Any] | None = None

    async def run(self) -> None:
        self.broker.state.deps = self.deps
        loops = []
        if self.worker:
            loops.append(run_receiver_task(self.broker, max_async_tasks=20, run_startup=False))
        if self.scheduler:
            loops.append(run_scheduler_task(TaskiqScheduler(self.broker, [SettingsSchedule(self.deps.settings)])))
        log.info("jobs running: worker=%s scheduler=%s", self.worker, self.scheduler)
        self._task = asyncio.gather(*loops)
        with contextlib.suppress(asyncio.CancelledError):  # stop() cancels: that is the normal end
            await self._task

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
