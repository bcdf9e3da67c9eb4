"""Read-through cache in Redis with explicit invalidation; an outage falls back to the source.

Values are stored as JSON bytes so a hot route can return them without re-serialising.
Groups (e.g. every cached page of the mentor list) are tracked in a Redis set so one write
invalidates the whole group atomically.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from redis.asyncio import Redis

from core.redis import RedisGateway

_INVALIDATE_GROUP = """
local members = redis.call('SMEMBERS', KEYS[1])
for i = 1, #members, 500 do
  redis.call('UNLINK', unpack(members, i, math.min(i + 499, #members)))
end
redis.call('UNLINK', KEYS[1])
return #members
"""


def dump(value: Any) -> bytes:
    """Compact JSON bytes, the form cached values are stored and served in."""
    return msgspec.json.encode(value)


class Cache:
    """JSON cache over a `RedisGateway`: get, set, delete, and group invalidation."""

    def __init__(self, gateway: RedisGateway) -> None:
        self._redis = gateway

    async def get_bytes(self, key: str) -> bytes | None:
        async def call(client: Redis) -> bytes | None:
            value = await client.get(self._redis.key("cache", key))
            return value if isinstance(value, bytes) or value is None else value.encode()

        return await self._redis.run(call, None)

    async def set_bytes(self, key: str, value: bytes, ttl_seconds: int, *, group: str | None = None) -> None:
        full_key = self._redis.key("cache", key)

        async def call(client: Redis) -> None:
            async with client.pipeline(transaction=True) as pipe:
                pipe.set(full_key, value, ex=ttl_seconds)
                if group is not None:
                    group_key = self._redis.key("group", group)
                    pipe.sadd(group_key, full_key)
                    pipe.expire(group_key, ttl_seconds * 2)
                await pipe.execute()

        await self._redis.run(call, None)

    async def get_or_load(
        self,
        key: str,
        load: Callable[[], Awaitable[Any]],
        ttl_seconds: int,
        *,
        group: str | None = None,
    ) -> bytes:
        """Cached JSON bytes for `key`, loading and storing them on a miss."""
        cached = await self.get_bytes(key)
        if cached is not None:
            return cached
        value = dump(await load())
        await self.set_bytes(key, value, ttl_seconds, group=group)
        return value

    async def delete(self, *keys: str) -> None:
        full = [self._redis.key("cache", key) for key in keys]

        async def call(client: Redis) -> None:
            await client.unlink(*full)

        await self._redis.run(call, None)

    async def invalidate_group(self, group: str) -> None:
        group_key = self._redis.key("group", group)

        async def call(client: Redis) -> None:
            await client.eval(_INVALIDATE_GROUP, 1, group_key)

        await self._redis.run(call, None)
