"""Redis outages degrade the service, never break it; rate limits answer 429 with Retry-After."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from adapter.app import build_services, create_app
from adapter.auth import Role
from adapter.services import Services
from core.settings import Settings
from tests.adapter.helpers import SERVICE, assert_error, auth, create_profile
from tests.factories import valid_body

API = "/api/v2/students"


async def _client_for(services: Services) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(services=services), client=("198.51.100.9", 1234))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def no_redis(test_settings: Settings, api: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """An app whose Redis is unreachable, on the same (clean) database."""
    services = build_services(test_settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"}))
    services.start()
    async with await _client_for(services) as client:
        yield client
    await services.close()


@pytest.fixture
async def strict_limits(test_settings: Settings, api: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    settings = test_settings.model_copy(update={"rate_limit_api_per_minute": 3, "rate_limit_public_per_minute": 2})
    services = build_services(settings)
    services.start()
    async with await _client_for(services) as client:
        yield client
    await services.close()


class TestRedisOutage:
    async def test_api_serves_from_the_database_when_redis_is_down(self, no_redis: httpx.AsyncClient) -> None:
        await create_profile(no_redis, "m1", valid_body())
        listed = await no_redis.get(f"{API}/by-field/LAW", headers=SERVICE)
        assert listed.status_code == 200 and listed.json()["data"][0]["userId"] == "m1"
        assert (await no_redis.get(f"{API}/m1", headers=SERVICE)).status_code == 200

    async def test_ready_reports_degraded_but_stays_ready(self, no_redis: httpx.AsyncClient) -> None:
        response = await no_redis.get("/health/ready")
        assert response.status_code == 200
        assert response.json()["data"] == {"status": "degraded", "checks": {"database": "ok", "redis": "down"}}


class TestRateLimits:
    async def test_api_limit_per_token_subject_answers_429_with_retry_after(
        self, strict_limits: httpx.AsyncClient
    ) -> None:
        codes = [(await strict_limits.get(f"{API}/by-field/LAW", headers=SERVICE)).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        response = await strict_limits.get(f"{API}/by-field/LAW", headers=SERVICE)
        assert_error(response, 429, "RATE_LIMITED")
        assert 1 <= int(response.headers["retry-after"]) <= 60
        other = await strict_limits.get(f"{API}/by-field/LAW", headers=auth(Role.SERVICE, "another-client"))
        assert other.status_code == 200

    async def test_bad_tokens_are_limited_per_ip(self, strict_limits: httpx.AsyncClient) -> None:
        bad = {"Authorization": "Bearer nope"}
        codes = [(await strict_limits.get(API, headers=bad)).status_code for _ in range(3)]
        assert codes == [401, 401, 429]

    async def test_public_routes_are_limited_per_ip(self, strict_limits: httpx.AsyncClient) -> None:
        url = "/media/photos/" + "a" * 64 + ".jpg"
        codes = [(await strict_limits.get(url)).status_code for _ in range(3)]
        assert codes == [404, 404, 429]
