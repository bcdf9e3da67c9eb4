"""Shared fixtures: one database per run (migrated once), one app, a clean slate per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest
from hypothesis import HealthCheck, settings
from litestar import Litestar
from pydantic import SecretStr

from adapter.app import build_services, create_app
from adapter.auth import Role, mint_token
from adapter.services import Services
from core.database import Base
from core.settings import DEMO_JWT_SECRET, Environment, Settings
from migrations import runner
from tests import servers

settings.register_profile(
    "thotis",
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
settings.load_profile("thotis")

WEBHOOK_SECRET = "test-calcom-webhook-secret"
#: What `reset` sends, in one round trip: DELETE from every table, those that refer to others first
#: (the order rows can be deleted in), not TRUNCATE, which cost 39 ms a reset (new files
#: for every table and index) against 3 ms, over thousands of property-test examples; identities
#: restart at 1 as TRUNCATE's RESTART IDENTITY made them.
_RESET_SQL = "".join(f"DELETE FROM {table.fullname};" for table in reversed(Base.metadata.sorted_tables)) + (
    "SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, 1, false) "
    "FROM pg_sequences WHERE schemaname = 'thotis';"
)
Mint = Callable[..., str]
#: Test folders whose tests run on one xdist worker: the fault tests share package-wide private
#: servers and one report, the browser tests one Chromium (`make test` runs `pytest -n`, with
#: `--dist loadgroup`; each worker has its own database and Redis prefix, so nothing else is shared).
_ONE_WORKER_GROUPS = ("faults", "browser")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = item.path.relative_to(item.config.rootpath).parts
        if len(parts) > 2 and parts[0] == "tests" and parts[1] in _ONE_WORKER_GROUPS:
            item.add_marker(pytest.mark.xdist_group(parts[1]))


@pytest.fixture(scope="session")
def admin_database_url() -> Iterator[str]:
    yield servers.admin_database_url()
    servers.stop_embedded()


@pytest.fixture(scope="session")
def database_url(admin_database_url: str) -> Iterator[str]:
    url = servers.create_database(admin_database_url)
    runner.upgrade(url)
    yield url
    servers.drop_database(admin_database_url, url)


@pytest.fixture(scope="session")
def test_settings(database_url: str) -> Settings:
    return Settings(
        env=Environment.TEST,
        database_url=database_url,
        redis_url=servers.redis_url(),
        redis_key_prefix=f"thotis-test-{uuid.uuid4().hex[:8]}:",
        rate_limit_api_per_minute=1_000_000,
        rate_limit_public_per_minute=1_000_000,
        database_pool_size=5,
        calcom_webhook_secret=SecretStr(WEBHOOK_SECRET),
        webhook_delivery_interval_seconds=0,  # tests deliver with `deliver_due`, at the time they choose
        calcom_inbox_sweep_seconds=0,  # and apply pending webhooks with `process_pending`
        jobs_enabled=False,  # and run jobs by calling them
        log_flush_seconds=0,  # lines written during a test are captured with it
    )


@pytest.fixture(scope="session")
async def services(test_settings: Settings) -> AsyncIterator[Services]:
    built = build_services(test_settings)
    built.start()
    yield built
    await reset(built)
    await built.close()


@pytest.fixture(scope="session")
async def app(services: Services) -> Litestar:
    return create_app(services=services)


@pytest.fixture(scope="session")
async def session_client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """Requests run in the test's own event loop, so they share the services' connections."""
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def reset(services: Services) -> None:
    """Empty the sidecar's tables and this run's Redis keys: each test starts from nothing."""
    async with services.database.engine.begin() as connection:
        raw = await connection.get_raw_connection()
        await raw.driver_connection.execute(_RESET_SQL)  # type: ignore[union-attr]  # asyncpg: simple query
    await empty_caches(services)


async def empty_caches(services: Services) -> None:
    """Drop this run's Redis keys (cache, limits) and this process's local cache copies."""
    client = services.redis.client
    assert client is not None
    keys = [key async for key in client.scan_iter(match=services.settings.redis_key_prefix + "*", count=1000)]
    if keys:
        await client.unlink(*keys)
    services.cache.clear_local()


@pytest.fixture
async def api(session_client: httpx.AsyncClient, services: Services) -> httpx.AsyncClient:
    """The HTTP client on a clean database and Redis."""
    await reset(services)
    return session_client


@pytest.fixture(scope="session")
def mint() -> Mint:
    """Mint a token: `mint(Role.SERVICE, "website")`, with optional ttl/secret/audience."""

    def make(role: Role, sub: str, *, ttl: int = 3600, secret: str = DEMO_JWT_SECRET, audience: str = "thotis") -> str:
        return mint_token(secret, audience, role=role, sub=sub, ttl_seconds=ttl)

    return make


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
