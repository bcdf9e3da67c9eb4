"""Jobs in a process: the broker, the job sender, and (in `thotis worker`/`scheduler`/`demo`) the loops.

Every process that serves requests sends the jobs its services ask for (after their commits);
only worker and scheduler processes run them.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx

from adapter.services import Services
from core.jobs import drain, install_sender
from core.mail import SmtpMailer
from core.settings import Settings
from jobs.deps import JobDeps
from jobs.runtime import JobsRuntime, TaskiqSender, build_broker
from thotis_ext.emails.sender import Mailer

log = logging.getLogger("thotis.jobs")


def build_mailer(settings: Settings) -> Mailer | None:
    """The SMTP server of THOTIS_SMTP_URL; None (emails wait in the outbox) when unset."""
    url = settings.smtp_url.get_secret_value() if settings.smtp_url else ""
    return SmtpMailer(url) if url else None


def job_deps(services: Services, http: httpx.AsyncClient) -> JobDeps:
    """What tasks need, from the process's services."""
    return JobDeps(
        settings=services.settings,
        database=services.database,
        redis=services.redis,
        cache=services.cache,
        clock=services.clock,
        box=services.box,
        calcom=services.calcom.client,
        linker=services.linker,
        mailer=build_mailer(services.settings),
        http=http,
    )


class JobsService:
    """Connects to the broker, installs the job sender, and runs the worker/scheduler if asked."""

    def __init__(self, services: Services, *, worker: bool, scheduler: bool, heartbeat_dir: Path | None = None) -> None:
        self.services = services
        self.worker = worker
        self.scheduler = scheduler
        self.heartbeat_dir = heartbeat_dir
        self._stopping = asyncio.Event()
        self._runtime: JobsRuntime | None = None

    async def run(self) -> None:
        broker = build_broker(self.services.settings)
        limits = httpx.Limits(max_connections=50, max_keepalive_connections=20)
        async with httpx.AsyncClient(limits=limits, follow_redirects=False) as http:
            try:
                await broker.startup()
                install_sender(TaskiqSender(broker))
                if self.worker or self.scheduler:
                    self._runtime = JobsRuntime(
                        broker,
                        job_deps(self.services, http),
                        worker=self.worker,
                        scheduler=self.scheduler,
                        heartbeat_dir=self.heartbeat_dir,
                    )
                    await self._runtime.run()
                else:
                    await self._stopping.wait()
            finally:
                install_sender(None)
                await drain()  # nudges already on their way to the broker
                try:
                    await broker.shutdown()
                except Exception as exc:  # shutting down: nothing left to protect
                    log.debug("broker shutdown: %s", exc)

    def stop(self) -> None:
        self._stopping.set()
        if self._runtime is not None:
            self._runtime.stop()


def run_jobs_process(settings: Settings, *, worker: bool, scheduler: bool) -> None:
    """`thotis worker` / `thotis scheduler`: run until SIGTERM or Ctrl-C, then stop cleanly: the
    worker finishes the jobs in flight (up to THOTIS_SHUTDOWN_TIMEOUT_SECONDS), both exit 0."""
    import signal

    from adapter.app import build_services
    from adapter.logging_setup import configure_logging
    from adapter.monitoring import init_sentry

    configure_logging(settings.log_level, settings.effective_log_format, settings.log_flush_seconds)
    init_sentry(settings)

    async def run() -> None:
        services = build_services(settings)
        services.jobs = JobsService(services, worker=worker, scheduler=scheduler, heartbeat_dir=settings.heartbeat_dir)
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        services.start()
        try:
            await stop.wait()
            log.info("stopping: %s", "finishing the jobs in flight" if worker else "no more jobs scheduled")
        finally:
            await services.close()
        log.info("stopped")

    asyncio.run(run())
