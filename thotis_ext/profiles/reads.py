"""Cached reads of mentor profiles, which open a database session only on a cache miss.

Most reads are served from the cache; a request-long session (and the unit of work around it)
would cost more than the read itself. Writes go through `ProfileService`, whose changes drop
these cached views after commit.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.cache import Cache, dump
from thotis_ext.profiles.repository import ProfileFilters, ProfileRepository
from thotis_ext.profiles.service import (
    LIST_GROUP,
    ProfileConfig,
    ProfileNotFound,
    check_user_id,
    list_group,
    profile_key,
)
from thotis_ext.profiles.views import private_view, public_view, stats_view, summary_view

_NOT_PUBLIC = b"null"

#: How long a mentor's statistics stay cached (SPEC: 10 minutes; every change invalidates them).
STATS_TTL_SECONDS = 600


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list as cached JSON bytes, with the total across all pages."""

    items_json: bytes
    total: int


def _list_key(filters: ProfileFilters, offset: int, limit: int) -> str:
    raw = "\x1f".join(
        str(part) for part in (filters.field, filters.university, filters.available, filters.text, offset, limit)
    )
    return "profiles:list:" + hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()


class ProfileReads:
    """Public, private, statistics and list views of profiles, as cached JSON bytes."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], cache: Cache, config: ProfileConfig) -> None:
        self._sessions = sessions
        self.cache = cache
        self.config = config

    @asynccontextmanager
    async def repository(self) -> AsyncIterator[ProfileRepository]:
        """A repository over a session of its own, closed after the load; give it an autocommit
        sessionmaker (`Database.autocommit_sessionmaker`): a read is then one round trip."""
        async with self._sessions() as session:
            yield ProfileRepository(session)

    async def public_json(self, user_id: str) -> bytes:
        """The public profile as JSON bytes, cached (R7.5).

        Raises:
            ProfileNotFound: unknown, inactive or incomplete (never shown publicly, R1.5).
        """
        check_user_id(user_id)

        async def load() -> dict[str, Any] | None:
            async with self.repository() as repo:
                profile = await repo.get(user_id)
                if profile is None or not (profile.is_active and profile.is_complete):
                    return None
                return public_view(profile, self.config.media_base_url)

        value = await self.cache.get_or_load(profile_key(user_id, "public"), load, self.config.profile_ttl_seconds)
        if value == _NOT_PUBLIC:
            raise ProfileNotFound()
        return value

    async def private_json(self, user_id: str) -> bytes:
        """The owner's and admins' view as JSON bytes, whatever the status; cached.

        Raises:
            ProfileNotFound
        """
        check_user_id(user_id)

        async def load() -> dict[str, Any] | None:
            async with self.repository() as repo:
                profile = await repo.get(user_id)
                return private_view(profile, self.config.media_base_url) if profile else None

        value = await self.cache.get_or_load(profile_key(user_id, "private"), load, self.config.profile_ttl_seconds)
        if value == _NOT_PUBLIC:
            raise ProfileNotFound()
        return value

    async def stats_json(self, user_id: str) -> bytes:
        """Counters, rates and rating summary of one mentor (R7.1) as JSON bytes, cached for
        `STATS_TTL_SECONDS` and dropped by every change to them (they move with the profile's row).

        Raises:
            InvalidUserId, ProfileNotFound
        """
        check_user_id(user_id)

        async def load() -> dict[str, Any] | None:
            async with self.repository() as repo:
                profile = await repo.get(user_id)
                return stats_view(profile) if profile is not None else None

        value = await self.cache.get_or_load(profile_key(user_id, "stats"), load, STATS_TTL_SECONDS)
        if value == _NOT_PUBLIC:
            raise ProfileNotFound()
        return value

    async def list_public(self, filters: ProfileFilters, *, page: int, page_size: int) -> Page:
        """Active, complete mentors matching every filter, in discovery order (R4, R18)."""
        offset = (page - 1) * page_size

        async def load() -> dict[str, Any]:
            async with self.repository() as repo:
                rows, total = await repo.list_public(filters, offset=offset, limit=page_size)
                media = self.config.media_base_url
                return {"t": total, "i": [summary_view(row, media) for row in rows]}

        key, group = _list_key(filters, offset, page_size), list_group(filters.field)
        cached = await self.cache.get_bytes(key, group=group)
        if cached is not None:
            try:
                return _split_page(cached)
            except ValueError:
                pass  # a value we did not write: reload it
        return _split_page(await self.cache.fill(key, load, self.config.list_ttl_seconds, group=group))

    async def universities(self) -> list[str]:
        """Universities that have listed mentors, for the directory's filter (cached like a list page)."""
        key = "universities"
        cached = await self.cache.get_bytes(key, group=LIST_GROUP)
        if cached is not None:
            names: list[str] = msgspec.json.decode(cached)
            return names
        async with self.repository() as repo:
            names = await repo.public_universities()
        await self.cache.set_bytes(key, dump(names), self.config.list_ttl_seconds, group=LIST_GROUP)
        return names


def _split_page(cached: bytes) -> Page:
    # Cached as {"t":<total>,"i":[...]}: slice out the items so they can be served unparsed.
    head, sep, rest = cached.partition(b',"i":')
    if not sep or not head.startswith(b'{"t":') or not rest.endswith(b"}"):
        raise ValueError("corrupt cached page")
    return Page(items_json=rest[:-1], total=int(head[5:]))
