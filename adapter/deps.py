"""Dependency providers, collected in one place (the app registers them once)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from litestar import Request
from litestar.di import NamedDependency, Provide
from sqlalchemy.ext.asyncio import AsyncSession

from adapter.auth import Principal
from adapter.guards import services_of
from core.database import commit, rollback
from thotis_ext.profiles.service import ProfileService


async def provide_db_session(request: Request[Any, Any, Any]) -> AsyncGenerator[AsyncSession, None]:
    """One session per request, committed once after the handler, rolled back on error."""
    async with services_of(request).database.sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await rollback(session)
            raise
        await commit(session)


def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    principal: Principal = request.state.principal
    return principal


def provide_profile_service(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
) -> ProfileService:
    services = services_of(request)
    return ProfileService(db_session, services.cache, services.box, services.profile_config)


DEPENDENCIES = {
    "db_session": Provide(provide_db_session),
    "principal": Provide(provide_principal, sync_to_thread=False),
    "profiles": Provide(provide_profile_service, sync_to_thread=False),
}
