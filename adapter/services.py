"""The long-lived objects of one app instance, built once from settings at start-up."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

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
from thotis_ext.profiles.service import ProfileConfig
from webhooks_in.inbox import InboxSweep
from webhooks_out.delivery import DeliveryLoop

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
    _listener: asyncio.Task[None] | None = None
    _delivery: asyncio.Task[None] | None = None
    _sweep: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start background work (the cache invalidation listener) in the running loop."""
        if self.invalidations is not None and self._listener is None:
            self._listener = asyncio.create_task(self.invalidations.run(), name="cache-invalidations")
        if self.deliveries is not None and self._delivery is None:
            self._delivery = asyncio.create_task(self.deliveries.run(), name="webhook-deliveries")
        if self.sweep is not None and self._sweep is None:
            self._sweep = asyncio.create_task(self.sweep.run(), name="calcom-inbox-sweep")

    async def close(self) -> None:
        if self._sweep is not None:
            assert self.sweep is not None
            self.sweep.stop()
            await asyncio.wait({self._sweep}, timeout=BACKGROUND_STOP_SECONDS)
            self._sweep.cancel()
            self._sweep = None
        if self._delivery is not None:
            assert self.deliveries is not None
            self.deliveries.stop()
            await asyncio.wait({self._delivery}, timeout=BACKGROUND_STOP_SECONDS)
            self._delivery.cancel()
            self._delivery = None
        if self._listener is not None:
            assert self.invalidations is not None
            # redis-py can swallow a cancellation that lands while it subscribes, so the listener
            # is also told to stop, and waited for only so long.
            self.invalidations.stop()
            self._listener.cancel()
            await asyncio.wait({self._listener}, timeout=BACKGROUND_STOP_SECONDS)
            self._listener = None
        await self.calcom.close()
        await self.redis.close()
        await self.database.dispose()
