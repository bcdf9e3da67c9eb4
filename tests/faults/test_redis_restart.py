"""Fault 1: Redis stopped and restarted under load (README "When Redis or the database is down").

A real `thotis serve` on a private Redis takes cached reads from several clients; Redis is stopped
and started again (empty, as after a crash). While it is away reads come from the database (no
error), `/health/ready` says `degraded` but stays 200, and the rate limiter keeps its documented
policy: per-process in-memory windows, so a client over the limit still gets `429 RATE_LIMITED`
with `Retry-After`. Once Redis is back the same process uses it again (cache entries and rate-limit
windows reappear in Redis), and invalidation works again (a write is seen at once).
"""

from __future__ import annotations

import asyncio
import time

import httpx
from redis.asyncio import Redis

from adapter.auth import Role
from tests.faults.conftest import FULL, sidecar_stack
from tests.faults.stack import (
    Phases,
    PrivatePostgres,
    PrivateRedis,
    Report,
    Tally,
    bearer,
    eventually,
    mentor_ids,
    run_load,
    timed,
)

SCENARIO = "1. Redis stopped and restarted mid-load"
OUTAGE_S = 10.0 if FULL else 3.0
USERS = 8 if FULL else 4
LIMIT = 60  # THOTIS_RATE_LIMIT_API_PER_MINUTE of this sidecar
MENTORS = mentor_ids(10)
FIELDS = ("LAW", "MEDICINE", "ENGINEERING", "BUSINESS", "COMPUTER_SCIENCE")


async def _burst(client: httpx.AsyncClient, subject: str, tally: Tally) -> list[int]:
    """LIMIT + 10 requests of one token subject, one after the other: the limiter's answers."""
    headers = bearer(Role.SERVICE, subject)
    statuses = []
    for _ in range(LIMIT + 10):
        response = await timed(client, tally, "GET", "/api/v2/students/by-field/LAW", headers=headers)
        assert response is not None
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert response.json()["error"]["code"] == "RATE_LIMITED"
            assert 1 <= int(response.headers["retry-after"]) <= 60
    return statuses


async def _keys(url: str, pattern: str) -> int:
    """Keys matching `pattern`, on a fresh connection (Redis restarts under us)."""
    redis = Redis.from_url(url, socket_timeout=2)
    try:
        return len([key async for key in redis.scan_iter(match=pattern, count=1000)])
    finally:
        await redis.aclose()


async def _hits(url: str) -> int:
    redis = Redis.from_url(url, socket_timeout=2)
    try:
        return int((await redis.info("stats"))["keyspace_hits"])
    finally:
        await redis.aclose()


