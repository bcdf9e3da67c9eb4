"""Work registered with `after_commit` runs after a commit, once per key, and never after a rollback."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from adapter.services import Services
from core.database import after_commit, commit, rollback


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
