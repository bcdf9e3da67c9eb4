"""A per-process copy of hot cache entries, kept coherent by Redis pub/sub invalidations.

Every cached read would otherwise cost a Redis round trip. Each process keeps the entries it
has read; every invalidation is published on one channel and every process drops what it
names. The copy is served only while this process is subscribed: when the subscription is
lost, the copy is cleared and reads go back to Redis until it is re-established.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable

from core.redis import REDIS_FAILURES, RedisGateway

log = logging.getLogger(__name__)

#: Longest a local entry lives, bounding staleness from the read/invalidate race of cache-aside.
LOCAL_TTL_SECONDS = 10.0
#: How long the listener waits for a message before it looks again whether it should stop.
POLL_SECONDS = 1.0


class LocalCache:
    """Bounded in-memory entries with per-entry expiry and group membership."""

    def __init__(self, max_entries: int = 4096, ttl_seconds: float = LOCAL_TTL_SECONDS) -> None:
        self._entries: dict[str, tuple[bytes, float, str | None]] = {}
        self._max = max_entries
        self._ttl = ttl_seconds
        self.live = False

    def get(self, key: str) -> bytes | None:
        if not self.live:
            return None
        entry = self._entries.get(key)
        if entry is None:
            return None
        value, expires_at, _ = entry
        if time.monotonic() >= expires_at:
            self._entries.pop(key, None)
            return None
        return value

    def put(self, key: str, value: bytes, ttl_seconds: float, group: str | None = None) -> None:
        if not self.live:
            return
        if len(self._entries) >= self._max:
            self._entries.clear()  # simple and bounded; the hot set refills in milliseconds
        self._entries[key] = (value, time.monotonic() + min(ttl_seconds, self._ttl), group)

    def drop(self, key: str) -> None:
        self._entries.pop(key, None)

    def drop_group(self, group: str) -> None:
        self.drop_groups((group,))

    def drop_groups(self, groups: Iterable[str]) -> None:
        """Drop every entry of any of `groups`, in one pass over the entries."""
        wanted = set(groups)
        if wanted:
            for key in [k for k, (_, _, g) in self._entries.items() if g in wanted]:
                self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()

    def apply(self, message: str) -> None:
        """Apply one published invalidation: lines of `k:<key>` or `g:<group>` (`invalidation_message`);
        anything else clears everything."""
        groups = []
        for line in message.split("\n"):
            kind, _, name = line.partition(":")
            if kind == "k":
                self.drop(name)
            elif kind == "g":
                groups.append(name)
            else:
                self.clear()
                return
        self.drop_groups(groups)


def invalidation_message(keys: Iterable[str], groups: Iterable[str]) -> str:
    """What one invalidation publishes: a line per key and group, so every process gets one
    message (and scans its entries once) however many a change drops. Keys and group names are
    the sidecar's own (ids are checked: no line breaks)."""
    return "\n".join([*("k:" + key for key in keys), *("g:" + group for group in groups)])


class InvalidationListener:
    """Subscribes to the invalidation channel and applies what arrives to a `LocalCache`."""

    def __init__(self, gateway: RedisGateway, local: LocalCache, *, retry_seconds: float = 1.0) -> None:
        self._redis = gateway
        self._local = local
        self._retry = retry_seconds
        self.channel = gateway.key("invalidate")
        self._stopping = False

    def stop(self) -> None:
        """Ask `run` to return; it notices within a second (see `run`)."""
        self._stopping = True

    async def run(self) -> None:
        """Listen until stopped or cancelled; on any failure go dark, clear, and subscribe again.

        Stopping does not rely on cancellation alone: redis-py 8 swallows a CancelledError that
        lands while `subscribe` connects, after which the task would listen on for ever.
        """
        client = self._redis.client
        if client is None:
            return
        while not self._stopping:
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self._local.clear()  # anything cached before the subscription may be stale
                self._local.live = True
                while not self._stopping:
                    message = await pubsub.get_message(timeout=POLL_SECONDS)
                    if message is not None:
                        data = message["data"]
                        self._local.apply(data.decode() if isinstance(data, bytes) else str(data))
            except REDIS_FAILURES as exc:
                log.warning("cache invalidations lost, serving from Redis only: %s", exc)
            finally:
                self._local.live = False
                self._local.clear()
                with contextlib.suppress(*REDIS_FAILURES):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            if not self._stopping:
                await asyncio.sleep(self._retry)
