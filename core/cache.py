"""Read-through cache in Redis with explicit invalidation; an outage falls back to the source.

Values are stored as JSON bytes so a hot route can return them without re-serialising.
Groups (e.g. every cached page of the mentor list) are tracked in a Redis sorted set, each key
scored by when it expires, so one write invalidates the whole group atomically; keys that have
expired leave the set as others join it, so a group under steady traffic holds its live keys
only. An optional `LocalCache` in front saves the Redis round trip on hot reads; every
invalidation is published so each process drops its copy.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import msgspec
from redis.asyncio import Redis

from core.local_cache import LocalCache, invalidation_message
from core.redis import RedisGateway
from core.single_flight import SingleFlight

#: Drops every key of a group (KEYS[1]) and the group; KEYS[2] is the group as a plain set, as
#: processes of an older release still keep it during a rolling deploy.
_INVALIDATE_GROUP = """
local function drop(members)
  for i = 1, #members, 500 do
    redis.call('UNLINK', unpack(members, i, math.min(i + 499, #members)))
  end
  return #members
end
local dropped = drop(redis.call('ZRANGE', KEYS[1], 0, -1))
if redis.call('TYPE', KEYS[2])['ok'] == 'set' then
  dropped = dropped + drop(redis.call('SMEMBERS', KEYS[2]))
end
redis.call('UNLINK', KEYS[1], KEYS[2])
return dropped
"""


def dump(value: Any) -> bytes:
    """Compact JSON bytes, the form cached values are stored and served in."""
    return msgspec.json.encode(value)


@dataclass(frozen=True, slots=True)
class Expiring:
    """Members to add to the sorted set at `key`, each for `ttl_seconds` from now (`Cache.invalidate`'s
    `add`): a sorted set scored by expiry is atomic against concurrent adds, unlike a read and a
    write of a JSON value, and lives no longer than its newest member needs. The set goes with
    `group` like any value of it. Not kept locally."""

    key: str
    members: tuple[str, ...]
    ttl_seconds: int
    group: str


class Cache:
    """JSON cache over a `RedisGateway`: get, set, delete, and group invalidation."""

    def __init__(self, gateway: RedisGateway, local: LocalCache | None = None) -> None:
        self._redis = gateway
        self._local = local
        self._channel = gateway.key("invalidate")
        self._fills: SingleFlight[bytes] = SingleFlight()

    async def get_bytes(self, key: str, *, group: str | None = None) -> bytes | None:
        """The cached bytes, or None; `group` must be the one the value was stored with."""
        if self._local is not None and (value := self._local.get(key)) is not None:
            return value

        async def call(client: Redis) -> tuple[bytes | None, int]:
            async with client.pipeline(transaction=False) as pipe:
                pipe.get(self._redis.key("cache", key))
                pipe.pttl(self._redis.key("cache", key))
                raw, ttl_ms = await pipe.execute()
            value = raw if isinstance(raw, bytes) or raw is None else raw.encode()
            return value, int(ttl_ms)

        missing: tuple[bytes | None, int] = (None, -2)
        value, ttl_ms = await self._redis.run(call, missing)
        if value is not None and self._local is not None and ttl_ms > 0:
            self._local.put(key, value, ttl_ms / 1000, group)
        return value

    async def set_bytes(self, key: str, value: bytes, ttl_seconds: int, *, group: str | None = None) -> None:
        full_key = self._redis.key("cache", key)

        async def call(client: Redis) -> None:
            async with client.pipeline(transaction=True) as pipe:
                pipe.set(full_key, value, ex=ttl_seconds)
                if group is not None:
                    self._join(pipe, group, full_key, ttl_seconds)
                await pipe.execute()

        await self._redis.run(call, None)
        if self._local is not None:
            self._local.put(key, value, ttl_seconds, group)

    async def get_or_load(
        self,
        key: str,
        load: Callable[[], Awaitable[Any]],
        ttl_seconds: int,
        *,
        group: str | None = None,
    ) -> bytes:
        """Cached JSON bytes for `key`, loading and storing them on a miss."""
        cached = await self.get_bytes(key, group=group)
        if cached is not None:
            return cached
        return await self.fill(key, load, ttl_seconds, group=group)

    async def fill(
        self,
        key: str,
        load: Callable[[], Awaitable[Any]],
        ttl_seconds: int,
        *,
        group: str | None = None,
    ) -> bytes:
        """Load, store and return the JSON bytes of a missed `key`. Concurrent fills of one key in
        this process share one load: when a hot value expires, a hundred waiting requests would
        otherwise each query the database (and open connections past the pool's size)."""

        async def load_and_store() -> bytes:
            value = dump(await load())
            await self.set_bytes(key, value, ttl_seconds, group=group)
            return value

        return await self._fills.run(key, load_and_store)

    def _join(self, pipe: Any, group: str, full_key: str, ttl_seconds: int) -> None:
        """Queue on `pipe`: `full_key`, expiring in `ttl_seconds`, joins `group`, and the group's
        keys that have expired leave it."""
        group_key, now_ms = self._redis.key("groups", group), int(time.time() * 1000)
        pipe.zremrangebyscore(group_key, "-inf", now_ms)
        pipe.zadd(group_key, {full_key: now_ms + ttl_seconds * 1000})
        pipe.pexpire(group_key, ttl_seconds * 2000)

    async def live_members(self, key: str) -> list[str] | None:
        """The members of `key` added as `Expiring` that have not expired (none when there is
        no set), None when Redis is away."""

        async def call(client: Redis) -> list[str]:
            found = await client.zrangebyscore(self._redis.key("cache", key), int(time.time() * 1000), "+inf")
            return [m.decode() if isinstance(m, bytes) else str(m) for m in found]

        return await self._redis.run(call, None)

    def clear_local(self) -> None:
        """Forget this process's copies (tests, and after changes made behind the cache's back)."""
        if self._local is not None:
            self._local.clear()

    async def delete(self, *keys: str) -> None:
        await self.invalidate(keys)

    async def invalidate_group(self, group: str) -> None:
        await self.invalidate(groups=(group,))

    async def invalidate(
        self, keys: Iterable[str] = (), groups: Iterable[str] = (), *, add: Expiring | None = None
    ) -> bool:
        """Drop `keys` and every key of `groups`, here and in every process, in one Redis round
        trip; `add` (see `Expiring`) goes first in the same round trip. False when Redis was
        away (the local copies are dropped all the same)."""
        keys, groups = tuple(keys), tuple(groups)
        full = [self._redis.key("cache", key) for key in keys]

        async def call(client: Redis) -> bool:
            async with client.pipeline(transaction=add is not None) as pipe:
                if add is not None:
                    set_key, now_ms = self._redis.key("cache", add.key), int(time.time() * 1000)
                    pipe.zremrangebyscore(set_key, "-inf", now_ms)
                    pipe.zadd(set_key, dict.fromkeys(add.members, now_ms + add.ttl_seconds * 1000))
                    pipe.pexpire(set_key, add.ttl_seconds * 1000)
                    self._join(pipe, add.group, set_key, add.ttl_seconds)
                if full:
                    pipe.unlink(*full)
                for group in groups:
                    pipe.eval(_INVALIDATE_GROUP, 2, self._redis.key("groups", group), self._redis.key("group", group))
                if keys or groups:
                    pipe.publish(self._channel, invalidation_message(keys, groups))
                await pipe.execute()
            return True

        done = await self._redis.run(call, False)
        if self._local is not None:
            for key in keys:
                self._local.drop(key)
            self._local.drop_groups(groups)
        return done
