"""Cal.com webhooks, stored once and then applied to the sessions (R11, property 47).

The route records a verified event (insert-or-ignore on its dedupe key) and commits before it
answers, so an acknowledged webhook is never lost; applying it happens afterwards, in its own
transaction, claimed with SKIP LOCKED so two workers never apply one event. An event whose
session is not known yet (a no-show mark that overtook the booking) stays pending, and
`process_pending` (the periodic job) tries it again, up to `MAX_ATTEMPTS`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import ColumnElement, Table, bindparam, case, exists, false, literal, null, or_, select, text, true
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningInsert

from core.cache import Cache
from core.clock import Clock
from core.database import Database
from core.errors import Unauthenticated
from thotis_ext.models import Session, StudentProfile
from thotis_ext.sessions.lifecycle import BookingChange, Outcome, SessionLifecycle, made_by_thotis
from webhooks_in.models import CalcomWebhookEvent
from webhooks_in.parsing import InboundWebhook, booking_facts, parse_webhook

log = logging.getLogger(__name__)

#: Tries of an event that keeps failing or waiting before it is set aside as `failed`.
MAX_ATTEMPTS = 100
#: How long a webhook about a booking Thotis made waits for that booking's own request.
ADOPT_OWN_AFTER = timedelta(minutes=2)


class StaleWebhook(Unauthenticated):
    code = "STALE_WEBHOOK"
    default_message = "The webhook's createdAt is outside the accepted window; it may be a replay."


def check_fresh(event: InboundWebhook, now: datetime, tolerance: timedelta) -> None:
    """Refuse a signed `createdAt` older than `tolerance` or more than a tenth of it ahead (clock skew).

    The flat MEETING_* body carries no `createdAt`; it is accepted as is (its dedupe key still
    makes a replay a no-op).

    Raises:
        StaleWebhook
    """
    if event.sent_at is None:
        return
    if event.sent_at < now - tolerance or event.sent_at > now + tolerance / 10:
        raise StaleWebhook(details={"createdAt": event.sent_at.isoformat()})


@dataclass(frozen=True, slots=True)
class Recorded:
    """A stored event: its id, whether it waits to be applied (else it was stored done), and
    whether it waits for the booking request that made it (`awaits_own_booking`)."""

    id: int
    pending: bool
    #: A creation Thotis's own booking request made, whose session row was not committed yet when
    #: it was stored: applying it now would only defer it (`SessionLifecycle._created`), so the
    #: sweep applies it once that request has committed, instead of a transaction right away.
    awaits_own_booking: bool = False


def _concerns_thotis(event: InboundWebhook) -> tuple[str, dict[str, object], bool]:
    """Whether the event may change a Thotis session, decided as applying it would: the shape of
    the SQL test (`_RECORD`'s key), its parameters, and whether it is a creation Thotis made.

    An event whose booking has no session row (nor its previous one, for a reschedule) and whose
    event type is no mentor's would be applied as ignored: it is stored so at once, in the same
    statement, instead of costing a second transaction (most of an organisation's bookings are not
    Thotis's). Without an event type it waits to be applied, as before.

    A creation of a booking whose session row exists already, with its Meet link or without one to
    add, would be applied as `unchanged`: it is stored so at once too. That is Cal.com's webhook
    for every booking Thotis makes, as costly to apply as the booking itself.
    """
    facts = booking_facts(event) if event.change is not None else None
    if facts is None:
        return "never", {}, False
    created = event.change is BookingChange.CREATED
    own = created and made_by_thotis(facts)
    known: dict[str, object] = {"uid": facts.uid, "meet_url": facts.meet_url} if created else {}
    if facts.event_type_id is None:
        return ("created_always" if created else "always"), known, own
    return (
        ("created_lookup" if created else "lookup"),
        {
            "uid": facts.uid or None,
            "previous_uid": facts.previous_uid or None,
            "event_type_id": facts.event_type_id,
            **known,
        },
        own,
    )


def _record_statement(
    concerns: ColumnElement[bool], known: ColumnElement[bool], unrecorded: ColumnElement[bool]
) -> ReturningInsert[tuple[int, str, bool]]:
    """The INSERT that stores an event: `known` ones as applied and unchanged, else `concerns` ones
    pending, the rest ignored; it returns the id, the status and whether the booking had no
    session row (`unrecorded`)."""
    table = cast(Table, CalcomWebhookEvent.__table__)
    received_at = bindparam("received_at", type_=table.c.received_at.type)
    return (
        insert(table)
        .values(
            received_at=received_at,
            dedupe_key=bindparam("dedupe_key"),
            trigger=bindparam("trigger"),
            booking_uid=bindparam("booking_uid"),
            sent_at=bindparam("sent_at", type_=table.c.sent_at.type),
            body=bindparam("body", type_=table.c.body.type),
            status=case((known, literal("processed")), (concerns, literal("pending")), else_=literal("ignored")),
            outcome=case(
                (known, literal(Outcome.UNCHANGED.value)),
                (concerns, null()),
                else_=literal(Outcome.IGNORED.value),
            ),
            processed_at=case((known, received_at), (concerns, null()), else_=received_at),
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(table.c.id, table.c.status, unrecorded.label("unrecorded"))
    )


_LOOKUP = or_(
    exists().where(or_(Session.uid == bindparam("uid"), Session.uid == bindparam("previous_uid"))),
    exists().where(StudentProfile.calcom_event_type_id == bindparam("event_type_id")),
)
#: `SessionLifecycle._created` on a row that exists: unchanged unless it adds the first Meet link.
_KNOWN_CREATION = exists().where(
    Session.uid == bindparam("uid"),
    or_(Session.meet_url.is_not(None), bindparam("meet_url", type_=Session.meet_url.type).is_(None)),
)
_UNRECORDED = ~exists().where(Session.uid == bindparam("uid"))
#: The storing statement of each shape of `_concerns_thotis`, built once: building and hashing
#: the construct on every webhook cost as much CPU as running it.
_RECORD = {
    "never": _record_statement(false(), false(), false()),
    "always": _record_statement(true(), false(), false()),
    "lookup": _record_statement(_LOOKUP, false(), false()),
    "created_always": _record_statement(true(), _KNOWN_CREATION, _UNRECORDED),
    "created_lookup": _record_statement(_LOOKUP, _KNOWN_CREATION, _UNRECORDED),
}


async def record(session: AsyncSession, event: InboundWebhook, received_at: datetime) -> Recorded | None:
    """Store the event unless an equal one was stored before (then None): pending when applying it
    may change a Thotis session, else already done (ignored, or a known booking unchanged)."""
    shape, params, own = _concerns_thotis(event)
    values = {
        "received_at": received_at,
        "dedupe_key": event.dedupe_key,
        "trigger": event.trigger,
        "booking_uid": event.booking_uid,
        "sent_at": event.sent_at,
        "body": event.raw,
    }
    row = (await session.execute(_RECORD[shape], {**values, **params})).one_or_none()
    if row is None:
        return None
    pending = row.status == "pending"
    return Recorded(row.id, pending, awaits_own_booking=pending and own and bool(row.unrecorded))


@dataclass(frozen=True, slots=True)
class InboxDeps:
    """What applying events needs: its own transactions, the cache it invalidates, the time."""

    database: Database
    cache: Cache
    clock: Clock
    #: `THOTIS_CACHE_SLOTS_TTL_SECONDS`: a booking made in Cal.com directly withholds its slot
    #: instead of dropping the mentor's cached slots (`SessionLifecycle`); no default, so that no
    #: place that builds these deps falls back to dropping them unseen.
    slots_ttl_seconds: int


async def process(deps: InboxDeps, event_id: int) -> Outcome | None:
    """Apply one pending event in its own transaction; None when it is not pending (done, or
    being applied elsewhere). A failure is recorded on the event, never raised."""
    try:
        async with deps.database.session() as session:
            # Losing this commit in a crash loses nothing: the event would still be pending and
            # be applied again, so it need not wait for the disk (the recording commit did).
            await session.execute(text("SET LOCAL synchronous_commit = off"))
            row = (
                await session.execute(
                    select(CalcomWebhookEvent)
                    .where(CalcomWebhookEvent.id == event_id, CalcomWebhookEvent.status == "pending")
                    .with_for_update(skip_locked=True)
                )
            ).scalar_one_or_none()
            if row is None:
                return None
            outcome = await _apply(session, deps, row)
            row.attempts += 1
            row.outcome = outcome.value
            if outcome is Outcome.DEFERRED:
                if row.attempts >= MAX_ATTEMPTS:
                    row.status = "failed"
                    row.last_error = "its session never became known"
            else:
                row.status = "ignored" if outcome is Outcome.IGNORED else "processed"
                row.processed_at = deps.clock.now()
            return outcome
    except Exception as exc:  # recorded and retried by the sweep; the sender already has its 200
        log.exception("Cal.com webhook event %s could not be applied", event_id)
        await _record_failure(deps, event_id, exc)
        return None


async def process_pending(deps: InboxDeps, *, limit: int = 500) -> int:
    """Apply up to `limit` pending events, oldest first (the periodic job); returns how many were tried."""
    async with deps.database.session() as session:
        ids = (
            await session.scalars(
                select(CalcomWebhookEvent.id)
                .where(CalcomWebhookEvent.status == "pending")
                .order_by(CalcomWebhookEvent.id)
                .limit(limit)
            )
        ).all()
    for event_id in ids:
        await process(deps, event_id)
    return len(ids)


async def _apply(session: AsyncSession, deps: InboxDeps, row: CalcomWebhookEvent) -> Outcome:
    event = parse_webhook_row(row)
    change, facts = event.change, booking_facts(event)
    if change is None or facts is None:
        return Outcome.IGNORED
    # Cal.com announces a booking Thotis made before the booking request has committed it: give
    # that request time to record it, and adopt the booking only if it never did (a crash).
    waited = deps.clock.now() - row.received_at
    lifecycle = SessionLifecycle(
        session, deps.cache, deps.clock, adopt_own=waited >= ADOPT_OWN_AFTER, slots_ttl_seconds=deps.slots_ttl_seconds
    )
    return await lifecycle.apply(change, facts)


def parse_webhook_row(row: CalcomWebhookEvent) -> InboundWebhook:
    """The stored body read again, from the very bytes that were received."""
    return parse_webhook(row.body)


async def _record_failure(deps: InboxDeps, event_id: int, exc: Exception) -> None:
    try:
        async with deps.database.session() as session:
            row = await session.get(CalcomWebhookEvent, event_id, with_for_update=True)
            if row is not None and row.status == "pending":
                row.attempts += 1
                row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                if row.attempts >= MAX_ATTEMPTS:
                    row.status = "failed"
    except Exception:
        log.exception("could not record the failure of Cal.com webhook event %s", event_id)


class InboxSweep:
    """Applies pending events every `interval_seconds` until stopped: events that wait for their
    session, and any whose first application was cut short (a crash between answer and apply)."""

    def __init__(self, deps: InboxDeps, interval_seconds: float) -> None:
        self._deps = deps
        self._interval = interval_seconds
        self._stopping = False

    def stop(self) -> None:
        self._stopping = True

    async def run(self) -> None:
        while not self._stopping:
            try:
                await process_pending(self._deps)
            except Exception:  # a database hiccup must not end the sweep for good
                log.exception("Cal.com webhook inbox sweep failed")
            for _ in range(max(1, int(self._interval / 0.5))):
                if self._stopping:
                    return
                await asyncio.sleep(min(0.5, self._interval))
