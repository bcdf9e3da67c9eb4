"""The system under test: a throw-away database, a Redis key prefix and server subprocesses.

Everything here is created fresh per run and removed at the end, so a benchmark never touches
another database or another instance's Redis keys, and leaves nothing behind.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import asyncpg
import httpx
from redis.asyncio import Redis

from adapter.auth import Role, mint_token
from adapter.calcom_wiring import connect_calcom
from adapter.demo import seed_database
from core.local_servers import clean_env, free_port
from core.settings import DEMO_JWT_SECRET, Environment, Settings
from migrations.runner import upgrade

#: Bounds on every wait, so a broken set-up fails fast instead of hanging.
ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
MAX_SCAN_ROUNDS = 10_000


@dataclass(frozen=True, slots=True)
class Names:
    """Unique names of one run: its database and its Redis key prefix."""

    database: str
    redis_prefix: str

    @classmethod
    def fresh(cls) -> Names:
        tag = secrets.token_hex(4)
        return cls(database=f"thotis_bench_{tag}", redis_prefix=f"thotis-bench-{tag}:")


def database_url(admin_url: str, name: str) -> str:
    """The URL of database `name` on the server of `admin_url` (a postgresql:// URL)."""
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}"


async def create_database(admin_url: str, name: str) -> None:
    connection = await asyncpg.connect(admin_url, timeout=10)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def drop_database(admin_url: str, name: str) -> None:
    connection = await asyncpg.connect(admin_url, timeout=10)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


async def delete_prefix(redis_url: str, prefix: str) -> int:
    """Delete every key under `prefix` (bounded SCAN); returns how many were deleted."""
    client = Redis.from_url(redis_url, socket_timeout=5)
    deleted, cursor, rounds = 0, 0, 0
    try:
        while rounds < MAX_SCAN_ROUNDS:
            cursor, keys = await client.scan(cursor=cursor, match=f"{prefix}*", count=1000)
            if keys:
                deleted += await client.unlink(*keys)
            rounds += 1
            if cursor == 0:
                break
    finally:
        await client.aclose()
    return deleted


async def set_value(redis_url: str, key: str, value: bytes, ttl_seconds: int) -> None:
    client = Redis.from_url(redis_url, socket_timeout=5)
    try:
        await client.set(key, value, ex=ttl_seconds)
    finally:
        await client.aclose()


def migrate_and_seed(
    url: str, redis_url: str, prefix: str, per_field: int, *, calcom_api_url: str | None = None
) -> int:
    """Apply the migrations, then seed sample mentors the way `thotis seed` does (`seed --link`
    when `calcom_api_url` names a `thotis simulator`)."""
    import asyncio

    upgrade(url)
    settings = Settings(
        env=Environment.TEST,
        database_url=url,
        redis_url=redis_url,
        redis_key_prefix=prefix,
        calcom_api_url=calcom_api_url,
    )
    calcom = connect_calcom(settings) if calcom_api_url else None
    return asyncio.run(seed_database(settings, url, per_field, calcom))


def service_token(ttl_seconds: int) -> str:
    """A service-role token signed with the demo key, which THOTIS_ENV=test accepts."""
    return mint_token(DEMO_JWT_SECRET, "thotis", role=Role.SERVICE, sub="thotis-bench", ttl_seconds=ttl_seconds)


@dataclass
class Server:
    """A server subprocess in its own process group, logging to a file."""

    name: str
    argv: list[str]
    env: dict[str, str]
    port: int
    log_path: Path
    ready_path: str
    headers: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        # Own session: Ctrl-C reaches only the orchestrator, which then stops the whole group.
        self.process = subprocess.Popen(
            self.argv, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait_ready(self) -> None:
        """Poll `ready_path` until it answers 200; raises when the process dies or time runs out."""
        assert self.process is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        last = ""
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.process.returncode}; see {self.log_path}")
                try:
                    response = client.get(self.base_url + self.ready_path, headers=self.headers)
                    if response.status_code == 200:
                        return
                    last = f"HTTP {response.status_code}: {response.text[:200]}"
                except httpx.HTTPError as exc:
                    last = repr(exc)
                time.sleep(0.25)
        raise RuntimeError(f"{self.name} not ready after {READY_TIMEOUT_S:.0f}s ({last}); see {self.log_path}")

    def stop(self) -> None:
        """SIGTERM the process group (uvicorn's master and workers), SIGKILL it if it lingers."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            stop_group(process, STOP_TIMEOUT_S)
        if self._log is not None:
            self._log.close()
            self._log = None


def stop_group(process: subprocess.Popen[bytes], timeout_s: float) -> None:
    """Stop a process started with `start_new_session=True` and everything in its group."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=timeout_s)
            return
        except subprocess.TimeoutExpired:
            continue


def sidecar_env(*, env: str, db_url: str, redis_url: str, prefix: str, port: int, **extra: str) -> dict[str, str]:
    """The environment of a benchmarked sidecar: our servers, our key prefix, no rate limit in the way."""
    return clean_env(
        {
            "THOTIS_ENV": env,
            "THOTIS_DATABASE_URL": db_url,
            "THOTIS_REDIS_URL": redis_url,
            "THOTIS_REDIS_KEY_PREFIX": prefix,
            "THOTIS_PORT": str(port),
            "THOTIS_HOST": "127.0.0.1",
            "THOTIS_RATE_LIMIT_API_PER_MINUTE": "100000000",
            **extra,
        }
    )


def app_server(
    *, db_url: str, redis_url: str, prefix: str, workers: int, log_path: Path, token: str, **extra_env: str
) -> Server:
    """The real sidecar, started the way production starts it (`thotis serve`)."""
    port = free_port()
    env = sidecar_env(env="test", db_url=db_url, redis_url=redis_url, prefix=prefix, port=port, **extra_env)
    argv = [sys.executable, "-m", "adapter.cli", "serve", "--workers", str(workers), "--port", str(port)]
    return Server("sidecar", argv, env, port, log_path, "/health/ready", {"Authorization": f"Bearer {token}"})


def ceiling_server(*, redis_url: str, key: str, workers: int, log_path: Path) -> Server:
    """The bare Litestar + one Redis GET app, on the same uvicorn options and worker count."""
    port = free_port()
    env = clean_env({"BENCH_CEILING_REDIS_URL": redis_url, "BENCH_CEILING_KEY": key})
    argv = [sys.executable, "-m", "benchmarks.ceiling_app", "--port", str(port), "--workers", str(workers)]
    return Server("ceiling", argv, env, port, log_path, "/ceiling")
