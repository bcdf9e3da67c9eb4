"""Migrations upgrade and downgrade cleanly, match the models, and keep constraints in the database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

import jobs.models  # noqa: F401
import thotis_ext.analytics.models
import thotis_ext.emails.models
import thotis_ext.models  # noqa: F401
import webhooks_in.models  # noqa: F401
import webhooks_out.models  # noqa: F401
from core.database import SCHEMA, Base
from migrations import runner
from tests import servers


@pytest.fixture
def scratch_url(admin_database_url: str) -> Iterator[str]:
    url = servers.create_database(admin_database_url, prefix="thotis_migr")
    yield url
    servers.drop_database(admin_database_url, url)


async def _tables(url: str) -> set[str]:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    async with engine.connect() as connection:
        names = await connection.run_sync(lambda c: set(inspect(c).get_table_names(schema=SCHEMA)))
    await engine.dispose()
    return names


class TestMigrations:
    async def test_upgrade_downgrade_upgrade_round_trip(self, scratch_url: str) -> None:
        import asyncio

        await asyncio.to_thread(runner.upgrade, scratch_url)
        assert {"student_profiles", "sessions", "ratings", "photos"} <= await _tables(scratch_url)
        await asyncio.to_thread(runner.downgrade, scratch_url, "base")
        assert await _tables(scratch_url) <= {"alembic_version"}
        await asyncio.to_thread(runner.upgrade, scratch_url)
        assert "student_profiles" in await _tables(scratch_url)

    async def test_models_and_migrations_agree(self, database_url: str) -> None:
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(database_url)

        def diff(connection: object) -> list[object]:
            context = MigrationContext.configure(
                connection,  # type: ignore[arg-type]
                opts={
                    "include_schemas": True,
                    "version_table_schema": SCHEMA,
                    "include_name": lambda name, type_, _: type_ != "schema" or name == SCHEMA,
                },
            )
            return compare_metadata(context, Base.metadata)

        async with engine.connect() as connection:
            differences = await connection.run_sync(diff)
        await engine.dispose()
        assert differences == []


class TestDatabaseConstraints:
    """The database itself refuses bad rows, whatever the Python code does."""

    @pytest.mark.parametrize(
        "column, value",
        [("current_year", "0"), ("current_year", "11"), ("bio", "'short'"), ("field", "'ASTROLOGY'")],
    )
    async def test_profile_checks(self, database_url: str, column: str, value: str) -> None:
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(database_url)
        with pytest.raises(IntegrityError):
            async with engine.begin() as connection:
                await connection.execute(
                    text(
                        f"INSERT INTO thotis.student_profiles (user_id, name, email, {column}) "
                        f"VALUES ('c-{column}', 'n', 'e@example.org', {value})"
                    )
                )
        await engine.dispose()

    async def test_one_rating_per_session_and_range(self, database_url: str) -> None:
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(database_url)
        async with engine.begin() as connection:
            await connection.execute(
                text("INSERT INTO thotis.student_profiles (user_id, name, email) VALUES ('cr', 'n', 'e@example.org');")
            )
            await connection.execute(
                text(
                    "INSERT INTO thotis.sessions (uid, mentor_id, start_at, end_at, status, student_name, "
                    "student_email) VALUES ('s-cr', 'cr', now(), now() + interval '15 minutes', "
                    "'completed', 's', 's@example.org')"
                )
            )
            await connection.execute(
                text("INSERT INTO thotis.ratings (session_uid, mentor_id, rating) VALUES ('s-cr', 'cr', 5)")
            )
        for statement in (
            "INSERT INTO thotis.ratings (session_uid, mentor_id, rating) VALUES ('s-cr', 'cr', 4)",
            "UPDATE thotis.ratings SET rating = 6 WHERE session_uid = 's-cr'",
            "INSERT INTO thotis.sessions (uid, mentor_id, start_at, end_at, status, student_name, student_email) "
            "VALUES ('s-30', 'cr', now(), now() + interval '30 minutes', 'scheduled', 's', 's@example.org')",
            "INSERT INTO thotis.student_profiles (user_id, name, email) VALUES ('cr', 'dup', 'e@example.org')",
        ):
            with pytest.raises(IntegrityError):
                async with engine.begin() as connection:
                    await connection.execute(text(statement))
        async with engine.begin() as connection:
            await connection.execute(text("DELETE FROM thotis.ratings WHERE mentor_id = 'cr'"))
            await connection.execute(text("DELETE FROM thotis.sessions WHERE mentor_id = 'cr'"))
            await connection.execute(text("DELETE FROM thotis.student_profiles WHERE user_id = 'cr'"))
        await engine.dispose()
