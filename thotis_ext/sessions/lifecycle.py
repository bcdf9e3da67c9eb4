"""Sessions as Cal.com says they changed: the state machine behind Cal.com's webhooks (R11).

Cal.com delivers each webhook once, in no guaranteed order, sometimes twice (one per matching
subscription). Every change here is therefore idempotent and order-free: the first fact about a
booking creates its row in the state that fact implies (a cancellation seen before the creation
leaves a cancelled row, which a late creation never resurrects), and a fact that no longer
applies changes nothing. Counters move in the same transaction as the row (R7.2).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.cache import Cache
from core.clock import Clock
from core.i18n import normalise_locale
from thotis_ext import events, rules
from thotis_ext.availability import invalidate_sessions_change_after_commit
from thotis_ext.enums import CancelledBy, SessionStatus
from thotis_ext.models import Session, StudentProfile
from thotis_ext.profiles.repository import ProfileRepository
from thotis_ext.sessions.repository import SessionRepository

log = logging.getLogger(__name__)


class BookingChange(StrEnum):
    """What Cal.com reported about one booking."""

    CREATED = "created"
    CANCELLED = "cancelled"
    RESCHEDULED = "rescheduled"
    ENDED = "ended"
    NO_SHOW = "no_show"


class _RowAppeared(Exception):
    """The row this change was about to create was committed meanwhile by a concurrent change."""


class Outcome(StrEnum):
    """What applying a change did."""

    APPLIED = "applied"  # a row was created or moved
    UNCHANGED = "unchanged"  # already known, or no longer applicable
    IGNORED = "ignored"  # not a Thotis session
    DEFERRED = "deferred"  # refers to a session not known yet: try again later


@dataclass(frozen=True, slots=True)
class BookingFacts:
    """What one Cal.com webhook says about a booking, in Thotis's words (all optional but `uid`)."""

    uid: str
    booking_id: int | None = None
    event_type_id: int | None = None
    start: datetime | None = None
    end: datetime | None = None
    attendee_name: str | None = None
    attendee_email: str | None = None
    attendee_time_zone: str | None = None
    attendee_language: str | None = None
    question: str | None = None
    meet_url: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    organizer_email: str | None = None
    changed_by_email: str | None = None  # cancelledBy / rescheduledBy
    reason: str | None = None
    previous_uid: str | None = None  # the booking a reschedule replaced
    previous_start: datetime | None = None
    previous_end: datetime | None = None
    attendee_no_show: bool | None = None
    host_no_show: bool | None = None


def made_by_thotis(facts: BookingFacts) -> bool:
    """Whether Thotis's own booking request made this booking (the metadata it sends Cal.com)."""
    return facts.metadata.get("thotisSession") == "true"


