"""Concurrent loads of one key in a process share one call (the "single flight" pattern).

When a cached value is dropped (a booking drops its mentor's slots), every request that arrives
before the first answer would otherwise ask the source again: a burst of identical Cal.com calls,
each waiting behind the others. Here the first caller's load runs as a task of its own and the
others await it; a caller that goes away (its client disconnected) does not cancel it for the rest.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    """One running load per key; its result or error is every concurrent caller's."""

    def __init__(self) -> None:
        self._running: dict[str, asyncio.Task[T]] = {}

    async def run(self, key: str, load: Callable[[], Awaitable[T]]) -> T:
        task = self._running.get(key)
        if task is None:
            task = asyncio.ensure_future(load())
            self._running[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        return await asyncio.shield(task)

    def _finished(self, key: str, done: asyncio.Task[T]) -> None:
        if self._running.get(key) is done:
            del self._running[key]
        if not done.cancelled():
            done.exception()  # read, so an error nobody awaited any more is not reported as lost

    def __len__(self) -> int:
        return len(self._running)
