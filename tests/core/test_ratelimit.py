"""The Redis rate limiter holds under concurrency and degrades to per-process limits."""

from __future__ import annotations

import asyncio
import uuid

from core.ratelimit import RateLimiter
from core.redis import RedisGateway, connect_redis
from core.settings import Settings


def _gateway(url: str) -> RedisGateway:
    return RedisGateway(connect_redis(url), prefix=f"thotis-test-rl-{uuid.uuid4().hex[:8]}:")


class TestRateLimiter:
    async def test_admits_exactly_the_limit_under_concurrency(self, test_settings: Settings) -> None:
        assert test_settings.redis_url
        limiters = [RateLimiter(_gateway(test_settings.redis_url)) for _ in range(3)]
        prefix = f"thotis-test-rl-{uuid.uuid4().hex[:8]}:"
        for limiter in limiters:  # three "workers" sharing one Redis and key space
            limiter._redis.prefix = prefix
        decisions = await asyncio.gather(*(limiters[i % 3].hit("client", 25) for i in range(200)))
        assert sum(d.allowed for d in decisions) == 25
        refused = [d for d in decisions if not d.allowed]
        assert all(1 <= d.retry_after_seconds <= 60 for d in refused)
        for limiter in limiters:
            await limiter._redis.close()

    async def test_keys_are_independent(self, test_settings: Settings) -> None:
        assert test_settings.redis_url
        limiter = RateLimiter(_gateway(test_settings.redis_url))
        assert (await limiter.hit("a", 1)).allowed
        assert not (await limiter.hit("a", 1)).allowed
        assert (await limiter.hit("b", 1)).allowed
        await limiter._redis.close()

    async def test_falls_back_to_local_limits_when_redis_is_down(self) -> None:
        limiter = RateLimiter(RedisGateway(connect_redis("redis://127.0.0.1:1/0"), prefix="x:"))
        decisions = [await limiter.hit("client", 3) for _ in range(5)]
        assert [d.allowed for d in decisions] == [True, True, True, False, False]
        assert decisions[-1].retry_after_seconds >= 1
