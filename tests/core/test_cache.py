"""The cache: read-through, group invalidation, and an outage that degrades to the source."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from core import cache as cache_module
from core.cache import Cache, Expiring
from core.local_cache import InvalidationListener, LocalCache
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

    async def test_concurrent_misses_of_one_key_share_one_load(self, test_settings: Settings) -> None:
        assert test_settings.redis_url
        gateway = RedisGateway(connect_redis(test_settings.redis_url), prefix=f"thotis-test-c-{uuid.uuid4().hex}:")
        cache, calls, both_started, release = Cache(gateway), [], asyncio.Event(), asyncio.Event()

        async def load() -> dict[str, int]:
            calls.append(1)
            if len(calls) == 2:
                both_started.set()
            await release.wait()
            return {"n": len(calls)}

        waiting = [asyncio.create_task(cache.get_or_load("hot", load, 60)) for _ in range(50)]
        other = asyncio.create_task(cache.get_or_load("cold", load, 60))
        await asyncio.wait_for(both_started.wait(), 10)
        release.set()
        values = await asyncio.gather(*waiting)
        assert len(calls) == 2, "one load for the 50 misses of `hot`, one for `cold`"
        assert set(values) == {values[0]} and values[0] in (b'{"n":1}', b'{"n":2}')
        assert await other in (b'{"n":1}', b'{"n":2}')
        assert await cache.get_bytes("hot") == values[0], "the shared load stored its value once"
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

    async def test_a_group_under_steady_traffic_holds_only_its_live_keys(
        self, test_settings: Settings, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Each key that joins a group renews the group's TTL, so a group never idle never
        expires: the keys that expired must leave it, or it grows for as long as traffic lasts."""
        assert test_settings.redis_url
        prefix = f"thotis-test-c-{uuid.uuid4().hex}:"
        gateway = RedisGateway(connect_redis(test_settings.redis_url), prefix=prefix)
        cache, clock = Cache(gateway), [1_000_000.0]
        monkeypatch.setattr(cache_module.time, "time", lambda: clock[0])
        for minute in range(30):  # a new key every minute, each cached for 2
            clock[0] += 60
            await cache.set_bytes(f"page-{minute}", b"1", 120, group="lists")
        client = gateway.client
        assert client is not None
        members = await client.zrange(f"{prefix}groups:lists", 0, -1)
        assert sorted(m.decode() for m in members) == [f"{prefix}cache:page-{m}" for m in (28, 29)]
        await gateway.close()

    async def test_a_group_kept_as_a_plain_set_by_an_older_release_is_invalidated_too(
        self, test_settings: Settings
    ) -> None:
        """During a rolling deploy, processes of the previous release still add keys to the group
        as a Redis set; an invalidation from this release drops those keys as well."""
        assert test_settings.redis_url
        prefix = f"thotis-test-c-{uuid.uuid4().hex}:"
        gateway = RedisGateway(connect_redis(test_settings.redis_url), prefix=prefix)
        cache, client = Cache(gateway), gateway.client
        assert client is not None
        await cache.set_bytes("new-page", b"1", 60, group="lists")
        await client.set(f"{prefix}cache:old-page", b"2", ex=60)
        await client.sadd(f"{prefix}group:lists", f"{prefix}cache:old-page")
        await cache.invalidate_group("lists")
        assert await cache.get_bytes("new-page") is None and await cache.get_bytes("old-page") is None
        assert await client.exists(f"{prefix}group:lists", f"{prefix}groups:lists") == 0
        await gateway.close()

    async def test_outage_degrades_to_the_loader_without_raising(self) -> None:
        cache = Cache(RedisGateway(connect_redis("redis://127.0.0.1:1/0"), prefix="x:"))

        async def load() -> list[int]:
            return [1, 2]

        assert await cache.get_or_load("k", load, 60) == b"[1,2]"
        await cache.delete("k")
        await cache.invalidate_group("g")

    async def test_expiring_members_live_their_own_ttl_and_go_with_their_group(self, test_settings: Settings) -> None:
        assert test_settings.redis_url
        gateway = RedisGateway(connect_redis(test_settings.redis_url), prefix=f"thotis-test-c-{uuid.uuid4().hex}:")
        cache = Cache(gateway)
        assert await cache.live_members("taken") == []
        assert await cache.invalidate(add=Expiring("taken", ("a",), 1, "slots"))
        assert await cache.invalidate(add=Expiring("taken", ("b", "c"), 60, "slots"))
        assert sorted(await cache.live_members("taken") or []) == ["a", "b", "c"]
        await asyncio.sleep(1.1)  # "a" has had its second; the later ones stay
        assert sorted(await cache.live_members("taken") or []) == ["b", "c"]
        await cache.invalidate_group("slots")
        assert await cache.live_members("taken") == []
        await gateway.close()

    async def test_expiring_members_report_an_outage(self) -> None:
        cache = Cache(RedisGateway(connect_redis("redis://127.0.0.1:1/0"), prefix="x:"))
        assert await cache.invalidate(add=Expiring("taken", ("a",), 60, "slots")) is False
        assert await cache.live_members("taken") is None

    async def test_no_redis_configured_means_no_cache(self) -> None:
        cache = Cache(RedisGateway(None, prefix="x:"))
        await cache.set_bytes("k", b"1", 60)
        assert await cache.get_bytes("k") is None