class SessionLifecycle:
    """Applies Cal.com's booking changes to the sidecar's sessions within the caller's transaction."""

    def __init__(
        self,
        session: AsyncSession,
        cache: Cache,
        clock: Clock,
        *,
        adopt_own: bool = True,
        slots_ttl_seconds: int | None = None,
    ) -> None:
        """`adopt_own=False`: a booking Thotis made itself (its metadata says so) is not recorded
        from its webhook, which Cal.com sends before the booking request has committed its row;
        the event waits (DEFERRED) and only adopts the booking later if the row never appeared.
        `slots_ttl_seconds` (`THOTIS_CACHE_SLOTS_TTL_SECONDS`): when given, a new booking made in
        Cal.com directly withholds its slot from the mentor's cached slots, as a booking Thotis
        makes does (`availability.withheld_slot`), instead of dropping them all."""
        self.adopt_own = adopt_own
        self.slots_ttl_seconds = slots_ttl_seconds
        self.session = session
        self.sessions = SessionRepository(session)
        self.profiles = ProfileRepository(session)
        self.cache = cache
        self.clock = clock

    async def apply(self, change: BookingChange, facts: BookingFacts) -> Outcome:
        handler = {
            BookingChange.CREATED: self._created,
            BookingChange.CANCELLED: self._cancelled,
            BookingChange.RESCHEDULED: self._rescheduled,
            BookingChange.ENDED: self._ended,
            BookingChange.NO_SHOW: self._no_show,
        }[change]
        try:
            return await handler(facts)
        except _RowAppeared:
            # Another event of the same booking (its creation) recorded the row while this one was
            # inserting it: the row is committed now, so apply this change to it as it stands.
            try:
                return await handler(facts)
            except _RowAppeared:
                return Outcome.DEFERRED  # the sweep tries again

    async def _created(self, facts: BookingFacts) -> Outcome:
        row = await self.sessions.get(facts.uid, for_update=True)
        if row is not None:
            if row.meet_url is None and facts.meet_url:
                row.meet_url = facts.meet_url
                return Outcome.APPLIED
            return Outcome.UNCHANGED
        if made_by_thotis(facts) and not self.adopt_own:
            return Outcome.DEFERRED
        return await self._first_seen(facts, SessionStatus.SCHEDULED)

    async def _cancelled(self, facts: BookingFacts) -> Outcome:
        row = await self.sessions.get(facts.uid, for_update=True)
        if row is None:
            return await self._first_seen(facts, SessionStatus.CANCELLED)
        if row.status != SessionStatus.SCHEDULED.value:
            return Outcome.UNCHANGED
        mentor = await self._mentor_by_id(row.mentor_id)
        who = self._who(facts, mentor)
        now = self.clock.now()
        row.status = SessionStatus.CANCELLED.value
        row.cancelled_by, row.cancellation_reason, row.cancelled_at = who.value, facts.reason, now
        self.sessions.bump_counters(
            row.mentor_id,
            scheduled_sessions=-1,
            cancelled_sessions=1,
            mentor_cancellations=1 if who is CancelledBy.MENTOR else 0,
            available_slots_7d=rules.in_discovery(row.start_at, now),
        )
        await events.cancelled_event(self.session, row, now)
        self._invalidate(mentor)
        return Outcome.APPLIED

    async def _rescheduled(self, facts: BookingFacts) -> Outcome:
        old = await self.sessions.get(facts.previous_uid, for_update=True) if facts.previous_uid else None
        new = await self.sessions.get(facts.uid, for_update=True)
        mentor = await self._mentor_by_id(old.mentor_id) if old else await self._mentor_of(facts)
        if mentor is None:
            return Outcome.IGNORED
        outcome = Outcome.UNCHANGED
        now = self.clock.now()
        if old is not None and old.status == SessionStatus.SCHEDULED.value:
            old.status = SessionStatus.CANCELLED.value
            old.rescheduled_to_uid = facts.uid
            old.cancelled_by = self._who(facts, mentor).value
            old.cancellation_reason, old.cancelled_at = facts.reason or "Rescheduled", now
            self.sessions.bump_counters(
                old.mentor_id, scheduled_sessions=-1, available_slots_7d=rules.in_discovery(old.start_at, now)
            )
            await self.session.flush()  # free the old start in the unique index first
            outcome = Outcome.APPLIED
        elif old is None and facts.previous_uid and facts.previous_start and facts.previous_end:
            # The reschedule came first: remember the old booking as replaced, so its late
            # creation changes nothing (it counts as neither scheduled nor cancelled).
            replaced = BookingFacts(
                uid=facts.previous_uid,
                start=facts.previous_start,
                end=facts.previous_end,
                attendee_name=facts.attendee_name,
                attendee_email=facts.attendee_email,
                attendee_time_zone=facts.attendee_time_zone,
                attendee_language=facts.attendee_language,
                question=facts.question,
                reason=facts.reason or "Rescheduled",
            )
            await self._insert(mentor, replaced, SessionStatus.CANCELLED, rescheduled_to=facts.uid, count=False)
            outcome = Outcome.APPLIED
        if new is None:
            inserted = await self._insert(mentor, facts, SessionStatus.SCHEDULED, rescheduled_from=facts.previous_uid)
            outcome = Outcome.APPLIED if inserted is Outcome.APPLIED else outcome
        elif new.rescheduled_from_uid is None and facts.previous_uid:  # its cancellation came first
            new.rescheduled_from_uid = facts.previous_uid
            outcome = Outcome.APPLIED
        self._invalidate(mentor)
        return outcome

    async def _ended(self, facts: BookingFacts) -> Outcome:
        row = await self.sessions.get(facts.uid, for_update=True)
        if row is None:
            return await self._first_seen(facts, SessionStatus.COMPLETED)
        if row.status != SessionStatus.SCHEDULED.value:
            return Outcome.UNCHANGED
        row.status = SessionStatus.COMPLETED.value
        row.completed_at = facts.end or row.end_at
        self.sessions.bump_counters(row.mentor_id, scheduled_sessions=-1, completed_sessions=1)
        await events.session_event(self.session, "booking.completed", row, self.clock.now())
        self._invalidate(await self._mentor_by_id(row.mentor_id))
        return Outcome.APPLIED

    async def _no_show(self, facts: BookingFacts) -> Outcome:
        """Cal.com sends this when attendees are marked (or unmarked); the host flag rides along."""
        row = await self.sessions.get(facts.uid, for_update=True)
        if row is None:
            return Outcome.DEFERRED  # its creation has not arrived yet; the payload cannot create it
        party = "attendee" if facts.attendee_no_show else "host" if facts.host_no_show else None
        if party is not None and row.status in (SessionStatus.SCHEDULED.value, SessionStatus.COMPLETED.value):
            was_scheduled = row.status == SessionStatus.SCHEDULED.value
            row.status, row.no_show_party = SessionStatus.NO_SHOW.value, party
            self.sessions.bump_counters(
                row.mentor_id,
                scheduled_sessions=-1 if was_scheduled else 0,
                completed_sessions=0 if was_scheduled else -1,
                no_show_sessions=1,
            )
            await events.session_event(self.session, "booking.no_show", row, self.clock.now(), party=party)
        elif party is None and row.status == SessionStatus.NO_SHOW.value:
            row.status, row.no_show_party = SessionStatus.COMPLETED.value, None
            row.completed_at = row.completed_at or row.end_at
            self.sessions.bump_counters(row.mentor_id, no_show_sessions=-1, completed_sessions=1)
            await events.session_event(self.session, "booking.completed", row, self.clock.now())
        else:
            return Outcome.UNCHANGED
        self._invalidate(await self._mentor_by_id(row.mentor_id))
        return Outcome.APPLIED

    async def _first_seen(self, facts: BookingFacts, status: SessionStatus) -> Outcome:
        """A booking not known yet: record it in `status` if it is a Thotis mentor's, else ignore it."""
        mentor = await self._mentor_of(facts)
        return Outcome.IGNORED if mentor is None else await self._insert(mentor, facts, status)

    async def _insert(
        self,
        mentor: StudentProfile,
        facts: BookingFacts,
        status: SessionStatus,
        *,
        rescheduled_from: str | None = None,
        rescheduled_to: str | None = None,
        count: bool = True,
    ) -> Outcome:
        """A row first seen through this fact, in the state the fact implies."""
        if facts.start is None or facts.end is None or not facts.attendee_email:
            log.warning("Cal.com booking %s lacks its times or attendee; not recorded", facts.uid)
            return Outcome.IGNORED
        now = self.clock.now()
        row = Session(
            uid=facts.uid,
            calcom_booking_id=facts.booking_id,
            mentor_id=mentor.user_id,
            start_at=facts.start,
            end_at=facts.end,
            status=status.value,
            meet_url=facts.meet_url,
            student_name=(facts.attendee_name or facts.attendee_email)[:200],
            student_email=facts.attendee_email[:320],
            student_time_zone=(facts.attendee_time_zone or "UTC")[:64],
            student_language=_language(facts.attendee_language),
            student_question=facts.question,
            rescheduled_from_uid=rescheduled_from,
            rescheduled_to_uid=rescheduled_to,
        )
        deltas: dict[str, int] = {}
        if status is SessionStatus.SCHEDULED:
            deltas = {"scheduled_sessions": 1, "available_slots_7d": -rules.in_discovery(facts.start, now)}
        elif status is SessionStatus.CANCELLED:
            who = self._who(facts, mentor)
            row.cancelled_by, row.cancellation_reason, row.cancelled_at = who.value, facts.reason, now
            deltas = {"cancelled_sessions": 1, "mentor_cancellations": 1 if who is CancelledBy.MENTOR else 0}
        elif status is SessionStatus.COMPLETED:
            row.completed_at = facts.end
            deltas = {"completed_sessions": 1}
        try:
            async with self.session.begin_nested():
                self.sessions.add(row)
                await self.session.flush()
        except IntegrityError as exc:
            if "pk_sessions" in str(exc.orig):  # recorded meanwhile: by the request that booked it,
                # or by another webhook of this booking applied at the same time
                if status is SessionStatus.SCHEDULED and rescheduled_from is None:
                    return Outcome.UNCHANGED  # a creation adds nothing to a row that exists
                raise _RowAppeared(facts.uid) from exc  # a later state must still be applied to it
            # Another scheduled session holds that start, or Cal.com reused a booking id: keep ours.
            log.warning("Cal.com booking %s not recorded: %s", facts.uid, str(exc.orig).splitlines()[0])
            return Outcome.IGNORED
        if count:
            self.sessions.bump_counters(mentor.user_id, **deltas)
        await self._announce(row, facts, now, count=count)
        new_booking = status is SessionStatus.SCHEDULED and rescheduled_from is None
        self._invalidate(mentor, taken=row if new_booking else None)
        return Outcome.APPLIED

    async def _announce(self, row: Session, facts: BookingFacts, now: datetime, *, count: bool) -> None:
        """The events of a row first seen through this fact: what a receiver would have got had
        Cal.com's webhooks arrived in order (its creation, then the state it is already in)."""
        if row.rescheduled_from_uid is not None:
            await events.rescheduled_event(self.session, row, row.rescheduled_from_uid, facts.previous_start, now)
            return
        await events.session_event(self.session, "booking.created", row, now)
        if row.status == SessionStatus.CANCELLED.value and count:
            await events.cancelled_event(self.session, row, now)
        elif row.status == SessionStatus.COMPLETED.value:
            await events.session_event(self.session, "booking.completed", row, now)

    async def _mentor_of(self, facts: BookingFacts) -> StudentProfile | None:
        """The mentor whose Thotis event type this booking is for, if any (else not a Thotis session)."""
        if facts.event_type_id is None:
            return None
        result = await self.session.execute(
            select(StudentProfile).where(StudentProfile.calcom_event_type_id == facts.event_type_id)
        )
        return result.scalar_one_or_none()

    async def _mentor_by_id(self, mentor_id: str) -> StudentProfile:
        mentor = await self.profiles.get(mentor_id)
        assert mentor is not None  # sessions.mentor_id is a foreign key
        return mentor

    @staticmethod
    def _who(facts: BookingFacts, mentor: StudentProfile) -> CancelledBy:
        """The mentor when Cal.com names the organiser (or the mentor's e-mail); else the student."""
        by = (facts.changed_by_email or "").casefold()
        mentor_emails = {(facts.organizer_email or "").casefold(), str(mentor.email or "").casefold()} - {""}
        return CancelledBy.MENTOR if by and by in mentor_emails else CancelledBy.STUDENT

    def _invalidate(self, mentor: StudentProfile, *, taken: Session | None = None) -> None:
        """Once committed, drop the mentor's cached profile, list pages and slots; a new booking
        (`taken`) withholds its own slot instead of dropping the slots, when their TTL is known."""
        invalidate_sessions_change_after_commit(
            self.session, self.cache, mentor, taken=taken, slots_ttl_seconds=self.slots_ttl_seconds
        )


def _language(locale: str | None) -> str:
    return normalise_locale(locale)
