"""Rate limits hold under a burst: 1,000 requests at once admit exactly the limit (±1 %).

The requests are sent concurrently at the HTTP level, in process, to an app whose limits are
strict; the rest must be 429 with the stable code and a usable `Retry-After`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest

from adapter.app import build_services, create_app
from adapter.auth import Role
from adapter.services import Services
from core.settings import Settings
from tests.adapter.helpers import auth, create_profile
from tests.factories import valid_body
from tests.security.conftest import FULL

BURST = 1_000
#: Bursts in a row, each on fresh keys (the longer variant repeats it).
ROUNDS = 5 if FULL else 1
API_LIMIT = 300
PUBLIC_LIMIT = 200


@pytest.fixture
async def limited(test_settings: Settings, api: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """An app with strict limits, its own Redis key space, on the test database."""
    settings = test_settings.model_copy(
        update={
            "rate_limit_api_per_minute": API_LIMIT,
            "rate_limit_public_per_minute": PUBLIC_LIMIT,
            "redis_key_prefix": f"{test_settings.redis_key_prefix}burst-{uuid.uuid4().hex[:8]}:",
        }
    )
    services: Services = build_services(settings)
    services.start()
    transport = httpx.ASGITransport(app=create_app(services=services), client=("198.51.100.23", 4321))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
    client_redis = services.redis.client
    assert client_redis is not None
    keys = [key async for key in client_redis.scan_iter(match=settings.redis_key_prefix + "*")]
    if keys:
        await client_redis.unlink(*keys)
    await services.close()


async def _burst(client: httpx.AsyncClient, url: str, headers: dict[str, str] | None = None) -> list[httpx.Response]:
    return list(await asyncio.gather(*(client.get(url, headers=headers) for _ in range(BURST))))


def _check(responses: list[httpx.Response], limit: int, admitted_status: int) -> None:
    codes = Counter(response.status_code for response in responses)
    assert set(codes) <= {admitted_status, 429}, codes
    admitted = codes[admitted_status]
    assert abs(admitted - limit) <= limit * 0.01, codes
    for response in responses:
        if response.status_code == 429:
            assert response.json()["error"]["code"] == "RATE_LIMITED"
            assert 1 <= int(response.headers["retry-after"]) <= 60


@pytest.mark.parametrize("round_number", range(ROUNDS))
class TestBurst:
    async def test_api_limit_per_token_holds_under_1000_concurrent_requests(
        self, limited: httpx.AsyncClient, round_number: int
    ) -> None:
        await create_profile(limited, "m1", valid_body())
        headers = auth(Role.SERVICE, "burst-client")
        _check(await _burst(limited, "/api/v2/students/by-field/LAW", headers), API_LIMIT, 200)
        # Another caller has its own budget.
        other = await limited.get("/api/v2/students/by-field/LAW", headers=auth(Role.SERVICE, "someone-else"))
        assert other.status_code == 200

    async def test_public_limit_per_ip_holds_under_1000_concurrent_requests(
        self, limited: httpx.AsyncClient, round_number: int
    ) -> None:
        _check(await _burst(limited, "/media/photos/" + "a" * 64 + ".jpg"), PUBLIC_LIMIT, 404)

    async def test_failed_logins_are_limited_per_ip_under_a_burst(
        self, limited: httpx.AsyncClient, round_number: int
    ) -> None:
        """Guessing tokens in parallel gets no more tries than guessing them one by one."""
        _check(await _burst(limited, "/api/v2/students", {"Authorization": "Bearer guess"}), PUBLIC_LIMIT, 401)
