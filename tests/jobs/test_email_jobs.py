"""Emails sent by the jobs, end to end: API change → outbox → SMTP (a real local server) → parsed
as a mail client would (R6, R12.2, R13.2, R19.1; properties 16, 17, 31, 33 end to end)."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage

import httpx
import icalendar
import pytest
from sqlalchemy import select, text

from adapter.services import Services
from calcom_client.simulator import CalcomSimulator
from core import jobs
from core.clock import FixedClock
from jobs import work
from jobs.deps import JobDeps
from tests.adapter.helpers import SERVICE
from tests.adapter.test_availability import linked_mentor
from tests.adapter.test_bookings import SLOT, book, booking
from tests.adapter.test_query_counts import counting
from tests.core.test_jobs import Recorder
from tests.jobs.conftest import NOW, Inbox
from thotis_ext.emails import outbox
from thotis_ext.emails.models import OutboundEmail

MENTOR_EMAIL = "camille@example.org"  # valid_body's
STUDENT_EMAIL = "lea@example.org"  # booking()'s


def calendar_of(message: EmailMessage) -> icalendar.Calendar:
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return icalendar.Calendar.from_ical(payload)
    raise AssertionError("no calendar attachment")


def event_of(message: EmailMessage) -> icalendar.Event:
    return next(iter(calendar_of(message).walk("VEVENT")))


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


async def booked(api: httpx.AsyncClient, simulator: CalcomSimulator, **overrides: object) -> dict[str, object]:
    await linked_mentor(api, simulator)
    response = await book(api, booking(**overrides))
    assert response.status_code == 201, response.text
    data: dict[str, object] = response.json()["data"]
    return data


def move_clock(services: Services, deps: JobDeps, simulator: CalcomSimulator, delta: timedelta) -> None:
    clock = services.clock
    assert isinstance(clock, FixedClock)
    clock.at += delta
    simulator.now = clock.at
    deps.clock = clock


async def statuses(services: Services) -> dict[str, str]:
    async with services.database.session() as session:
        rows = await session.execute(select(OutboundEmail.dedupe_key, OutboundEmail.status))
        return {key: status for key, status in rows.all()}


class TestConfirmation:
    async def test_both_parties_get_the_confirmation_with_meet_link_and_calendar_file(
        self, api: httpx.AsyncClient, simulator: CalcomSimulator, deps: JobDeps, inbox: Inbox
    ) -> None:
        session = await booked(api, simulator)
        counts = await work.send_emails(deps)
        assert counts is not None and counts["sent"] == 2
        (student,), (mentor,) = inbox.to(STUDENT_EMAIL), inbox.to(MENTOR_EMAIL)
        meet = str(session["meetUrl"])
        for message in (student, mentor):
            assert meet in html_of(message) and meet in text_of(message)
            assert "Léa Martin" in html_of(message) and "Camille Martin" in html_of(message)
            event = event_of(message)
            assert meet in str(event["DESCRIPTION"]) and str(event["LOCATION"]) == meet  # property 31
            assert event.decoded("DTSTART") == SLOT
        # The student asked in French and lives in Paris: 10:00 there.
        assert "10:00" in text_of(student)

    async def test_a_second_run_sends_nothing_and_the_message_id_is_stable(
        self, api: httpx.AsyncClient, simulator: CalcomSimulator, deps: JobDeps, inbox: Inbox
    ) -> None:
        await booked(api, simulator)
        await work.send_emails(deps)
        again = await work.send_emails(deps)
        assert again is not None and again["sent"] == 0
        assert len(inbox.messages) == 2
        ids = {str(m["Message-ID"]) for m in inbox.messages}
        async with deps.database.session() as db:
            stored = set(await db.scalars(select(OutboundEmail.message_id)))
        assert ids == stored

    async def test_english_student_gets_english(
        self, api: httpx.AsyncClient, simulator: CalcomSimulator, deps: JobDeps, inbox: Inbox
    ) -> None:
        await booked(api, simulator, prospectiveStudent={"language": "en", "timeZone": "America/New_York"})
        await work.send_emails(deps)
        (student,), (mentor,) = inbox.to(STUDENT_EMAIL), inbox.to(MENTOR_EMAIL)
        assert student["Subject"] != mentor["Subject"]  # the mentor's profile is French
        assert "04:00" in text_of(student) or "4:00" in text_of(student)  # 09:00 UTC in New York

    async def test_a_minors_parent_is_copied_on_the_confirmation(
        self, api: httpx.AsyncClient, simulator: CalcomSimulator, deps: JobDeps, inbox: Inbox
    ) -> None:
        minor = {"isMinor": True, "parentEmail": "parent@example.org", "parentalConsent": True}
        await booked(api, simulator, prospectiveStudent=minor)
        await work.send_emails(deps)
        assert len(inbox.to("parent@example.org")) == 1


class TestNudge:
    async def test_a_booking_nudges_the_sender_with_its_emails_keys_and_the_nudge_sends_only_those(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator, deps: JobDeps, inbox: Inbox
    ) -> None:
        await linked_mentor(api, simulator)
        recorder = Recorder()
        jobs.install_sender(recorder)
        try:
            first = (await book(api, booking())).json()["data"]
            second = await book(api, booking(start=SLOT + timedelta(hours=1)))
            assert second.status_code == 201, second.text
            await jobs.drain()
        finally:
            jobs.install_sender(None)
        nudges = [kwargs for name, kwargs in recorder.sent if name == "send_email"]
        assert len(nudges) == 2  # one per change, after its commit
        keys = nudges[0]["dedupe_keys"]
        assert keys == [f"confirmation:{first['uid']}:student", f"confirmation:{first['uid']}:mentor"]
        counts = await work.send_emails(deps, keys=keys)
        assert counts is not None and counts["sent"] == 2
        assert {str(m["X-Thotis-Email"]) for m in inbox.messages} == {"confirmation"}
        assert len(inbox.messages) == 2  # the second booking's emails wait for their own nudge
        sent = {key for key, status in (await statuses(services)).items() if status == "sent"}
        assert sent == set(keys)

    async def test_emails_past_the_pending_limit_send_the_batch_first_and_all_are_queued(
        self,
        api: httpx.AsyncClient,
        services: Services,
        simulator: CalcomSimulator,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(outbox, "PENDING_MAX", 2)  # a minor's confirmation is 3 emails
        minor = {"isMinor": True, "parentEmail": "parent@example.org", "parentalConsent": True}
        await linked_mentor(api, simulator)
        with counting(services) as sent:
            response = await book(api, booking(prospectiveStudent=minor))
        assert response.status_code == 201, response.text
        # The mentor's booking target and row; the batch so far (the session row) went before the
        # 3 emails joined the next one.
        assert [s.split()[0] for s in sent] == ["SELECT", "SELECT", "INSERT", "WITH"], sent
        uid = response.json()["data"]["uid"]
        assert {key for key in await statuses(services) if uid in key} == {
            f"confirmation:{uid}:{who}" for who in ("student", "mentor", "parent")
        }

    async def test_a_nudge_by_id_from_an_older_process_still_sends(
        self, api: httpx.AsyncClient, simulator: CalcomSimulator, deps: JobDeps, inbox: Inbox
    ) -> None:
        await booked(api, simulator)
        async with deps.database.session() as db:
            ids = list(await db.scalars(select(OutboundEmail.id).order_by(OutboundEmail.id)))
        counts = await work.send_emails(deps, ids=ids[:1])
        assert counts is not None and counts["sent"] == 1 and len(inbox.messages) == 1


class TestCancellationAndReschedule:
    async def test_property_33_a_cancellation_notifies_both_parties(
        self, api: httpx.AsyncClient, simulator: CalcomSimulator, deps: JobDeps, inbox: Inbox
    ) -> None:
        session = await booked(api, simulator)
        await work.send_emails(deps)
        inbox.clear()
        response = await api.request(
            "DELETE", f"/api/v2/bookings/{session['uid']}", json={"reason": "Exam", "cancelledBy": "student"},
            headers=SERVICE,
        )  # fmt: skip
        assert response.status_code == 200, response.text
        await work.send_emails(deps)
        (student,), (mentor,) = inbox.to(STUDENT_EMAIL), inbox.to(MENTOR_EMAIL)
        for message in (student, mentor):
            event = event_of(message)
            assert str(calendar_of(message)["METHOD"]) == "CANCEL"
            assert str(event["UID"]) == f"{session['uid']}@thotis" and int(event["SEQUENCE"]) == 1
            assert "Exam" in text_of(message)

    async def test_property_17_a_reschedule_shows_old_and_new_time_and_updates_the_calendar_event(
        self, api: httpx.AsyncClient, simulator: CalcomSimulator, deps: JobDeps, inbox: Inbox
    ) -> None:
        session = await booked(api, simulator)
        await work.send_emails(deps)
        inbox.clear()
        new_start = SLOT + timedelta(hours=2)
        response = await api.patch(
            f"/api/v2/bookings/{session['uid']}/reschedule", json={"start": new_start.isoformat()}, headers=SERVICE
        )
        assert response.status_code == 200, response.text
        new = response.json()["data"]
        await work.send_emails(deps)
        assert len(inbox.messages) == 2  # the reschedule notice only: no cancellation of the old one
        (student,) = inbox.to(STUDENT_EMAIL)
        assert "10:00" in text_of(student) and "12:00" in text_of(student)  # Paris times, old and new
        event = event_of(student)
        assert str(event["UID"]) == f"{session['uid']}@thotis" and int(event["SEQUENCE"]) == 1
        assert str(event["LOCATION"]) == new["meetUrl"] != session["meetUrl"]


class TestReminders:
    async def test_property_48_reminder_goes_once_to_both_parties_a_day_before(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator, deps: JobDeps, inbox: Inbox
    ) -> None:
        start = SLOT + timedelta(days=2)  # Thursday: booked more than a day ahead
        await booked(api, simulator, start=start)
        await work.queue_reminders(deps)
        await work.send_emails(deps)
        assert not any(m["X-Thotis-Email"] == "reminder" for m in inbox.messages)  # not yet due
        move_clock(services, deps, simulator, start - NOW - timedelta(hours=23))
        for _ in range(2):
            await work.queue_reminders(deps)
            await work.send_emails(deps)
        reminders = [m for m in inbox.messages if m["X-Thotis-Email"] == "reminder"]
        assert sorted(r["To"].addresses[0].addr_spec for r in reminders) == [MENTOR_EMAIL, STUDENT_EMAIL]

    async def test_no_reminder_for_a_cancelled_session_nor_one_booked_less_than_a_day_ahead(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator, deps: JobDeps, inbox: Inbox
    ) -> None:
        near = await booked(api, simulator, start=NOW + timedelta(hours=3))
        far = (await book(api, booking(start=SLOT + timedelta(days=2)))).json()["data"]
        cancelled = await api.request("DELETE", f"/api/v2/bookings/{far['uid']}", headers=SERVICE)
        assert cancelled.status_code == 200, cancelled.text
        for hours in (1, 24, 48, 70):
            move_clock(services, deps, simulator, timedelta(hours=hours) - (deps.clock.now() - NOW))
            await work.queue_reminders(deps)
            await work.send_emails(deps)
        assert not any(m["X-Thotis-Email"] == "reminder" for m in inbox.messages)
        keys = await statuses(services)
        assert not any(key.startswith(("reminder:" + str(near["uid"]), "reminder:" + str(far["uid"]))) for key in keys)


class TestFeedback:
    async def test_ended_session_is_completed_and_the_student_gets_a_working_rating_link_once(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator, deps: JobDeps, inbox: Inbox
    ) -> None:
        session = await booked(api, simulator)
        move_clock(services, deps, simulator, SLOT - NOW + timedelta(minutes=15 + 21))  # past the 20-min grace
        for _ in range(2):
            await work.auto_complete(deps)
            await work.queue_feedback_requests(deps)
            await work.send_emails(deps)
        requests = [m for m in inbox.messages if m["X-Thotis-Email"] == "feedback_request"]
        assert [r["To"].addresses[0].addr_spec for r in requests] == [STUDENT_EMAIL]
        link = next(word for word in text_of(requests[0]).split() if "/rate/" in word)
        token = link.rsplit("/rate/", 1)[1].strip(".,)>")
        rated = await api.post(
            f"/api/v2/bookings/{session['uid']}/rating",
            json={"rating": 5},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert rated.status_code == 201, rated.text

    async def test_grace_period_is_respected(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator, deps: JobDeps
    ) -> None:
        await booked(api, simulator)
        move_clock(services, deps, simulator, SLOT - NOW + timedelta(minutes=15 + 19))
        counts = await work.auto_complete(deps)
        assert counts == {"completed": 0}
        move_clock(services, deps, simulator, timedelta(minutes=2))
        assert await work.auto_complete(deps) == {"completed": 1}


class TestDelivery:
    async def test_a_refusing_server_means_retry_later_and_nothing_lost(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator, deps: JobDeps, inbox: Inbox
    ) -> None:
        await booked(api, simulator)
        inbox.reply = "451 Try again later"
        counts = await work.send_emails(deps)
        assert counts is not None and counts["retried"] == 2 and not inbox.messages
        inbox.reply = None
        assert (await work.send_emails(deps) or {})["sent"] == 0  # not due yet
        move_clock(services, deps, simulator, timedelta(minutes=2))
        assert (await work.send_emails(deps) or {})["sent"] == 2

    async def test_a_permanent_refusal_is_dead_not_retried(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator, deps: JobDeps, inbox: Inbox
    ) -> None:
        await booked(api, simulator)
        inbox.reply = "550 No such user"
        counts = await work.send_emails(deps)
        assert counts is not None and counts["dead"] == 2
        assert set((await statuses(services)).values()) == {"dead"}

    async def test_an_unreachable_server_keeps_emails_pending(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator, deps: JobDeps
    ) -> None:
        from core.local_servers import free_port
        from core.mail import SmtpMailer

        await booked(api, simulator)
        deps.mailer = SmtpMailer(f"smtp://127.0.0.1:{free_port()}", timeout=2)
        counts = await work.send_emails(deps)
        assert counts is not None and counts["retried"] == 2
        assert set((await statuses(services)).values()) == {"pending"}

    async def test_switched_off_kinds_are_skipped(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator, deps: JobDeps, inbox: Inbox
    ) -> None:
        deps.settings = deps.settings.model_copy(update={"emails_disabled": ["confirmation"]})
        await booked(api, simulator)
        counts = await work.send_emails(deps)
        assert counts is not None and counts["skipped"] == 2 and not inbox.messages

    async def test_a_confirmation_not_sent_before_the_session_starts_expires(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator, deps: JobDeps, inbox: Inbox
    ) -> None:
        await booked(api, simulator)
        move_clock(services, deps, simulator, SLOT - NOW + timedelta(minutes=1))
        counts = await work.send_emails(deps)
        assert counts is not None and counts["expired"] == 2 and not inbox.messages

    async def test_a_worker_that_dies_after_claiming_leaves_the_email_to_be_sent_later(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator, deps: JobDeps, inbox: Inbox
    ) -> None:
        from thotis_ext.emails import sender

        await booked(api, simulator)
        claimed = await sender._claim(deps.database, deps.sender_config, deps.clock.now(), ())
        assert len(claimed) == 2  # … and the worker dies here, before sending
        assert (await work.send_emails(deps) or {})["sent"] == 0  # leased to the dead worker
        move_clock(services, deps, simulator, deps.sender_config.lease + timedelta(seconds=1))
        assert (await work.send_emails(deps) or {})["sent"] == 2
        assert len(inbox.messages) == 2
        async with services.database.session() as db:
            attempts = list(await db.scalars(text("SELECT attempts FROM thotis.email_outbox")))
        assert attempts == [2, 2]
