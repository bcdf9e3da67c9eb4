"""Writes that nobody reads back before the commit, sent to PostgreSQL together as one statement.

A booking records its session and its emails, moves the mentor's counters, stores its event
and the event's deliveries, and an analytics event. Sent one by one, each of those is a round
trip, and under load each round trip is one more wait for a busy core or database: the tail of a
booking was its statements, not their work. Deferred here, they go as one statement of data-modifying
CTEs (`WITH w0 AS (UPDATE …), w1 AS (INSERT …) SELECT 1`) just before whatever needs them to
have happened:

- the commit (the batch runs first, in the same transaction);
- an ORM flush (so a row the ORM writes is written after the deferred writes, as coded);
- a savepoint (rolling back to it must not undo them);
- any other statement of the session (so a read within the transaction sees them).

All sub-statements of one batch see the same snapshot, so a pending write must not depend on
another pending write's effect; one that would (two counter moves of one mentor, two events of
one subject) merges into, or counts, what is pending under its key. A rollback drops the batch.

Building and compiling SQL costs more CPU than sending it: a write describes its statement by a
`shape` and a builder that uses a bind parameter for each value, so each sequence of shapes is
built and compiled once per process and later batches only bind their values (a `Write`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sqlalchemy import FromClause, bindparam, event, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.types import TypeEngine

_PENDING = "thotis.pending_writes"
#: Set in the `info` of sessions whose statements commit on their own: there is no commit to
#: flush a batch before, so deferring there is refused rather than lost.
NO_BATCH = "thotis.no_write_batch"


#: How many built batch statements a process keeps (a sequence of shapes each; a booking's is one).
TEMPLATES_KEPT = 256


class Param(Protocol):
    """Makes the bind parameter of one value of a write: `param("mentor_id")`, typed if need be."""

    def __call__(
        self, name: str, type_: TypeEngine[Any] | type[TypeEngine[Any]] | None = None
    ) -> BindParameter[Any]: ...


@dataclass(frozen=True, slots=True)
class Write:
    """One write, ready for the batch: `build(param)` makes its INSERT or UPDATE (no RETURNING)
    with `param(name)` where each of `values` goes. Writes of equal `shape` build the same
    statement; `shape=None` builds it anew for every batch (no reuse)."""

    shape: Hashable | None
    build: Callable[[Param], UpdateBase]
    values: Mapping[str, Any]


def bound_columns(table: FromClause, names: Iterable[str], param: Param) -> dict[str, BindParameter[Any]]:
    """`{name: param(name)}` for the named columns of `table`, each typed as its column: the
    values of an INSERT a `Write` builds."""
    return {name: param(name, table.c[name].type) for name in names}


class PendingWrite(Protocol):
    """A write waiting for the batch; `write` is asked for once, when the batch is sent
    (None: nothing to write after all, e.g. counter moves that cancel out)."""

    def write(self) -> Write | None: ...


W = TypeVar("W", bound=PendingWrite)


class _Ready:
    def __init__(self, write: Write) -> None:
        self._write = write

    def write(self) -> Write:
        return self._write


class BatchingSession(Session):
    """The ORM session of `Database`: it sends the pending writes before the commit, a flush, a
    savepoint or any other statement (listeners below)."""

    def begin_nested(self) -> Any:
        # Before the SAVEPOINT: rolling back to it must not undo writes deferred before it.
        send_pending(self)
        return super().begin_nested()


def defer(session: AsyncSession | Session, write: Write | UpdateBase) -> None:
    """Send `write` with the batch; a plain statement (an INSERT or UPDATE with its values bound,
    no RETURNING) is built into the batch anew each time, a `Write` once per shape."""
    ready = write if isinstance(write, Write) else Write(None, lambda _: write, {})
    pending(session, object(), lambda: _Ready(ready))


def pending(session: AsyncSession | Session, key: Hashable, make: Callable[[], W]) -> W:
    """The write pending under `key` in this transaction, made by `make` if there is none yet:
    a caller merges into it what would otherwise be a second write of the same row.

    `session`: an `AsyncSession` or its sync `Session`, from `Database.session()`.
    """
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    if not isinstance(sync, BatchingSession) or sync.info.get(NO_BATCH):
        raise RuntimeError("writes are batched only in a session of Database.session(), which commits")
    if sync.in_nested_transaction():
        raise RuntimeError("a write deferred inside a savepoint would outlive its rollback")
    writes: dict[Hashable, PendingWrite] = sync.info.setdefault(_PENDING, {})
    write = writes.get(key)
    if write is None:
        write = writes[key] = make()
    return write  # type: ignore[return-value]


def pending_writes(session: AsyncSession | Session) -> Iterable[PendingWrite]:
    """What waits for the batch, in the order it was deferred."""
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    return tuple(sync.info.get(_PENDING, {}).values())


async def send_now(session: AsyncSession) -> None:
    """Send the pending writes now, within the transaction: for a caller that must see a
    constraint fail where it can still answer for it, rather than at the commit."""
    await session.run_sync(send_pending)


def send_pending(session: Session) -> None:
    """Send the pending writes now, as one statement (nothing when none waits)."""
    writes: dict[Hashable, PendingWrite] | None = session.info.pop(_PENDING, None)
    if not writes:
        return
    ready = [w for w in (write.write() for write in writes.values()) if w is not None]
    if not ready:
        return
    shapes = tuple(w.shape for w in ready)
    reusable = None not in shapes
    batch = _TEMPLATES.get(shapes) if reusable else None
    if batch is None:
        batch = _build(ready)
        if reusable:
            _TEMPLATES[shapes] = batch
            if len(_TEMPLATES) > TEMPLATES_KEPT:
                _TEMPLATES.popitem(last=False)
    else:
        _TEMPLATES.move_to_end(shapes)
    values = {f"w{i}_{name}": value for i, w in enumerate(ready) for name, value in w.values.items()}
    # On the connection, not the session: no ORM event fires again, no autoflush.
    session.connection().execute(batch, values)


_TEMPLATES: OrderedDict[tuple[Hashable, ...], Any] = OrderedDict()


def _build(ready: list[Write]) -> Any:
    """The statement of a batch: the single write itself, or each write as a data-modifying CTE."""

    def params(i: int) -> Param:
        def param(name: str, type_: TypeEngine[Any] | type[TypeEngine[Any]] | None = None) -> BindParameter[Any]:
            return bindparam(f"w{i}_{name}", type_=type_)

        return param

    statements = [w.build(params(i)) for i, w in enumerate(ready)]
    if len(statements) == 1:
        return statements[0]
    # Unreferenced data-modifying CTEs still run (PostgreSQL runs every one, exactly once).
    return select(literal_column("1")).add_cte(*(s.cte(f"w{i}") for i, s in enumerate(statements)))


@event.listens_for(BatchingSession, "before_commit")
def _before_commit(session: Session) -> None:
    send_pending(session)


@event.listens_for(BatchingSession, "before_flush")
def _before_flush(session: Session, flush_context: Any, instances: Any) -> None:
    send_pending(session)


@event.listens_for(BatchingSession, "do_orm_execute")
def _before_statement(state: ORMExecuteState) -> None:
    send_pending(state.session)


@event.listens_for(BatchingSession, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
