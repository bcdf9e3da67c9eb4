"""Running jobs: the Redis broker, the schedule, the worker and scheduler loops, the job sender.

`thotis worker` runs the receiver, `thotis scheduler` the scheduler; `thotis demo` runs both in
its HTTP process. Every process that may ask for jobs installs a `TaskiqSender`.

Stopping (SIGTERM): the worker stops taking messages, lets the jobs in flight finish for up to
THOTIS_SHUTDOWN_TIMEOUT_SECONDS (each is acknowledged when done), then returns. A job still running
after that is cancelled: its message stays unacknowledged in the stream, handed to another worker
after the broker's idle timeout, and its rows (emails, deliveries) keep their lease in the
database, so the next sweep retries them. Nothing is lost either way; jobs are idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from taskiq import AsyncBroker, ScheduledTask, ScheduleSource, TaskiqScheduler, async_shared_broker
from taskiq.api import run_scheduler_task
from taskiq.kicker import AsyncKicker
from taskiq.receiver import Receiver
from taskiq_redis import RedisStreamBroker

import jobs.tasks  # noqa: F401  (declares the tasks on the shared broker)
from core.settings import Settings
from jobs.deps import JobDeps
from jobs.heartbeat import Heartbeat

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


#: Jobs one worker process runs at once.
MAX_ASYNC_TASKS = 20


class JobsRuntime:
    """The worker and/or the scheduler of one process, started and stopped as one background task.

    With `heartbeat_dir`, each role writes its heartbeat file there while it runs (`thotis health`).
    """

    def __init__(
        self,
        broker: AsyncBroker,
        deps: JobDeps,
        *,
        worker: bool,
        scheduler: bool,
        heartbeat_dir: Path | None = None,
    ) -> None:
        self.broker = broker
        self.deps = deps
        self.worker = worker
        self.scheduler = scheduler
        self.heartbeat_dir = heartbeat_dir
        self._finish = asyncio.Event()
        self._scheduler_task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        self.broker.state.deps = self.deps
        settings = self.deps.settings
        loops: list[asyncio.Task[None]] = []
        if self.worker:
            loops.append(asyncio.create_task(self._receive(settings.shutdown_timeout_seconds), name="jobs-receiver"))
        if self.scheduler:
            schedule_loop = run_scheduler_task(TaskiqScheduler(self.broker, [SettingsSchedule(settings)]))
            self._scheduler_task = asyncio.create_task(schedule_loop, name="jobs-scheduler")
            loops.append(self._scheduler_task)
        heartbeats = [
            Heartbeat(self.heartbeat_dir, role, settings.heartbeat_seconds, self.deps.redis.ping)
            for role, on in (("worker", self.worker), ("scheduler", self.scheduler))
            if on and self.heartbeat_dir is not None
        ]
        beating = [asyncio.create_task(beat.run(self._finish), name=f"heartbeat-{beat.role}") for beat in heartbeats]
        log.info("jobs running: worker=%s scheduler=%s", self.worker, self.scheduler)
        try:
            with contextlib.suppress(asyncio.CancelledError):  # the scheduler's normal end is a cancellation
                await asyncio.gather(*loops)
        finally:
            self._finish.set()
            for task in loops:
                task.cancel()
            await asyncio.gather(*beating, return_exceptions=True)

    async def _receive(self, wait_seconds: float) -> None:
        """Take messages until `stop()`, then wait up to `wait_seconds` for the jobs in flight."""
        self.broker.is_worker_process = True
        with ThreadPoolExecutor(max_workers=2) as executor:
            while not self._finish.is_set():
                receiver = Receiver(
                    self.broker,
                    executor=executor,
                    max_async_tasks=MAX_ASYNC_TASKS,
                    run_startup=False,
                    wait_tasks_timeout=wait_seconds,
                )
                try:
                    await receiver.listen(self._finish)
                except Exception as exc:  # Redis away: listen again shortly, as taskiq's own loop does
                    log.warning("jobs: listening to the broker failed: %s", exc)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._finish.wait(), 1.0)
        log.info("jobs: worker stopped taking jobs; the jobs in flight are done or left to be retried")

    def stop(self) -> None:
        """Stop taking jobs; `run()` returns once the jobs in flight are done (or the wait is over)."""
        self._finish.set()
        if self._scheduler_task is not None:
            self._scheduler_task.cancel()
