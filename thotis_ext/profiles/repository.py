"""SQL for profiles and photos. Hot reads use Core and return plain rows (no ORM cost)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, RowMapping, and_, func, literal_column, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from thotis_ext import rules
from thotis_ext.models import Photo, StudentProfile

P = StudentProfile


@dataclass(frozen=True, slots=True)
class ProfileFilters:
    """AND-combined filters of the public mentor list (R18)."""

    field: str | None = None
    university: str | None = None
    available: bool | None = None
    text: str | None = None


#: The discovery order of SPEC.md §2: more free slots first, then rating, then id.
DISCOVERY_ORDER = (
    P.available_slots_7d.desc(),
    P.average_rating.desc().nulls_last(),
    P.user_id.asc(),
)

SUMMARY_COLUMNS = (
    P.user_id,
    P.name,
    P.photo_hash,
    P.university,
    P.degree,
    P.field,
    P.current_year,
    func.left(P.bio, rules.BIO_EXCERPT_CHARS).label("bio_excerpt"),
    P.average_rating,
    P.total_ratings,
    P.available_slots_7d,
    P.next_available_at,
)


def _conditions(filters: ProfileFilters) -> list[ColumnElement[bool]]:
    # Bare boolean columns, so PostgreSQL matches the partial discovery index.
    conditions: list[ColumnElement[bool]] = [P.is_active.expression, P.is_complete.expression]
    if filters.field is not None:
        conditions.append(P.field == filters.field)
    if filters.university is not None:
        conditions.append(func.lower(P.university) == filters.university.lower())
    if filters.available:
        conditions.append(P.available_slots_7d > 0)
    if filters.text:
        pattern = f"%{rules.escape_like(filters.text)}%"
        conditions.append(or_(*(col.ilike(pattern, escape="\\") for col in (P.name, P.university, P.degree, P.bio))))
    return conditions


class ProfileRepository:
    """Loads and stores profiles and photos within the caller's session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: str, *, for_update: bool = False) -> StudentProfile | None:
        """`for_update`: lock the row until the commit, FOR NO KEY UPDATE (no change here touches
        the key), so sessions inserted for the mentor meanwhile need not wait for it."""
        statement = select(P).where(P.user_id == user_id)
        if for_update:
            statement = statement.with_for_update(key_share=True)
        result = await self.session.execute(statement)
        return result.scalar_one_or_none()

    async def exists(self, user_id: str) -> bool:
        found = await self.session.scalar(select(literal_column("1")).where(P.user_id == user_id))
        return found is not None

    def add(self, profile: StudentProfile) -> None:
        self.session.add(profile)

    async def list_public(
        self, filters: ProfileFilters, *, offset: int, limit: int
    ) -> tuple[Sequence[RowMapping], int]:
        """One page of public summaries in discovery order, and the total across all pages."""
        where = and_(*_conditions(filters))
        statement = (
            select(*SUMMARY_COLUMNS, func.count().over().label("total"))
            .where(where)
            .order_by(*DISCOVERY_ORDER)
            .offset(offset)
            .limit(limit)
        )
        rows = (await self.session.execute(statement)).mappings().all()
        if rows:
            return rows, int(rows[0]["total"])
        if offset == 0:
            return rows, 0
        # Past the last page the window count is not available: count separately.
        total = await self.session.scalar(select(func.count()).select_from(P).where(where))
        return rows, int(total or 0)

    async def public_universities(self) -> list[str]:
        """The universities of listed mentors, A→Z (the directory's filter)."""
        statement = select(P.university).where(P.is_active, P.is_complete).distinct().order_by(P.university)
        return [name for name in await self.session.scalars(statement) if name]

    async def save_photo(self, content_hash: str, content_type: str, data: bytes) -> None:
        """Store a photo once; the same bytes uploaded again are already there."""
        statement = (
            insert(Photo)
            .values(content_hash=content_hash, content_type=content_type, data=data)
            .on_conflict_do_nothing(index_elements=[Photo.content_hash])
        )
        await self.session.execute(statement)

    async def get_photo(self, content_hash: str) -> tuple[bytes, str] | None:
        result = await self.session.execute(
            select(Photo.data, Photo.content_type).where(Photo.content_hash == content_hash)
        )
        row = result.first()
        return (row.data, row.content_type) if row else None
