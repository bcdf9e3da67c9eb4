"""Atomic rate limiting in Redis with per-process leases, and a local fallback.

Fixed one-minute windows counted by a Lua script, so concurrent requests from many workers never
over-admit: Redis's count is the only truth. A process does not ask Redis once per request,
though: it takes tokens of the current window in small leases (`INCRBY n`) and spends them
locally, and requests that arrive while a lease is being fetched wait for it and share it. A
busy subject then costs one Redis call per lease instead of one per request, and a burst of a
thousand requests costs a few calls, however large. A lease is at most `limit // 200` tokens
(capped at `MAX_LEASE`), beyond what is waiting: the tokens a process may leave unspent when a
window ends are at most half a percent of the limit.

When Redis is unreachable each worker process falls back to its own in-memory windows: limits
then hold per process instead of globally, which keeps abusive clients in check without turning a
Redis outage into an API outage.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from redis.asyncio import Redis

from core.redis import RedisGateway

_TAKE = """
local count = redis.call('INCRBY', KEYS[1], ARGV[2])
if count == tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
local ttl = redis.call('PTTL', KEYS[1])
return {count, ttl}
"""
#: Largest lease beyond the requests waiting for it.
MAX_LEASE = 100
#: Bound on the per-process state, under a flood of distinct keys.
MAX_KEYS = 100_000


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a request may go on, and how long to wait when it may not."""

    allowed: bool
    remaining: int
    retry_after_seconds: int


@dataclass(slots=True)
class _Lease:
    """This process's share of one key's current window."""

    tokens: int = 0
    #: When the window these tokens belong to ends (monotonic seconds).
    until: float = 0.0
    #: The window's count reached the limit: refuse without asking Redis until then.
    closed_until: float = 0.0
    #: Requests in `hit` for this key right now (the size of the next lease).
    waiting: int = 0
    fetching: asyncio.Future[None] | None = None


class RateLimiter:
    """Counts hits per key in fixed windows of `window_seconds`."""

    def __init__(self, gateway: RedisGateway, *, window_seconds: int = 60) -> None:
        self._redis = gateway
        self._window_ms = window_seconds * 1000
        self._local: dict[str, tuple[int, float]] = {}
        self._leases: dict[str, _Lease] = {}
        # EVALSHA with a fallback to EVAL: the script text is not sent on every request.
        self._script = gateway.client.register_script(_TAKE) if gateway.client is not None else None

    async def hit(self, key: str, limit: int) -> Decision:
        full_key = self._redis.key("rl", key)
        lease = self._leases.get(full_key)
        if lease is None:
            if len(self._leases) > MAX_KEYS:
                self._leases = {k: v for k, v in self._leases.items() if v.waiting}
            lease = self._leases[full_key] = _Lease()
        lease.waiting += 1
        try:
            while True:
                now = time.monotonic()
                if lease.tokens > 0 and now < lease.until:
                    lease.tokens -= 1
                    return Decision(True, lease.tokens, _seconds(lease.until - now))
                if now < lease.closed_until:
                    return Decision(False, 0, _seconds(lease.closed_until - now))
                if lease.fetching is not None:
                    await asyncio.shield(lease.fetching)
                    continue
                taken = await self._take(full_key, lease, limit)
                if taken is None:  # Redis is away: this process's own windows decide
                    count, ttl_ms = self._hit_locally(full_key)
                    return Decision(count <= limit, max(0, limit - count), _seconds(ttl_ms / 1000))
        finally:
            lease.waiting -= 1

    async def _take(self, full_key: str, lease: _Lease, limit: int) -> bool | None:
        """Fetch a lease for every request waiting (at least a small one); None when Redis is away."""
        size = max(lease.waiting, min(MAX_LEASE, limit // 200), 1)
        fetching = lease.fetching = asyncio.get_running_loop().create_future()

        async def call(client: Redis) -> tuple[int, int] | None:
            assert self._script is not None
            count, ttl = await self._script(keys=[full_key], args=[self._window_ms, size], client=client)
            return int(count), int(ttl)

        try:
            result = await self._redis.run(call, None)
        finally:
            lease.fetching = None
            fetching.set_result(None)
        if result is None:
            return None
        count, ttl_ms = result
        now = time.monotonic()
        granted = max(0, min(size, limit - (count - size)))
        if now >= lease.until:
            lease.tokens = 0  # what was left belongs to the window that ended
        lease.tokens += granted
        lease.until = now + max(ttl_ms, 1) / 1000
        if granted < size:
            lease.closed_until = lease.until
        return True

    def _hit_locally(self, key: str) -> tuple[int, int]:
        now = time.monotonic()
        count, window_end = self._local.get(key, (0, 0.0))
        if now >= window_end:
            count, window_end = 0, now + self._window_ms / 1000
            if len(self._local) > MAX_KEYS:  # bound memory under a flood of distinct keys
                self._local.clear()
        count += 1
        self._local[key] = (count, window_end)
        return count, int((window_end - now) * 1000)


def _seconds(delay: float) -> int:
    """Whole seconds to wait, at least one (Retry-After)."""
    return max(1, -(-int(delay * 1000) // 1000))
