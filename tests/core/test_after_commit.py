"""Work registered with `after_commit` runs after a commit, once per key, and never after a rollback;
work registered with `on_rollback` runs exactly when the transaction does not commit."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError

from adapter.services import Services
from core.database import after_commit, commit, discard_on_rollback, is_unavailable, on_rollback, rollback


class TestAfterCommit:
    async def test_runs_after_commit_once_per_key_and_never_after_rollback(self, services: Services) -> None:
        ran: list[str] = []

        def record(name: str) -> Callable[[], Awaitable[None]]:
            async def callback() -> None:
                ran.append(name)

            return callback

        async with services.database.sessionmaker() as session:
            after_commit(session, record("a1"), key="a")
            after_commit(session, record("a2"), key="a")  # same key: the first one stands
            after_commit(session, record("x"))
            after_commit(session, record("y"))  # no key: each runs
            assert ran == []
            await commit(session)
            assert ran == ["a1", "x", "y"]
            after_commit(session, record("lost"), key="a")
            await rollback(session)
            await commit(session)
        assert ran == ["a1", "x", "y"]

    async def test_callbacks_run_side_by_side_and_a_failure_stops_none_of_the_others(self, services: Services) -> None:
        """Each waits for the other to have started: run one after the other, they never finish."""
        started = {name: asyncio.Event() for name in ("cache", "jobs")}
        ran: list[str] = []

        def waiting_for(other: str, name: str) -> Callable[[], Awaitable[None]]:
            async def callback() -> None:
                started[name].set()
                await started[other].wait()
                ran.append(name)

            return callback

        async def failing() -> None:
            raise RuntimeError("the broker is away")

        async with services.database.sessionmaker() as session:
            after_commit(session, waiting_for("jobs", "cache"))
            after_commit(session, failing)
            after_commit(session, waiting_for("cache", "jobs"))
            with pytest.raises(RuntimeError, match="the broker is away"):
                await asyncio.wait_for(commit(session), timeout=5)
        assert sorted(ran) == ["cache", "jobs"]


class TestOnRollback:
    async def test_runs_when_the_transaction_rolls_back_or_the_commit_fails_never_after_a_commit(
        self, services: Services
    ) -> None:
        ran: list[str] = []

        def record(name: str) -> Callable[[], Awaitable[None]]:
            async def callback() -> None:
                ran.append(name)

            return callback

        async with services.database.sessionmaker() as session:
            on_rollback(session, record("kept"), key="k")
            await commit(session)
            assert ran == []  # committed: nothing to undo, and forgotten
            on_rollback(session, record("undo"), key="u")
            on_rollback(session, record("discarded"), key="d")
            discard_on_rollback(session, "d")
            await rollback(session)
            assert ran == ["undo"]
            await commit(session)
        assert ran == ["undo"]

    async def test_a_failing_commit_runs_the_undo_and_raises(self, services: Services) -> None:
        ran: list[str] = []

        async def undo() -> None:
            ran.append("undo")

        async def later() -> None:
            ran.append("after-commit")

        async with services.database.sessionmaker() as session:
            await session.execute(text("SELECT 1"))
            on_rollback(session, undo, key="u")
            after_commit(session, later)

            async def broken() -> None:
                raise OperationalError("COMMIT", {}, ConnectionError("the database went away"))

            session.commit = broken  # type: ignore[method-assign]
            with pytest.raises(OperationalError):
                await commit(session)
        assert ran == ["undo"]


class TestIsUnavailable:
    def test_connection_and_shutdown_errors_are_unavailability_not_bugs(self) -> None:
        class DriverError(Exception):
            def __init__(self, sqlstate: str | None) -> None:
                super().__init__("driver")
                self.sqlstate = sqlstate

        for state in ("08006", "08003", "57P01", "57P02", "57P03", "53300"):
            assert is_unavailable(DBAPIError("SELECT 1", {}, DriverError(state)))
        for state in ("23505", "42P01", "22P02", None):
            assert not is_unavailable(DBAPIError("SELECT 1", {}, DriverError(state)))
        assert is_unavailable(DBAPIError("SELECT 1", {}, DriverError(None), connection_invalidated=True))
        assert is_unavailable(OperationalError("SELECT 1", {}, DriverError(None)))
        assert is_unavailable(ConnectionRefusedError())
        assert not is_unavailable(ValueError())
