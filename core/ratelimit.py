"""Atomic rate limiting in Redis (one Lua call per request), with a local fallback.

Fixed one-minute windows counted by a Lua script, so concurrent requests from many workers
never over-admit. When Redis is unreachable each worker process falls back to its own
in-memory windows: limits then hold per process instead of globally, which keeps abusive
clients in check without turning a Redis outage into an API outage.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from redis.asyncio import Redis

from core.redis import RedisGateway

_HIT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
local ttl = redis.call('PTTL', KEYS[1])
return {count, ttl}
"""


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a request may go on, and how long to wait when it may not."""

    allowed: bool
    remaining: int
    retry_after_seconds: int


class RateLimiter:
    """Counts hits per key in fixed windows of `window_seconds`."""

    def __init__(self, gateway: RedisGateway, *, window_seconds: int = 60) -> None:
        self._redis = gateway
        self._window_ms = window_seconds * 1000
        self._local: dict[str, tuple[int, float]] = {}
        # EVALSHA with a fallback to EVAL: the script text is not sent on every request.
        self._script = gateway.client.register_script(_HIT) if gateway.client is not None else None

    async def hit(self, key: str, limit: int) -> Decision:
        full_key = self._redis.key("rl", key)

        async def call(client: Redis) -> tuple[int, int] | None:
            assert self._script is not None
            count, ttl = await self._script(keys=[full_key], args=[self._window_ms], client=client)
            return int(count), int(ttl)

        result = await self._redis.run(call, None)
        if result is None:
            result = self._hit_locally(full_key)
        count, ttl_ms = result
        retry_after = max(1, -(-max(ttl_ms, 0) // 1000))
        return Decision(count <= limit, max(0, limit - count), retry_after)

    def _hit_locally(self, key: str) -> tuple[int, int]:
        now = time.monotonic()
        count, window_end = self._local.get(key, (0, 0.0))
        if now >= window_end:
            count, window_end = 0, now + self._window_ms / 1000
            if len(self._local) > 100_000:  # bound memory under a flood of distinct keys
                self._local.clear()
        count += 1
        self._local[key] = (count, window_end)
        return count, int((window_end - now) * 1000)
