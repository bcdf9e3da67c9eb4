"""Booking, reading and cancelling Thotis sessions through Cal.com (R5, R12.1, R13, R14).

Cal.com is asked first; the sidecar's row is written only once Cal.com has the booking, and if
writing it fails the Cal.com booking is cancelled again, so a failure never leaves a half-made
session. The service flushes; the request commits.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from calcom_client import Attendee, Booking, CalcomBadRequest, CalcomClient, CalcomError
from core.cache import Cache
from core.clock import Clock
from core.database import discard_on_rollback, on_rollback
from core.errors import BusinessRuleViolation, Conflict, Forbidden, InvalidInput, NotFound
from core.write_batch import send_now
from thotis_ext import events, rules
from thotis_ext.availability import invalidate_sessions_change_after_commit
from thotis_ext.calcom_errors import CalcomRejected, as_thotis_error
from thotis_ext.calcom_link import CalcomLinker
from thotis_ext.enums import CancelledBy, SessionStatus
from thotis_ext.models import Session, StudentProfile
from thotis_ext.profiles.booking_target import BookingTarget, BookingTargets, MentorNotBookable, check_bookable
from thotis_ext.profiles.repository import ProfileRepository
from thotis_ext.profiles.service import ProfileNotFound
from thotis_ext.sessions.repository import SessionRepository
from thotis_ext.sessions.schemas import BookingCreate, as_utc
from thotis_ext.sessions.views import session_view

log = logging.getLogger(__name__)

_START_MESSAGES = {
    "BOOKING_TOO_SOON": "A session must start at least 2 hours from now.",
    "BOOKING_TOO_FAR": "A session must start within the next 30 days.",
    "OFF_GRID": "A session starts on a quarter hour (:00, :15, :30 or :45).",
}


class SessionNotFound(NotFound):
    code = "SESSION_NOT_FOUND"
    default_message = "No such session."


class SlotUnavailable(Conflict):
    code = "SLOT_UNAVAILABLE"
    default_message = "This slot is no longer available; choose another one."


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks, as far as sessions care: a mentor sees only their own sessions."""

    mentor_id: str | None = None  # set for mentor tokens


