"""Dependency providers, collected in one place (the app registers them once).

A route has at most one provider on its hot path: Litestar resolves several providers of a
route concurrently in a task group, which costs more than the work itself on a cached read.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from litestar import Request
from litestar.di import Provide
from sqlalchemy.ext.asyncio import AsyncSession

from adapter.auth import Principal
from adapter.guards import services_of
from adapter.services import Services
from core.database import commit, rollback
from thotis_ext.availability import AvailabilityService
from thotis_ext.profiles.booking_target import BookingTargets
from thotis_ext.profiles.reads import ProfileReads
from thotis_ext.profiles.service import ProfileService
from thotis_ext.ratings.service import RatingService
from thotis_ext.sessions.service import SessionService


async def unit_of_work(request: Request[Any, Any, Any]) -> AsyncGenerator[AsyncSession, None]:
    """One session per request, committed once after the handler, rolled back on error.

    A session that never touched the database (a cache hit) is closed without a commit.
    """
    async with services_of(request).database.sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await rollback(session)
            raise
        if session.in_transaction():
            await commit(session)


async def provide_profile_service(request: Request[Any, Any, Any]) -> AsyncGenerator[ProfileService, None]:
    services = services_of(request)
    async for session in unit_of_work(request):
        yield ProfileService(session, services.cache, services.box, services.profile_config, services.linker)


def provide_profile_reads(request: Request[Any, Any, Any]) -> ProfileReads:
    """Cached reads: no session, no unit of work (a miss opens its own short session)."""
    return services_of(request).profile_reads


def provide_availability_service(request: Request[Any, Any, Any]) -> AvailabilityService:
    """Slots are read from the cache or Cal.com: no unit of work (a profile miss opens its own session)."""
    return availability_service(services_of(request))


def booking_targets(services: Services) -> BookingTargets:
    """What availability and bookings read of a mentor, cached with the profile's other views."""
    return BookingTargets(
        services.profile_reads.repository, services.cache, ttl_seconds=services.settings.cache_profile_ttl_seconds
    )


def availability_service(services: Services) -> AvailabilityService:
    return AvailabilityService(
        booking_targets(services),
        services.calcom.client,
        services.cache,
        services.clock,
        ttl_seconds=services.settings.cache_slots_ttl_seconds,
    )


def session_service(services: Services, session: AsyncSession) -> SessionService:
    """Sessions over `session` (the caller's unit of work), with the configured cache TTLs."""
    return SessionService(
        session,
        services.calcom.client,
        services.linker,
        services.cache,
        services.clock,
        booking_targets(services),
        slots_ttl_seconds=services.settings.cache_slots_ttl_seconds,
    )


def principal_of(request: Request[Any, Any, Any]) -> Principal:
    """The caller verified by the API guard."""
    principal: Principal = request.state.principal
    return principal


async def provide_session_service(request: Request[Any, Any, Any]) -> AsyncGenerator[SessionService, None]:
    services = services_of(request)
    async for session in unit_of_work(request):
        yield session_service(services, session)


async def provide_rating_service(request: Request[Any, Any, Any]) -> AsyncGenerator[RatingService, None]:
    services = services_of(request)
    async for session in unit_of_work(request):
        yield RatingService(session, services.cache, services.clock)


DEPENDENCIES = {
    "profiles": Provide(provide_profile_service),
    "reads": Provide(provide_profile_reads, sync_to_thread=False),
    "availability": Provide(provide_availability_service, sync_to_thread=False),
    "sessions": Provide(provide_session_service),
    "ratings": Provide(provide_rating_service),
}
