"""Database kernel: the declarative base (schema `thotis`) and the engine/session factory.

The sidecar's tables live in their own PostgreSQL schema so it can share Cal.com's database
without touching Cal.com's tables.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager

from sqlalchemy import MetaData, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

SCHEMA = "thotis"

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every sidecar table."""

    metadata = MetaData(schema=SCHEMA, naming_convention=NAMING_CONVENTION)


def asyncpg_url(url: str) -> str:
    """Accept plain `postgresql://` URLs and point them at the asyncpg driver."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


_AFTER_COMMIT = "thotis.after_commit"


def after_commit(session: AsyncSession, callback: Callable[[], Awaitable[None]], *, key: Hashable = None) -> None:
    """Run `callback` once the session's transaction has committed (cache invalidation, jobs).

    Doing such work before the commit would let a concurrent reader refill a cache with the old
    row, or a job run before its data exists. Callbacks registered under the same `key` before
    one commit run once (a change that touches a profile in several steps invalidates it once).
    """
    pending: dict[Hashable, Callable[[], Awaitable[None]]] = session.info.setdefault(_AFTER_COMMIT, {})
    pending.setdefault(object() if key is None else key, callback)


def pending_after_commit(session: AsyncSession, key: Hashable) -> Callable[[], Awaitable[None]] | None:
    """The callback registered under `key` for the next commit, if any."""
    pending: dict[Hashable, Callable[[], Awaitable[None]]] = session.info.get(_AFTER_COMMIT, {})
    return pending.get(key)


async def commit(session: AsyncSession) -> None:
    """Commit, then run the callbacks registered with `after_commit`."""
    await session.commit()
    for callback in session.info.pop(_AFTER_COMMIT, {}).values():
        await callback()


async def rollback(session: AsyncSession) -> None:
    """Roll back and forget the callbacks: what they were for did not happen."""
    session.info.pop(_AFTER_COMMIT, None)
    await session.rollback()


class Database:
    """One engine and its session factory, created explicitly, disposed on shutdown."""

    def __init__(self, url: str, *, pool_size: int = 20, echo: bool = False) -> None:
        self.engine: AsyncEngine = create_async_engine(
            asyncpg_url(url),
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
            pool_recycle=1800,
            echo=echo,
        )
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session that commits when the block succeeds and rolls back when it raises."""
        async with self.sessionmaker() as session:
            try:
                yield session
            except BaseException:
                await rollback(session)
                raise
            await commit(session)

    async def ping(self) -> None:
        """Run `SELECT 1`; raises whatever the driver raises when the database is down."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
