"""Redis connection with a small circuit breaker, shared by the cache and the rate limiter.

A Redis outage must degrade the service, never break it: after a failure the breaker skips
Redis for a few seconds so requests don't each pay a connection timeout.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
T = TypeVar("T")

#: What a broken or unreachable Redis raises through redis-py.
REDIS_FAILURES: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)


def connect_redis(url: str, *, timeout_seconds: float = 0.5, wait_seconds: float = 2.0) -> Redis:
    """A client for `redis://`, `rediss://` or `unix://` URLs with short, explicit timeouts.

    A burst of requests must not look like an outage: that trips the breaker, and every rate
    limit then falls back to per-process counting, admitting far more than the limit. So when
    all connections are busy a call waits for one (up to `wait_seconds`) instead of failing with
    "too many connections", and opening a connection may take as long, since a burst keeps the
    event loop busy; replies still have `timeout_seconds`, so a Redis that hangs is detected.

    A command that finds its pooled connection closed (Redis restarted) is sent once more on a new
    connection: without that, every stale connection left in the pool fails one request after a
    restart and trips the breaker again, keeping the service degraded after Redis is back. Timeouts
    are not retried, so a hung Redis still costs one timeout.
    """
    pool = BlockingConnectionPool.from_url(
        url,
        socket_timeout=timeout_seconds,
        socket_connect_timeout=wait_seconds,
        health_check_interval=30,
        max_connections=100,
        timeout=wait_seconds,
        retry=Retry(NoBackoff(), retries=1, supported_errors=(RedisConnectionError,)),
    )
    return Redis.from_pool(pool)


class RedisGateway:
    """Runs Redis calls behind a breaker; callers supply what to do when Redis is away."""

    def __init__(self, client: Redis | None, *, prefix: str, cooldown_seconds: float = 5.0) -> None:
        """`client=None` makes a gateway that always falls back (no Redis configured)."""
        self.client = client
        self.prefix = prefix
        self._cooldown = cooldown_seconds
        self._down_until = 0.0

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    @property
    def available(self) -> bool:
        return time.monotonic() >= self._down_until

    async def run(self, call: Callable[[Redis], Awaitable[T]], fallback: T) -> T:
        """Return `call(client)`, or `fallback` when Redis fails or the breaker is open."""
        if self.client is None or not self.available:
            return fallback
        try:
            return await call(self.client)
        except REDIS_FAILURES as exc:
            self._down_until = time.monotonic() + self._cooldown
            log.warning("redis unavailable, degrading for %.0fs: %s", self._cooldown, exc)
            return fallback

    async def ping(self) -> bool:
        """True when Redis answers now (ignores the breaker, for health checks)."""
        if self.client is None:
            return False
        try:
            return bool(await self.client.ping())
        except REDIS_FAILURES:
            return False

    async def close(self) -> None:
        if self.client is not None:
            await self.client.aclose()
