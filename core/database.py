"""Database kernel: the declarative base (schema `thotis`) and the engine/session factory.

The sidecar's tables live in their own PostgreSQL schema so it can share Cal.com's database
without touching Cal.com's tables.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterable
from contextlib import asynccontextmanager

from sqlalchemy import MetaData, text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

from core.write_batch import NO_BATCH, BatchingSession

log = logging.getLogger(__name__)

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


#: SQLSTATEs of a database that is unreachable or going away, not of a bad statement: class 08
#: (connection exception), 57P01–57P03 (admin/crash shutdown, "cannot connect now" while it shuts
#: down or starts up) and 53300 (too many connections). asyncpg raises these as plain errors, which
#: SQLAlchemy wraps in a bare `DBAPIError`, not an `OperationalError`.
_UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")


def is_unavailable(exc: BaseException) -> bool:
    """Whether `exc` means the database cannot be reached right now (a 503 to retry), rather than
    a bug or a refused statement."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout | ConnectionError):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        return isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_SQLSTATES)
    return False


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


_ON_ROLLBACK = "thotis.on_rollback"


def on_rollback(session: AsyncSession, callback: Callable[[], Awaitable[None]], *, key: Hashable) -> None:
    """Run `callback` if the session's transaction does not commit: it rolls back, or the commit
    itself fails (the database went away). It undoes what was done outside the database for this
    transaction, such as a booking already made in Cal.com, so nothing is left half-written."""
    session.info.setdefault(_ON_ROLLBACK, {})[key] = callback


def discard_on_rollback(session: AsyncSession, key: Hashable) -> None:
    """Forget the callback registered under `key` (the caller has undone the work itself)."""
    session.info.get(_ON_ROLLBACK, {}).pop(key, None)


async def _compensate(session: AsyncSession) -> None:
    for callback in session.info.pop(_ON_ROLLBACK, {}).values():
        try:
            await callback()
        except Exception:
            log.exception("undoing the work of a transaction that did not commit failed")


async def commit(session: AsyncSession) -> None:
    """Commit, then run the callbacks registered with `after_commit`; if the commit fails, run
    those registered with `on_rollback` instead, and raise."""
    try:
        await session.commit()
    except BaseException:
        session.info.pop(_AFTER_COMMIT, None)
        await _compensate(session)
        raise
    session.info.pop(_ON_ROLLBACK, None)
    await _run_all(session.info.pop(_AFTER_COMMIT, {}).values())


async def _run_all(callbacks: Iterable[Callable[[], Awaitable[None]]]) -> None:
    """Run the after-commit callbacks side by side: each is a round trip to its own server (the
    cache's Redis, the jobs' broker) and none needs another's result, so under load the request
    waits for the slowest, not for their sum. Every one runs; the first failure is raised."""
    pending = [callback() for callback in callbacks]
    if len(pending) == 1:
        await pending[0]
        return
    failures = [r for r in await asyncio.gather(*pending, return_exceptions=True) if isinstance(r, BaseException)]
    if failures:
        raise failures[0]


async def rollback(session: AsyncSession) -> None:
    """Roll back and forget the `after_commit` callbacks: what they were for did not happen; run
    the `on_rollback` ones, even when the rollback itself fails (the database is gone)."""
    session.info.pop(_AFTER_COMMIT, None)
    try:
        await session.rollback()
    finally:
        await _compensate(session)


class Database:
    """One engine and its session factory, created explicitly, disposed on shutdown.

    No ping before each checkout: it cost a round trip on every transaction (17% of a Cal.com
    webhook's CPU). After PostgreSQL restarts, the first statement on a stale connection fails as
    a disconnect, which answers 503 DATABASE_UNAVAILABLE and makes SQLAlchemy drop every pooled
    connection made before it, so the next requests connect afresh (tests/faults).
    """

    def __init__(self, url: str, *, pool_size: int = 20, echo: bool = False) -> None:
        self.engine: AsyncEngine = create_async_engine(
            asyncpg_url(url),
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=False,
            pool_recycle=1800,
            echo=echo,
        )
        # Sessions that send their deferred writes as one statement (core/write_batch.py).
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False, sync_session_class=BatchingSession)
        # The same pool, with each statement committing on its own: no BEGIN and COMMIT (or
        # ROLLBACK) round trips around it, two of a cached read miss's three. For a single-statement
        # write or a read that needs no snapshot; `after_commit` and `on_rollback` never run there.
        self.autocommit_sessionmaker = async_sessionmaker(
            self.engine.execution_options(isolation_level="AUTOCOMMIT"),
            expire_on_commit=False,
            sync_session_class=BatchingSession,
            info={NO_BATCH: True},
        )

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
