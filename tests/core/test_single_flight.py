"""SingleFlight: concurrent loads of one key share one call; different keys do not."""

from __future__ import annotations

import asyncio

import pytest

from core.single_flight import SingleFlight


class Source:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[str] = []
        self.release = asyncio.Event()
        self.fail = fail

    def loader(self, key: str):  # type: ignore[no-untyped-def]
        async def load() -> str:
            self.calls.append(key)
            await self.release.wait()
            if self.fail:
                raise LookupError(key)
            return f"value of {key}"

        return load


async def test_concurrent_callers_of_one_key_share_one_load() -> None:
    flights: SingleFlight[str] = SingleFlight()
    source = Source()
    waiting = [asyncio.create_task(flights.run(k, source.loader(k))) for k in ("a", "a", "a", "b")]
    await asyncio.sleep(0)
    source.release.set()
    assert await asyncio.gather(*waiting) == ["value of a"] * 3 + ["value of b"]
    assert sorted(source.calls) == ["a", "b"]
    assert len(flights) == 0
    assert await flights.run("a", source.loader("a")) == "value of a"  # a later call loads again
    assert source.calls.count("a") == 2


async def test_an_error_reaches_every_concurrent_caller_and_is_not_kept() -> None:
    flights: SingleFlight[str] = SingleFlight()
    source = Source(fail=True)
    waiting = [asyncio.create_task(flights.run("a", source.loader("a"))) for _ in range(3)]
    await asyncio.sleep(0)
    source.release.set()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(r, LookupError) for r in results) and source.calls == ["a"]
    source.fail = False
    assert await flights.run("a", source.loader("a")) == "value of a"


async def test_a_caller_that_goes_away_does_not_cancel_the_load_for_the_others() -> None:
    flights: SingleFlight[str] = SingleFlight()
    source = Source()
    first = asyncio.create_task(flights.run("a", source.loader("a")))
    second = asyncio.create_task(flights.run("a", source.loader("a")))
    await asyncio.sleep(0)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    source.release.set()
    assert await second == "value of a" and source.calls == ["a"]