async def _until(condition: Callable[[], Awaitable[bool]], seconds: float = 3.0) -> bool:
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        if await condition():
            return True
        await asyncio.sleep(0.02)
    return False


class TestLocalLayer:
    """Two processes' caches over one Redis: the in-memory copies stay coherent."""

    @pytest.fixture
    async def pair(self, test_settings: Settings) -> AsyncIterator[tuple[Cache, Cache, LocalCache]]:
        assert test_settings.redis_url
        prefix = f"thotis-test-l-{uuid.uuid4().hex}:"
        caches, tasks, gateways = [], [], []
        for _ in range(2):
            gateway = RedisGateway(connect_redis(test_settings.redis_url), prefix=prefix)
            local = LocalCache()
            tasks.append(asyncio.create_task(InvalidationListener(gateway, local).run()))
            caches.append((Cache(gateway, local), local))
            gateways.append(gateway)
        assert await _until(lambda: _true(all(local.live for _, local in caches)))
        yield caches[0][0], caches[1][0], caches[0][1]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for gateway in gateways:
            await gateway.close()

    async def test_reads_are_served_from_memory_after_the_first(self, pair: tuple[Cache, Cache, LocalCache]) -> None:
        a, _, local_a = pair
        await a.set_bytes("k", b"1", 60)
        assert local_a.get("k") == b"1"
        assert await a.get_bytes("k") == b"1"

    async def test_a_delete_in_one_process_reaches_the_other(self, pair: tuple[Cache, Cache, LocalCache]) -> None:
        a, b, local_a = pair
        await b.set_bytes("k", b"old", 60)
        assert await a.get_bytes("k") == b"old" and local_a.get("k") == b"old"
        await b.delete("k")
        assert await _until(lambda: _true(local_a.get("k") is None))
        assert await a.get_bytes("k") is None

    async def test_a_group_invalidation_reaches_the_other(self, pair: tuple[Cache, Cache, LocalCache]) -> None:
        a, b, local_a = pair
        await b.set_bytes("page-1", b"p1", 60, group="lists")
        assert await a.get_bytes("page-1", group="lists") == b"p1"
        await b.invalidate_group("lists")
        assert await _until(lambda: _true(local_a.get("page-1") is None))

    async def test_one_change_dropping_several_keys_and_groups_is_one_message(
        self, pair: tuple[Cache, Cache, LocalCache], test_settings: Settings
    ) -> None:
        a, b, local_a = pair
        for key, group in (("profile", None), ("stats", None), ("page-1", "lists"), ("slots-1", "slots"),
                           ("kept", None), ("other-page", "other-lists")):  # fmt: skip
            await b.set_bytes(key, key.encode(), 60, group=group)
            assert await a.get_bytes(key, group=group) == key.encode() and local_a.get(key) == key.encode()
        assert test_settings.redis_url
        listener = connect_redis(test_settings.redis_url)
        pubsub = listener.pubsub()
        await pubsub.subscribe(a._channel)
        confirmed = await pubsub.get_message(timeout=2)
        assert confirmed is not None and confirmed["type"] == "subscribe"
        await b.invalidate(("profile", "stats"), ("lists", "slots"))
        gone = ("profile", "stats", "page-1", "slots-1")
        assert await _until(lambda: _true(all(local_a.get(key) is None for key in gone)))
        assert local_a.get("kept") == b"kept" and local_a.get("other-page") == b"other-page"
        messages = []
        while (message := await pubsub.get_message(timeout=0.5)) is not None:  # until none comes for 0.5 s
            messages.append(message["data"])
        assert messages == [b"k:profile\nk:stats\ng:lists\ng:slots"]
        await pubsub.aclose()
        await listener.aclose()

    async def test_nothing_is_served_from_memory_without_a_subscription(self) -> None:
        local = LocalCache()
        local.put("k", b"1", 60)
        assert local.get("k") is None
        listener = InvalidationListener(RedisGateway(connect_redis("redis://127.0.0.1:1/0"), prefix="x:"), local)
        task = asyncio.create_task(listener.run())
        await asyncio.sleep(0.3)
        assert local.live is False
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    @pytest.mark.parametrize("after", [0.0, 0.0005, 0.001, 0.002, 0.005, 0.05])
    async def test_stop_ends_the_listener_even_when_the_cancel_is_swallowed(
        self, test_settings: Settings, after: float
    ) -> None:
        """redis-py 8 swallows a cancel that lands mid-subscribe; `stop()` still ends the task."""
        assert test_settings.redis_url
        gateway = RedisGateway(connect_redis(test_settings.redis_url), prefix=f"thotis-test-s-{uuid.uuid4().hex}:")
        local = LocalCache()
        listener = InvalidationListener(gateway, local)
        task = asyncio.create_task(listener.run())
        await asyncio.sleep(after)
        listener.stop()
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=3)
        assert done == {task} and local.live is False
        await gateway.close()


async def _true(value: bool) -> bool:
    return value