class TestRedisRestart:
    async def test_reads_fall_back_limits_hold_per_process_and_redis_is_used_again(
        self, postgres: PrivatePostgres, redis_server: PrivateRedis, report: Report
    ) -> None:
        async with sidecar_stack(
            postgres, redis_server.url, "redis", THOTIS_RATE_LIMIT_API_PER_MINUTE=str(LIMIT)
        ) as stack:
            pid = stack.sidecar.process.pid if stack.sidecar.process else None
            phases = Phases("before", "during", "after")
            bursts: dict[str, list[int]] = {}
            async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:

                async def step(user: int, n: int) -> None:
                    # A fresh subject every 40 requests keeps the load itself under the limit.
                    headers = bearer(Role.SERVICE, f"load-{user}-{n // 40}")
                    mentor = MENTORS[(user * 7 + n) % len(MENTORS)]
                    if n % 3 == 0:
                        url = f"/api/v2/students/by-field/{FIELDS[n % len(FIELDS)]}"
                    elif n % 3 == 1:
                        url = f"/api/v2/students/{mentor}"
                    else:
                        url = f"/api/v2/students?field={FIELDS[user % len(FIELDS)]}&page={1 + n % 2}"
                    await timed(client, phases.now, "GET", url, headers=headers)

                stop = asyncio.Event()
                load = asyncio.create_task(run_load(stop, USERS, step))
                try:
                    await eventually(lambda: _at_least(phases.now, 60), 30, "warm-up load")
                    bursts["before"] = await _burst(client, "burst-before", phases.now)
                    assert await _keys(redis_server.url, stack.prefix + "cache:*") > 0, "the cache is not in Redis"

                    phases.current = "during"
                    await asyncio.to_thread(redis_server.stop)
                    outage_started = time.monotonic()
                    ready = await client.get("/health/ready")
                    assert ready.status_code == 200, ready.text
                    assert ready.json()["data"]["status"] == "degraded"
                    bursts["during"] = await _burst(client, "burst-during", phases.now)
                    await eventually(lambda: _at_least(phases.now, 150), 30, "load during the outage")
                    await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - outage_started)))
                    await asyncio.to_thread(redis_server.start)
                    outage_s = time.monotonic() - outage_started
                    phases.current = "after"
                    recovery_started = time.monotonic()

                    async def limiter_in_redis() -> bool:
                        # Redis came back empty: keys under our prefix are new writes of this process.
                        return await _keys(redis_server.url, f"{stack.prefix}rl:*") > 0

                    await eventually(limiter_in_redis, 30, "the rate limiter to use Redis again")
                    recovery_s = time.monotonic() - recovery_started
                    # A read no one made since the restart misses the in-process layer: it is stored in Redis.
                    cached_before = await _keys(redis_server.url, f"{stack.prefix}cache:*")
                    probe = await client.get("/api/v2/students/by-field/OTHER?pageSize=3", headers=bearer())
                    assert probe.status_code == 200
                    cached_after = await _keys(redis_server.url, f"{stack.prefix}cache:*")
                    assert cached_after > cached_before, "the cache does not write to Redis again"
                    ready_after = await client.get("/health/ready")
                    assert ready_after.json()["data"]["status"] == "ok", ready_after.text
                    hits_before = await _hits(redis_server.url)
                    settle = phases.now.total
                    await eventually(lambda: _at_least(phases.now, settle + 100), 30, "load after recovery")
                    hits = await _hits(redis_server.url) - hits_before
                    bursts["after"] = await _burst(client, "burst-after", phases.now)
                finally:
                    stop.set()
                    await load

                # Invalidation works again: a profile change is seen at once, not after a TTL.
                mentor = bearer(Role.MENTOR, "demo-mentor-03")
                seen = await client.get("/api/v2/students/demo-mentor-03", headers=bearer())
                assert seen.status_code == 200
                new_bio = "Bio changée après le retour de Redis : " + "x" * 40
                changed = await client.put(
                    "/api/v2/students/demo-mentor-03/profile", json={"bio": new_bio}, headers=mentor
                )
                assert changed.status_code == 200, changed.text
                again = await client.get("/api/v2/students/demo-mentor-03", headers=bearer())
                assert again.json()["data"]["bio"] == new_bio
            assert stack.sidecar.process is not None and stack.sidecar.process.pid == pid, "sidecar restarted"

        for name, tally in phases.tallies.items():
            report.add(SCENARIO, f"{name}: {tally.summary()}")
        report.add(
            SCENARIO,
            f"outage {outage_s:.1f} s; rate-limit windows back in Redis {recovery_s:.2f} s after its restart "
            f"(5 s breaker); a new cache entry stored in Redis at once after that",
        )
        report.add(SCENARIO, f"Redis keyspace hits during the {100}+ requests after recovery: {hits}")
        for name, statuses in bursts.items():
            report.add(
                SCENARIO,
                f"rate limit {LIMIT}/min, burst of {len(statuses)} {name}: "
                f"{statuses.count(200)} × 200, {statuses.count(429)} × 429",
            )
        total = phases.total()
        assert total.count("5") == 0 and total.count("transport") == 0, total.summary()
        assert set(total.answers) <= {"200", "429 RATE_LIMITED"}, total.summary()
        # Only the bursts went over the limit; in Redis or in the process's own windows alike.
        assert total.count("429") == sum(statuses.count(429) for statuses in bursts.values())
        for name, statuses in bursts.items():
            assert statuses == [200] * LIMIT + [429] * 10, (name, statuses)


async def _at_least(tally: Tally, n: int) -> bool:
    return tally.total >= n
