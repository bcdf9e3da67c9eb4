"""The long-lived objects of one app instance, built once from settings at start-up."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Protocol

from adapter.auth import TokenVerifier
from adapter.calcom_wiring import CalcomConnection
from core.cache import Cache
from core.clock import Clock
from core.crypto import SecretBox
from core.database import Database
from core.local_cache import InvalidationListener
from core.ratelimit import RateLimiter
from core.redis import RedisGateway
from core.settings import Settings
from thotis_ext.calcom_link import CalcomLinker
from thotis_ext.profiles.reads import ProfileReads
from thotis_ext.profiles.service import ProfileConfig
from webhooks_in.inbox import InboxSweep
from webhooks_out.delivery import DeliveryLoop


class BackgroundWorker(Protocol):
    """A loop that runs until `stop()` (or cancellation)."""

    async def run(self) -> None: ...

    def stop(self) -> None: ...


#: Background tasks notice a stop request within about a second; never wait longer than this.
BACKGROUND_STOP_SECONDS = 3.0


@dataclass(slots=True)
class Services:
    """Everything a request may need, created by the app's lifespan and closed with it."""

    settings: Settings
    database: Database
    redis: RedisGateway
    cache: Cache
    limiter: RateLimiter
    verifier: TokenVerifier
    box: SecretBox
    profile_config: ProfileConfig
    calcom: CalcomConnection
    linker: CalcomLinker
    clock: Clock
    invalidations: InvalidationListener | None = None
    deliveries: DeliveryLoop | None = None
    sweep: InboxSweep | None = None
    jobs: BackgroundWorker | None = None
    _running: list[tuple[BackgroundWorker, asyncio.Task[None]]] = field(default_factory=list)
    _profile_reads: ProfileReads | None = None

    @property
    def profile_reads(self) -> ProfileReads:
        """The cached profile reads: one per process, holding no per-request state."""
        if self._profile_reads is None:
            self._profile_reads = ProfileReads(self.database.autocommit_sessionmaker, self.cache, self.profile_config)
        return self._profile_reads

    def start(self) -> None:
        """Start the background workers (cache invalidations, webhook delivery, inbox sweep, jobs)."""
        if self._running:
            return
        for name, worker in (
            ("cache-invalidations", self.invalidations),
            ("webhook-deliveries", self.deliveries),
            ("calcom-inbox-sweep", self.sweep),
            ("jobs", self.jobs),
        ):
            if worker is not None:
                self._running.append((worker, asyncio.create_task(worker.run(), name=name)))

    async def close(self) -> None:
        # Each worker is told to stop as well as cancelled: redis-py can swallow a cancellation
        # that lands while it subscribes. None is waited for longer than BACKGROUND_STOP_SECONDS,
        # except the jobs, which are only told to stop: a worker finishes the jobs in flight
        # (THOTIS_SHUTDOWN_TIMEOUT_SECONDS) before the pools they use are closed.
        running, self._running = self._running, []
        for worker, task in running:
            worker.stop()
            if worker is not self.jobs:
                task.cancel()
        if running:
            await asyncio.wait({task for _, task in running}, timeout=BACKGROUND_STOP_SECONDS)
        if late := {task for _, task in running if not task.done()}:
            await asyncio.wait(late, timeout=self.settings.shutdown_timeout_seconds)
            for task in late:
                task.cancel()
            await asyncio.wait(late, timeout=BACKGROUND_STOP_SECONDS)
        await self.calcom.close()
        await self.redis.close()
        await self.database.dispose()
