"""Fixtures of the fault tests: private PostgreSQL and Redis servers (ours to stop and restart),
a sidecar stack of real processes per test, and the report of figures.

`THOTIS_TEST_FULL=1` (`make test-full`) runs the longer variants: more load, longer outages.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest

from adapter.calcom_wiring import connect_calcom
from adapter.demo import seed_database
from core.local_servers import clean_env, free_port
from core.settings import Environment, Settings
from migrations.runner import upgrade
from tests.faults.stack import (
    ARTIFACTS,
    WEBHOOK_SECRET,
    PrivatePostgres,
    PrivateRedis,
    Proc,
    Report,
    python_module,
    thotis,
)

FULL = os.environ.get("THOTIS_TEST_FULL") == "1"
#: Sample mentors per academic field: 10 mentors, `demo-mentor-01` … `demo-mentor-10`.
PER_FIELD = 1

_REPORT = Report()


@pytest.fixture(scope="package", autouse=True)
def report() -> Iterator[Report]:
    """The figures of this run; the processes' logs of the last run are in tests/artifacts/faults/."""
    shutil.rmtree(ARTIFACTS / "faults", ignore_errors=True)
    yield _REPORT
    _REPORT.write()


@pytest.fixture(scope="package")
def postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture(scope="package")
def redis_server() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    try:
        server.start()
        yield server
    finally:
        server.close()


@dataclass
class Stack:
    """One sidecar (`thotis serve`) on its own database and key prefix, with a `thotis simulator`
    (or whatever `calcom_url` names) as its Cal.com; more processes may be added to `procs`."""

    database_url: str
    redis_url: str
    prefix: str
    port: int
    env: dict[str, str]
    sidecar: Proc
    procs: list[Proc] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add(self, proc: Proc) -> Proc:
        self.procs.append(proc)
        return proc


def sidecar_env(
    database_url: str, redis_url: str, prefix: str, port: int, calcom_url: str, **extra: str
) -> dict[str, str]:
    return clean_env(
        {
            "THOTIS_ENV": "test",
            "THOTIS_DATABASE_URL": database_url,
            "THOTIS_REDIS_URL": redis_url,
            "THOTIS_REDIS_KEY_PREFIX": prefix,
            "THOTIS_HOST": "127.0.0.1",
            "THOTIS_PORT": str(port),
            "THOTIS_CALCOM_API_URL": calcom_url,
            "THOTIS_CALCOM_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "THOTIS_LOG_LEVEL": "WARNING",
            "THOTIS_JOBS_ENABLED": "false",
            "THOTIS_DATABASE_POOL_SIZE": "5",
            # The load of these tests comes from one token subject; only the Redis test limits it.
            "THOTIS_RATE_LIMIT_API_PER_MINUTE": "1000000",
            **extra,
        }
    )


@asynccontextmanager
async def sidecar_stack(
    postgres: PrivatePostgres,
    redis_url: str,
    name: str,
    *,
    calcom_proxy: bool = False,
    **extra_env: str,
) -> AsyncIterator[Stack]:
    """A fresh database (migrated, 10 sample mentors linked to a simulator process), a key prefix,
    the simulator and `thotis serve`; everything stopped at the end, even on failure.

    `calcom_proxy`: the sidecar talks to Cal.com through `tests.faults.calcom_proxy` (a process
    that injects faults); the mentors are linked through the simulator itself.
    """
    tag = secrets.token_hex(4)
    database_url = await postgres.create_database(f"faults_{name}_{tag}")
    prefix = f"faults-{name}-{tag}:"
    port = free_port()
    sim_port = free_port()
    sim_url = f"http://127.0.0.1:{sim_port}"
    simulator = thotis(
        f"{name}-simulator",
        [
            "simulator",
            "--port",
            str(sim_port),
            "--per-field",
            str(PER_FIELD),
            "--webhook-url",
            f"http://127.0.0.1:{port}/webhooks/calcom",
        ],
        clean_env(
            {"THOTIS_ENV": "test", "THOTIS_CALCOM_WEBHOOK_SECRET": WEBHOOK_SECRET, "THOTIS_LOG_LEVEL": "WARNING"}
        ),
        port=sim_port,
    )
    procs = [simulator]
    calcom_url = sim_url
    if calcom_proxy:
        proxy_port = free_port()
        proxy = python_module(
            f"{name}-calcom-proxy",
            "tests.faults.calcom_proxy",
            ["--port", str(proxy_port), "--upstream-port", str(sim_port)],
            clean_env({}),
            proxy_port,
        )
        procs.append(proxy)
        calcom_url = proxy.base_url
    env = sidecar_env(database_url, redis_url, prefix, port, calcom_url, **extra_env)
    sidecar = thotis(
        f"{name}-sidecar", ["serve", "--workers", "1", "--port", str(port)], env, port=port, ready="/health/live"
    )
    stack = Stack(database_url, redis_url, prefix, port, env, sidecar, [*procs, sidecar])
    try:
        for proc in procs:
            proc.start()
        await asyncio.gather(
            asyncio.to_thread(upgrade, database_url), *(asyncio.to_thread(proc.wait_ready) for proc in procs)
        )
        settings = Settings(
            env=Environment.TEST,
            database_url=database_url,
            redis_url=redis_url,
            redis_key_prefix=prefix,
            calcom_api_url=sim_url,
        )
        sidecar.start()  # its imports (≈ 1 s) overlap the seeding; nothing reads before both are done
        await seed_database(settings, database_url, PER_FIELD, connect_calcom(settings))
        await asyncio.to_thread(sidecar.wait_ready)
        yield stack
    finally:
        for proc in reversed(stack.procs):
            proc.stop()