class SessionService:
    """Sessions over one database session and the Cal.com client."""

    def __init__(
        self,
        session: AsyncSession,
        client: CalcomClient,
        linker: CalcomLinker,
        cache: Cache,
        clock: Clock,
        targets: BookingTargets,
        *,
        slots_ttl_seconds: int,
    ) -> None:
        """`targets`: what a booking needs of the mentor, cached with their profile (no database
        round trip before Cal.com's). `slots_ttl_seconds`: how long free slots stay cached
        (`THOTIS_CACHE_SLOTS_TTL_SECONDS`), which a booking's withheld slot must outlive
        (`availability.withheld_slot`)."""
        self.targets = targets
        self.slots_ttl_seconds = slots_ttl_seconds
        self.session = session
        self.sessions = SessionRepository(session)
        self.profiles = ProfileRepository(session)
        self.client = client
        self.linker = linker
        self.cache = cache
        self.clock = clock

    async def book(self, data: BookingCreate) -> dict[str, Any]:
        """Book a 15-minute session with a mentor (R5.2, R5.3, R8.3, R12.1, R14.1, R14.4).

        Raises:
            InvalidInput, BusinessRuleViolation, ProfileNotFound, MentorNotBookable, SlotUnavailable,
            CalcomUnreachable, CalcomTooSlow, CalcomRejected
        """
        self._check_request(data)
        if not rules.is_valid_user_id(data.mentor_id):
            raise ProfileNotFound()  # no mentor can have this id: not found, as for any unknown one
        target = await self.targets.get(data.mentor_id)
        start = as_utc(data.start)
        now = self.clock.now()
        if problem := rules.booking_start_problem(start, now):
            raise BusinessRuleViolation(_START_MESSAGES[problem], code=problem)
        student = data.prospective_student
        fields = {
            "student_name": student.name,
            "student_email": str(student.email),
            "student_time_zone": student.time_zone,
            "student_language": student.language.value,
            "student_question": student.question,
            "student_is_minor": student.is_minor,
            "parent_email": str(student.parent_email) if student.parent_email else None,
            "parental_consent": student.parental_consent,
            "consent": data.consent,
        }
        api_key = self.linker.api_key_for(target)
        booking, mentor = await self._book_while_loading(target, start, fields, api_key)
        row = _scheduled_row(booking, mentor.user_id, start, fields)
        # Decided before the INSERT, not after it: a later change of the row is one more UPDATE.
        events.skip_reminder_if_near(row, now)
        # Whatever stops this transaction from committing from here on (the database going away
        # mid-request, a failed commit) cancels the Cal.com booking again: recorded in both or neither.
        undo_key = ("undo-booking", booking.uid)
        on_rollback(self.session, lambda: self._undo_booking(booking.uid, api_key), key=undo_key)
        # The row, its emails, event, analytics and counter moves go as one statement, sent here
        # so that a taken slot is answered for (core/write_batch.py).
        self.sessions.insert_with_batch(row)
        await events.session_event(self.session, "booking.created", row, now)
        self.sessions.bump_counters(
            mentor.user_id, scheduled_sessions=1, available_slots_7d=-rules.in_discovery(start, now)
        )
        try:
            # No savepoint: on a conflict the whole request's transaction is rolled back anyway.
            await send_now(self.session)
        except IntegrityError as exc:
            discard_on_rollback(self.session, undo_key)
            await self._undo_booking(booking.uid, api_key)
            if "uq_sessions_mentor_scheduled_start" in str(exc.orig):
                raise SlotUnavailable(details={"start": start.isoformat()}) from exc
            if "uq_sessions_calcom_booking_id" in str(exc.orig):
                # Only a Cal.com that lost its data (or a restarted simulator) reuses booking ids.
                log.error("Cal.com answered booking id %s, which Thotis already holds; booking undone", booking.id)
                raise CalcomRejected(
                    "Cal.com answered with a booking id Thotis already holds; the booking was undone.",
                    code="CALCOM_INCONSISTENT",
                    details={"calcomBookingId": booking.id},
                ) from exc
            raise  # any other constraint is a bug: the Cal.com booking was undone, report it
        self._invalidate_after_commit(mentor, taken=row)
        return session_view(row)

    async def get(self, uid: str, caller: Caller) -> dict[str, Any]:
        """Raises:
        SessionNotFound, Forbidden
        """
        return session_view(await self._visible(uid, caller))

    async def of_mentor(self, mentor_id: str, *, upcoming: bool) -> list[dict[str, Any]]:
        """A mentor's sessions for their own space: upcoming soonest first, or past latest first."""
        rows = await self.sessions.of_mentor(mentor_id, upcoming=upcoming, now=self.clock.now())
        return [session_view(row) for row in rows]

    async def cancel(
        self, uid: str, caller: Caller, *, reason: str | None, cancelled_by: CancelledBy | None
    ) -> dict[str, Any]:
        """Cancel until 2 hours before the start (R13.1, R13.5); both parties are told later (R13.2).

        Raises:
            SessionNotFound, Forbidden, BusinessRuleViolation, Conflict, CalcomUnreachable, …
        """
        row = await self._visible(uid, caller, for_update=True)
        if row.status != SessionStatus.SCHEDULED.value:
            raise Conflict(f"This session is {row.status}, not scheduled.", code="SESSION_NOT_SCHEDULED")
        now = self.clock.now()
        if not rules.may_cancel(row.start_at, now):
            raise BusinessRuleViolation(
                "A session can be cancelled until 2 hours before it starts.", code="CANCELLATION_TOO_LATE"
            )
        who = cancelled_by or (CancelledBy.MENTOR if caller.mentor_id else CancelledBy.STUDENT)
        mentor = await self.profiles.get(row.mentor_id)
        assert mentor is not None
        try:
            await self.client.cancel_booking(
                uid, reason=reason or f"Cancelled by the {who.value}", api_key=self.linker.api_key_for(mentor)
            )
        except CalcomError as exc:
            raise as_thotis_error(exc) from exc
        row.status = SessionStatus.CANCELLED.value
        row.cancelled_by = who.value
        row.cancellation_reason = reason
        row.cancelled_at = now
        self.sessions.bump_counters(
            row.mentor_id,
            scheduled_sessions=-1,
            cancelled_sessions=1,
            mentor_cancellations=1 if who is CancelledBy.MENTOR else 0,
            available_slots_7d=rules.in_discovery(row.start_at, now),
        )
        await self.session.flush()
        await events.cancelled_event(self.session, row, now)
        self._invalidate_after_commit(mentor)
        return session_view(row)

    async def reschedule(self, uid: str, caller: Caller, *, start: datetime, reason: str | None) -> dict[str, Any]:
        """Move a session to a new slot with a new Meet link (R12.5, R13.4).

        Books the new slot first, then cancels the old booking naming the new one; if that
        cancellation fails the new booking is cancelled again, so the student never holds two
        sessions or none.

        Raises:
            SessionNotFound, Forbidden, Conflict, BusinessRuleViolation, SlotUnavailable, Calcom…
        """
        old = await self._visible(uid, caller, for_update=True)
        if old.status != SessionStatus.SCHEDULED.value:
            raise Conflict(f"This session is {old.status}, not scheduled.", code="SESSION_NOT_SCHEDULED")
        now = self.clock.now()
        if not rules.may_cancel(old.start_at, now):
            raise BusinessRuleViolation(
                "A session can be moved until 2 hours before it starts.", code="RESCHEDULE_TOO_LATE"
            )
        new_start = as_utc(start)
        if problem := rules.booking_start_problem(new_start, now):
            raise BusinessRuleViolation(_START_MESSAGES[problem], code=problem)
        if new_start == old.start_at:
            raise BusinessRuleViolation("The session already starts at that time.", code="SAME_SLOT")
        mentor = await self._bookable_mentor(old.mentor_id)
        fields = {column: getattr(old, column) for column in _STUDENT_COLUMNS}
        api_key = self.linker.api_key_for(mentor)
        booking = await self._book_in_calcom(mentor, new_start, fields, api_key, rescheduled_from=uid)
        try:
            await self.client.cancel_booking(uid, reason=f"Rescheduled to {booking.uid}", api_key=api_key)
        except CalcomError as exc:
            await self._undo_booking(booking.uid, api_key)
            raise as_thotis_error(exc) from exc
        old.status = SessionStatus.CANCELLED.value
        old.rescheduled_to_uid = booking.uid
        old.cancelled_by = (CancelledBy.MENTOR if caller.mentor_id else CancelledBy.STUDENT).value
        old.cancellation_reason = reason or "Rescheduled"
        old.cancelled_at = now
        await self.session.flush()  # free the old start in the unique index first
        new = _scheduled_row(booking, old.mentor_id, new_start, fields)
        new.rescheduled_from_uid = uid
        self.sessions.add(new)
        await self.session.flush()
        self.sessions.bump_counters(
            old.mentor_id,
            available_slots_7d=rules.in_discovery(old.start_at, now) - rules.in_discovery(new_start, now),
        )
        await events.rescheduled_event(self.session, new, uid, old.start_at, now)
        self._invalidate_after_commit(mentor)
        return session_view(new)

    async def complete(self, uid: str, caller: Caller) -> dict[str, Any]:
        """Mark a session that has started as completed; marking it again changes nothing.

        Raises:
            SessionNotFound, Forbidden, Conflict, BusinessRuleViolation
        """
        row = await self._visible(uid, caller, for_update=True)
        if row.status == SessionStatus.COMPLETED.value:
            return session_view(row)
        if row.status != SessionStatus.SCHEDULED.value:
            raise Conflict(f"This session is {row.status}, not scheduled.", code="SESSION_NOT_SCHEDULED")
        now = self.clock.now()
        if now < row.start_at:
            raise BusinessRuleViolation("A session can be completed once it has started.", code="SESSION_NOT_STARTED")
        row.status = SessionStatus.COMPLETED.value
        row.completed_at = now
        self.sessions.bump_counters(row.mentor_id, scheduled_sessions=-1, completed_sessions=1)
        await self.session.flush()
        mentor = await self.profiles.get(row.mentor_id)
        assert mentor is not None
        await events.session_event(self.session, "booking.completed", row, now)
        self._invalidate_after_commit(mentor)
        return session_view(row)

    async def _book_while_loading(
        self, target: BookingTarget, start: datetime, fields: dict[str, Any], api_key: str | None
    ) -> tuple[Booking, StudentProfile]:
        """Book in Cal.com (from the cached `target`) while the mentor's row loads in this
        transaction: the booking's emails and analytics read it, and it is checked again as the
        cache may lag a change by a moment. Its round trips (BEGIN, SELECT) overlap Cal.com's
        answer instead of preceding it. If the row fails the check, or cannot be read, Cal.com's
        booking is undone.

        Raises:
            what `_book_in_calcom` and `_bookable_mentor` raise; MentorNotBookable when the row
            names another event type than the cached target
        """
        booked, loaded = await asyncio.gather(
            self._book_in_calcom(target, start, fields, api_key),
            self._bookable_mentor(target.user_id),
            return_exceptions=True,
        )
        if isinstance(booked, BaseException):
            raise booked
        if isinstance(loaded, BaseException) or loaded.calcom_event_type_id != target.calcom_event_type_id:
            await self._undo_booking(booked.uid, api_key)
            raise loaded if isinstance(loaded, BaseException) else MentorNotBookable()
        return booked, loaded

    async def _book_in_calcom(
        self,
        mentor: StudentProfile | BookingTarget,
        start: datetime,
        fields: dict[str, Any],
        api_key: str | None,
        *,
        rescheduled_from: str | None = None,
    ) -> Booking:
        """Create the Cal.com booking, tagged as a Thotis session of this mentor (`api_key`: the
        mentor's, decrypted once by the caller, which needs it again to undo)."""
        assert mentor.calcom_event_type_id is not None
        metadata = {"thotisSession": "true", "thotisMentorId": mentor.user_id}
        if rescheduled_from:
            metadata["thotisRescheduledFrom"] = rescheduled_from
        attendee = Attendee(
            fields["student_name"], fields["student_email"], fields["student_time_zone"], fields["student_language"]
        )
        try:
            return await self.client.create_booking(
                event_type_id=mentor.calcom_event_type_id,
                start=start,
                attendee=attendee,
                notes=fields["student_question"],
                metadata=metadata,
                api_key=api_key,
            )
        except CalcomBadRequest as exc:
            # Cal.com answers 400 for a slot that is taken or not free (contract §5).
            raise SlotUnavailable(details={"start": start.isoformat()}) from exc
        except CalcomError as exc:
            raise as_thotis_error(exc) from exc

    def _check_request(self, data: BookingCreate) -> None:
        if data.duration_minutes is not None and data.duration_minutes != rules.SESSION_MINUTES:
            raise InvalidInput("Sessions last exactly 15 minutes.", code="INVALID_DURATION")
        if not data.consent:
            raise InvalidInput("The prospective student must consent to data processing.", code="CONSENT_REQUIRED")
        student = data.prospective_student
        if student.is_minor and not (student.parent_email and student.parental_consent):
            raise InvalidInput(
                "A prospective student under 18 needs a parent's e-mail and consent.",
                code="PARENTAL_CONSENT_REQUIRED",
            )

    async def _bookable_mentor(self, mentor_id: str) -> StudentProfile:
        return check_bookable(await self.profiles.get(mentor_id))

    async def _visible(self, uid: str, caller: Caller, *, for_update: bool = False) -> Session:
        if not uid or len(uid) > 64:
            raise SessionNotFound()
        row = await self.sessions.get(uid, for_update=for_update)
        if row is None:
            raise SessionNotFound()
        if caller.mentor_id is not None and caller.mentor_id != row.mentor_id:
            raise Forbidden("This session belongs to another mentor.", code="NOT_OWNER")
        return row

    async def _undo_booking(self, uid: str, api_key: str | None) -> None:
        try:
            await self.client.cancel_booking(uid, reason="Not recorded by Thotis", api_key=api_key)
        except CalcomError:
            log.error("booking %s exists in Cal.com but could not be recorded nor cancelled", uid)

    def _invalidate_after_commit(self, mentor: StudentProfile, *, taken: Session | None = None) -> None:
        """Once committed, drop the mentor's cached profile, list pages and slots; a new booking
        (`taken`) keeps the slots from Cal.com and withholds its own instead of dropping them all."""
        invalidate_sessions_change_after_commit(
            self.session, self.cache, mentor, taken=taken, slots_ttl_seconds=self.slots_ttl_seconds
        )


#: What a session keeps of the prospective student; a reschedule carries it over unchanged.
_STUDENT_COLUMNS = (
    "student_name",
    "student_email",
    "student_time_zone",
    "student_language",
    "student_question",
    "student_is_minor",
    "parent_email",
    "parental_consent",
    "consent",
)


def _scheduled_row(booking: Booking, mentor_id: str, start: datetime, fields: dict[str, Any]) -> Session:
    return Session(
        uid=booking.uid,
        calcom_booking_id=booking.id,
        mentor_id=mentor_id,
        start_at=start,
        end_at=start + rules.SESSION_LENGTH,
        status=SessionStatus.SCHEDULED.value,
        meet_url=booking.video_url,
        **fields,
    )
