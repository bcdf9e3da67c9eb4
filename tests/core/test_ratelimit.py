"""The Redis rate limiter holds under concurrency and degrades to per-process limits."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from core.ratelimit import MAX_LEASE, RateLimiter
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


class _CountingGateway(RedisGateway):
    """Counts the calls that reach Redis."""

    calls = 0

    async def run(self, call: Any, fallback: Any) -> Any:
        self.calls += 1
        return await super().run(call, fallback)


class TestLeases:
    async def test_a_busy_key_asks_redis_once_per_lease_not_per_request(self, test_settings: Settings) -> None:
        assert test_settings.redis_url
        gateway = _CountingGateway(
            connect_redis(test_settings.redis_url), prefix=f"thotis-test-rl-{uuid.uuid4().hex[:8]}:"
        )
        limiter = RateLimiter(gateway)
        decisions = [await limiter.hit("website", 1200) for _ in range(60)]  # leases of 1200 // 200 = 6
        assert all(d.allowed for d in decisions)
        assert gateway.calls == 10
        await gateway.close()

    async def test_a_burst_of_1000_costs_a_few_calls_and_admits_exactly_the_limit(
        self, test_settings: Settings
    ) -> None:
        assert test_settings.redis_url
        gateway = _CountingGateway(
            connect_redis(test_settings.redis_url), prefix=f"thotis-test-rl-{uuid.uuid4().hex[:8]}:"
        )
        limiter = RateLimiter(gateway)
        decisions = await asyncio.gather(*(limiter.hit("burst", 300) for _ in range(1000)))
        assert sum(d.allowed for d in decisions) == 300
        assert gateway.calls <= 3
        # The window is closed: more requests are refused without asking Redis.
        assert not (await limiter.hit("burst", 300)).allowed
        assert gateway.calls <= 3
        await gateway.close()

    @given(
        limit=st.integers(min_value=1, max_value=5000),
        waves=st.lists(st.tuples(st.integers(0, 1), st.integers(1, 120)), min_size=1, max_size=8),
    )
    async def test_property_never_over_and_at_most_half_a_percent_under_per_process(
        self, test_settings: Settings, limit: int, waves: list[tuple[int, int]]
    ) -> None:
        """Two processes sharing one window: concurrent waves of requests on either. Never more
        than the limit is admitted, and never fewer than asked minus each process's unspent lease."""
        assert test_settings.redis_url
        prefix = f"thotis-test-rl-{uuid.uuid4().hex[:8]}:"
        limiters = [RateLimiter(RedisGateway(connect_redis(test_settings.redis_url), prefix=prefix)) for _ in range(2)]
        admitted = asked = 0
        for process, size in waves:
            decisions = await asyncio.gather(*(limiters[process].hit("k", limit) for _ in range(size)))
            admitted += sum(d.allowed for d in decisions)
            asked += size
        unspent = 2 * min(MAX_LEASE, limit // 200)
        assert admitted <= limit
        assert admitted >= min(asked, limit) - unspent
        for limiter in limiters:
            await limiter._redis.close()
