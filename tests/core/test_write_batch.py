"""core.write_batch: deferred writes go as one statement, before whatever needs them to have happened."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapter.services import Services
from core.database import commit, rollback
from core.write_batch import Param, Write, defer, pending, pending_writes
from tests.adapter.test_query_counts import counting
from webhooks_out.models import WebhookMessage

#: A table of this test's own, outside the project's schema.
NOTES = Table(
    "write_batch_notes",
    MetaData(schema="public"),
    Column("id", Integer, primary_key=True),
    Column("text", String(50), nullable=False),
    Column("hits", Integer, nullable=False, server_default="0"),
)


@pytest.fixture
async def notes(services: Services) -> AsyncIterator[Table]:
    async with services.database.engine.begin() as connection:
        await connection.run_sync(NOTES.metadata.create_all)
        await connection.execute(insert(NOTES).values(id=0, text="counter"))
    yield NOTES
    async with services.database.engine.begin() as connection:
        await connection.run_sync(NOTES.metadata.drop_all)


async def stored(services: Services) -> list[tuple[int, str, int]]:
    async with services.database.engine.connect() as connection:
        rows = await connection.execute(select(NOTES.c.id, NOTES.c.text, NOTES.c.hits).order_by(NOTES.c.id))
        return [(row.id, row.text, row.hits) for row in rows]


def note(n: int) -> Any:
    return insert(NOTES).values(id=n, text=f"note {n}")


class Hits:
    """A mergeable pending write: hits on the counter row add up into one UPDATE."""

    def __init__(self) -> None:
        self.count = 0

    def write(self) -> Write | None:
        if not self.count:
            return None
        return Write(
            "hits",
            lambda param: update(NOTES).where(NOTES.c.id == 0).values(hits=NOTES.c.hits + param("n", Integer)),
            {"n": self.count},
        )


def numbered_note(shape: object, builds: list[int]) -> Any:
    """A reusable note insert of `shape` that counts how often its statement is built."""

    def build(param: Param) -> Any:
        builds.append(1)
        return insert(NOTES).values(id=param("id", Integer), text=param("text", String))

    return lambda n: Write(shape, build, {"id": n, "text": f"note {n}"})


class TestBatch:
    async def test_writes_deferred_in_a_transaction_go_as_one_statement_before_the_commit(
        self, services: Services, notes: Table
    ) -> None:
        async with services.database.sessionmaker() as session:
            await session.execute(text("SELECT 1"))  # the transaction has begun
            with counting(services) as sent:
                for n in (1, 2):
                    defer(session, note(n))
                pending(session, "hits", Hits).count += 2
                assert sent == []  # nothing sent while deferring
                await commit(session)
        assert len(sent) == 1 and sent[0].split()[:3] == ["WITH", "w0", "AS"], sent
        assert await stored(services) == [(0, "counter", 2), (1, "note 1", 0), (2, "note 2", 0)]

    async def test_batches_of_the_same_shapes_are_built_once_and_bind_their_own_values(
        self, services: Services, notes: Table
    ) -> None:
        builds: list[int] = []
        note_of = numbered_note(("note", uuid.uuid4().hex), builds)  # a shape no other test has built
        sent_sql = []
        for first in (1, 3):
            async with services.database.sessionmaker() as session:
                await session.execute(text("SELECT 1"))
                with counting(services) as sent:
                    defer(session, note_of(first))
                    defer(session, note_of(first + 1))
                    await commit(session)
                sent_sql += sent
        assert len(builds) == 2  # one build per write of the first batch; the second reused it
        assert len(sent_sql) == 2 and sent_sql[0] == sent_sql[1]
        assert [(n, t) for n, t, _ in await stored(services)] == [
            (0, "counter"),
            (1, "note 1"),
            (2, "note 2"),
            (3, "note 3"),
            (4, "note 4"),
        ]

    async def test_a_single_write_goes_as_itself(self, services: Services, notes: Table) -> None:
        async with services.database.sessionmaker() as session:
            await session.execute(text("SELECT 1"))
            with counting(services) as sent:
                defer(session, note(1))
                await commit(session)
        assert [s.split()[0] for s in sent] == ["INSERT"]

    async def test_a_statement_of_the_session_sees_what_was_deferred_before_it(
        self, services: Services, notes: Table
    ) -> None:
        async with services.database.sessionmaker() as session:
            defer(session, note(1))
            assert (await session.scalar(select(func.count()).select_from(NOTES))) == 2
            assert list(pending_writes(session)) == []
            await commit(session)
        assert [n for n, *_ in await stored(services)] == [0, 1]

    async def test_writes_of_one_key_merge_and_moves_that_cancel_out_send_nothing(
        self, services: Services, notes: Table
    ) -> None:
        async with services.database.sessionmaker() as session:
            await session.execute(text("SELECT 1"))
            first, second = pending(session, "hits", Hits), pending(session, "hits", Hits)
            assert first is second
            first.count += 1
            second.count -= 1
            with counting(services) as sent:
                await commit(session)
        assert sent == []
        assert await stored(services) == [(0, "counter", 0)]

    async def test_a_rollback_drops_the_batch(self, services: Services, notes: Table) -> None:
        async with services.database.sessionmaker() as session:
            await session.execute(text("SELECT 1"))
            defer(session, note(1))
            await rollback(session)
            await commit(session)  # a new, empty transaction
        assert [n for n, *_ in await stored(services)] == [0]

    async def test_a_failed_batch_fails_the_commit_and_writes_nothing(self, services: Services, notes: Table) -> None:
        async with services.database.sessionmaker() as session:
            await session.execute(text("SELECT 1"))
            defer(session, note(1))
            defer(session, note(1))  # the same key twice: the whole statement fails
            with pytest.raises(Exception, match="write_batch_notes_pkey"):
                await commit(session)
        assert [n for n, *_ in await stored(services)] == [0]

    async def test_rolling_back_a_savepoint_keeps_what_was_deferred_before_it(
        self, services: Services, notes: Table
    ) -> None:
        async with services.database.sessionmaker() as session:
            defer(session, note(1))
            savepoint = await session.begin_nested()
            await session.execute(note(2))
            await savepoint.rollback()
            await commit(session)
        assert [n for n, *_ in await stored(services)] == [0, 1]

    async def test_deferring_where_no_commit_would_send_it_is_refused(self, services: Services, notes: Table) -> None:
        async with services.database.sessionmaker() as session:
            async with session.begin_nested():
                with pytest.raises(RuntimeError, match="savepoint"):
                    defer(session, note(1))
            await rollback(session)
        async with services.database.autocommit_sessionmaker() as session:
            with pytest.raises(RuntimeError, match=r"Database\.session"):
                defer(session, note(1))
        async with AsyncSession(services.database.engine) as session:
            with pytest.raises(RuntimeError, match=r"Database\.session"):
                defer(session, note(1))

    async def test_an_orm_flush_comes_after_the_writes_deferred_before_it(
        self, services: Services, notes: Table
    ) -> None:
        async with services.database.sessionmaker() as session:
            await session.execute(text("SELECT 1"))
            with counting(services) as sent:
                defer(session, note(1))
                session.add(
                    WebhookMessage(id="msg_batch_test", event_type="booking.created", sequence=1, payload=b"{}")
                )
                await session.flush()
            await rollback(session)
        assert [s.split()[0:3] for s in sent] == [
            ["INSERT", "INTO", "public.write_batch_notes"],
            ["INSERT", "INTO", "thotis.webhook_messages"],
        ]
