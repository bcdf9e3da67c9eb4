"""SQL for sessions and the counters they move on the mentor's profile."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import UpdateBase

from core.write_batch import Param, Write, bound_columns, defer, pending
from thotis_ext.models import Session, StudentProfile


class SessionRepository:
    """Loads and stores session rows within the caller's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, uid: str, *, for_update: bool = False) -> Session | None:
        statement = select(Session).where(Session.uid == uid)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def of_mentor(self, mentor_id: str, *, upcoming: bool, now: datetime, limit: int = 50) -> list[Session]:
        """A mentor's sessions: those still to come (soonest first) or the past ones (latest first)."""
        statement = select(Session).where(Session.mentor_id == mentor_id)
        if upcoming:
            statement = statement.where(Session.end_at > now).order_by(Session.start_at)
        else:
            statement = statement.where(Session.end_at <= now).order_by(Session.start_at.desc())
        return list(await self.session.scalars(statement.limit(limit)))

    def add(self, row: Session) -> None:
        self.session.add(row)

    def insert_with_batch(self, row: Session) -> None:
        """INSERT a new row with the transaction's write batch, not through the ORM: a booking's
        row goes in the same statement as its emails, event and counters (core/write_batch.py).
        `row` stays outside the ORM session; its constraints are checked when the batch goes."""
        values = {name: getattr(row, name) for name in _INSERTED}
        defer(self.session, Write("session", _inserting_session, values))

    def bump_counters(self, mentor_id: str, **deltas: int) -> None:
        """Move the mentor's counters in the same transaction as the change (R7.2), never below 0.

        Sent with the transaction's write batch (core/write_batch.py); moves of one mentor within
        a transaction add up into one UPDATE, since one statement may change a row only once.
        A loaded profile keeps its old counters until the commit expires it: nothing reads them in
        between, and synchronising would cost SQLAlchemy an extra SELECT.
        """
        moves = pending(self.session, ("counters", mentor_id), lambda: _CounterMoves(mentor_id))
        for name, delta in deltas.items():
            moves.deltas[name] = moves.deltas.get(name, 0) + delta


#: Every column of a session but the timestamps PostgreSQL fills in.
_INSERTED = tuple(c.name for c in Session.__table__.c if c.name not in ("created_at", "updated_at"))


def _inserting_session(param: Param) -> UpdateBase:
    return insert(Session).values(bound_columns(Session.__table__, _INSERTED, param))


class _CounterMoves:
    """The counter moves of one mentor waiting for the write batch."""

    def __init__(self, mentor_id: str) -> None:
        self.mentor_id = mentor_id
        self.deltas: dict[str, int] = {}

    def write(self) -> Write | None:
        moved = tuple(sorted(name for name, delta in self.deltas.items() if delta))
        if not moved:
            return None  # the moves cancel out
        values = {name: self.deltas[name] for name in moved}
        return Write(("counters", moved), lambda param: _moving(moved, param), {"mentor_id": self.mentor_id, **values})


def _moving(counters: tuple[str, ...], param: Param) -> UpdateBase:
    """Add `param(name)` to each counter in `counters`, clamped at 0, for `param("mentor_id")`."""
    values = {name: func.greatest(getattr(StudentProfile, name) + param(name, Integer), 0) for name in counters}
    return update(StudentProfile).where(StudentProfile.user_id == param("mentor_id")).values(**values)
