"""The cache: read-through, group invalidation, and an outage that degrades to the source."""

from __future__ import annotations

import uuid

from core.cache import Cache
from core.redis import RedisGateway, connect_redis
from core.settings import Settings


class TestCache:
    async def test_loads_once_then_serves_from_redis(self, test_settings: Settings) -> None:
        assert test_settings.redis_url
        gateway = RedisGateway(connect_redis(test_settings.redis_url), prefix=f"thotis-test-c-{uuid.uuid4().hex}:")
        cache, calls = Cache(gateway), []

        async def load() -> dict[str, int]:
            calls.append(1)
            return {"n": len(calls)}

        assert await cache.get_or_load("k", load, 60) == b'{"n":1}'
        assert await cache.get_or_load("k", load, 60) == b'{"n":1}'
        assert len(calls) == 1
        await cache.delete("k")
        assert await cache.get_or_load("k", load, 60) == b'{"n":2}'
        await gateway.close()

    async def test_group_invalidation_removes_every_member(self, test_settings: Settings) -> None:
        assert test_settings.redis_url
        gateway = RedisGateway(connect_redis(test_settings.redis_url), prefix=f"thotis-test-c-{uuid.uuid4().hex}:")
        cache = Cache(gateway)
        for i in range(1200):  # more than one UNLINK batch in the Lua script
            await cache.set_bytes(f"page-{i}", b"1", 60, group="lists")
        await cache.set_bytes("other", b"2", 60)
        await cache.invalidate_group("lists")
        assert await cache.get_bytes("page-0") is None and await cache.get_bytes("page-1199") is None
        assert await cache.get_bytes("other") == b"2"
        await gateway.close()

    async def test_outage_degrades_to_the_loader_without_raising(self) -> None:
        cache = Cache(RedisGateway(connect_redis("redis://127.0.0.1:1/0"), prefix="x:"))

        async def load() -> list[int]:
            return [1, 2]

        assert await cache.get_or_load("k", load, 60) == b"[1,2]"
        await cache.delete("k")
        await cache.invalidate_group("g")

    async def test_no_redis_configured_means_no_cache(self) -> None:
        cache = Cache(RedisGateway(None, prefix="x:"))
        await cache.set_bytes("k", b"1", 60)
        assert await cache.get_bytes("k") is None
