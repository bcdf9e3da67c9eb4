"""Branded emails (R6, R12.2, R13.2): what a mail client shows once the message went through MIME and back."""

from __future__ import annotations

import email
import email.policy
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date
from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from core.i18n import translate
from thotis_ext.emails.context import EmailContext
from thotis_ext.emails.ics import session_ics
from thotis_ext.emails.kinds import EmailKind, Recipient
from thotis_ext.emails.mime import build_message
from thotis_ext.emails.render import LOGO_CID, render_email

NOW = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
START = datetime(2026, 11, 30, 13, 30, tzinfo=UTC)
SENDER = "Thotis <no-reply@thotis.local>"
MEET = "https://meet.google.com/abc-defg-hij"
LOGO = Path(__file__).resolve().parents[2] / "thotis_ext" / "emails" / "assets" / "logo.png"
HOSTILE_NAMES = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "Zoé & Léa <b>bold</b>",
    "{mentor_name} {0} %s",
    'O\'Brien "Jr"',
    "Ærøskøbing Ñandú 王小明",
    "javascript:alert(1)",
)
SESSION_KINDS = tuple(kind for kind in EmailKind if kind is not EmailKind.ADMIN_ALERT)
SESSION_RECIPIENTS = (Recipient.STUDENT, Recipient.MENTOR, Recipient.PARENT)
ALLOWED_TAGS = {"html", "head", "meta", "title", "body", "table", "tr", "td", "img", "h1", "p", "a", "br", "blockquote"}

names = st.one_of(
    st.sampled_from(HOSTILE_NAMES),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=30).filter(
        str.strip
    ),
)
zones = st.one_of(st.sampled_from(["Europe/Paris", "America/St_Johns", "Asia/Kathmandu", "UTC"]), st.timezone_keys())
locales = st.sampled_from(["fr", "en"])
meet_urls = st.from_regex(r"\Ahttps://meet\.google\.com/[a-z]{3}-[a-z]{4}-[a-z]{3}\Z")
starts = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)).map(
    lambda at: at.replace(minute=at.minute - at.minute % 15, second=0, microsecond=0)
)


class _Page(HTMLParser):
    """What a client shows of the HTML (text outside <head>), plus its links, images, tags and attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.hrefs: list[str] = []
        self.images: list[dict[str, str | None]] = []
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self._head = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)
        self._head += tag == "head"
        if tag == "a":
            self.hrefs.append(dict(attrs).get("href") or "")
        if tag == "img":
            self.images.append(dict(attrs))

    def handle_endtag(self, tag: str) -> None:
        self._head -= tag == "head"

    def handle_data(self, data: str) -> None:
        if not self._head:
            self.text.append(data)


@dataclass
class Received:
    """One email as the recipient's client parses it from the wire."""

    message: EmailMessage
    subject: str
    html: str
    text: str
    page: _Page
    visible: str
    calendar: Calendar | None
    calendar_part: EmailMessage | None
    logo_parts: list[EmailMessage] = field(default_factory=list)


def deliver(context: EmailContext, now: datetime = NOW) -> Received:
    """Render, wrap in MIME, serialise and parse back with the modern policy, as a mail client would."""
    rendered = render_email(context, now, organizer_email="no-reply@thotis.local")
    message = build_message(
        rendered,
        sender=SENDER,
        to_email=context.to_email,
        to_name=context.to_name,
        message_id="<test@thotis.local>",
        sent_at=now,
    )
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    html_part = parsed.get_body(preferencelist=("html",))
    text_part = parsed.get_body(preferencelist=("plain",))
    assert html_part is not None and text_part is not None
    # Lines travel as CRLF; a client shows either ending the same way.
    html = html_part.get_content().replace("\r\n", "\n")
    text = text_part.get_content().replace("\r\n", "\n")
    page = _Page()
    page.feed(html)
    parts = [part for part in parsed.walk() if isinstance(part, EmailMessage)]
    calendars = [part for part in parts if part.get_content_type() == "text/calendar"]
    return Received(
        message=parsed,
        subject=str(parsed["Subject"]),
        html=html,
        text=text,
        page=page,
        visible="".join(page.text),
        calendar=Calendar.from_ical(calendars[0].get_content()) if calendars else None,
        calendar_part=calendars[0] if calendars else None,
        logo_parts=[part for part in parts if part["Content-ID"] == f"<{LOGO_CID}>"],
    )


def session_context(**changes: Any) -> EmailContext:
    values: dict[str, Any] = {
        "kind": EmailKind.CONFIRMATION,
        "recipient": Recipient.STUDENT,
        "to_email": "zoe@example.org",
        "to_name": "Zoé",
        "locale": "fr",
        "time_zone": "Europe/Paris",
        "session_uid": "bk_1",
        "ics_uid": "bk_1@thotis",
        "ics_sequence": 0,
        "start": START,
        "end": START + timedelta(minutes=15),
        "mentor_name": "Léa Martin",
        "student_name": "Zoé Durand",
        "meet_url": MEET,
        "question": "Comment se passe la première année ?",
        "mentor_university": "Sorbonne Université",
        "cancelled_by": "mentor",
        "rating_url": "https://thotis.example/rate/tok",
    }
    values.update(changes)
    return EmailContext(**values)


@st.composite
def contexts(
    draw: st.DrawFn,
    kinds: tuple[EmailKind, ...] = SESSION_KINDS,
    recipients: tuple[Recipient, ...] = SESSION_RECIPIENTS,
) -> EmailContext:
    start = draw(starts)
    kind = draw(st.sampled_from(kinds))
    return session_context(
        kind=kind,
        recipient=draw(st.sampled_from(recipients)),
        to_name=draw(st.one_of(st.just(""), names)),
        locale=draw(locales),
        time_zone=draw(zones),
        start=start,
        end=start + timedelta(minutes=15),
        mentor_name=draw(names),
        student_name=draw(names),
        meet_url=draw(meet_urls),
        question=draw(st.one_of(st.none(), names)),
        mentor_university=draw(st.one_of(st.none(), names)),
        previous_start=start - draw(st.integers(1, 30 * 96)) * timedelta(minutes=15),
        cancellation_reason=draw(st.one_of(st.none(), names)),
        cancelled_by=draw(st.sampled_from(["mentor", "student"])),
        ics_sequence=draw(st.integers(0, 20)),
    )


def local_date(at: datetime, context: EmailContext) -> str:
    return format_date(at.astimezone(ZoneInfo(context.time_zone)).date(), format="full", locale=context.locale)


def local_time(at: datetime, context: EmailContext) -> str:
    """The clock time the recipient expects, worked out without Babel: 14:30 in French, 2:30 PM in English."""
    local = at.astimezone(ZoneInfo(context.time_zone))
    if context.locale == "fr":
        return f"{local:%H:%M} ({context.time_zone})"
    return f"{local.hour % 12 or 12}:{local:%M}\u202f{'AM' if local.hour < 12 else 'PM'} ({context.time_zone})"


def event_of(received: Received) -> Any:
    assert received.calendar is not None
    events = received.calendar.walk("VEVENT")
    assert len(events) == 1
    return events[0]


class TestBrand:
    @settings(max_examples=100)
    @given(context=contexts(kinds=tuple(EmailKind), recipients=tuple(Recipient)))
    def test_property_15_every_email_carries_logo_colours_and_fonts(self, context: EmailContext) -> None:
        if context.kind is EmailKind.ADMIN_ALERT:
            context = replace(context, alert_title="Disk almost full", alert_body=context.mentor_name)
        received = deliver(context)
        assert [image.get("src") for image in received.page.images] == [f"cid:{LOGO_CID}"]
        assert received.page.images[0].get("alt") == "Thotis"
        assert "#FF6B35" in received.html.upper() and "#004E89" in received.html.upper()
        assert "Montserrat" in received.html and "Inter" in received.html and "sans-serif" in received.html
        [logo] = received.logo_parts
        assert logo.get_content_type() == "image/png"
        assert logo.get_content_disposition() == "inline"
        assert logo.get_content() == LOGO.read_bytes()
        related = [part for part in received.message.walk() if part.get_content_type() == "multipart/related"]
        assert len(related) == 1 and logo in list(related[0].iter_parts())

    def test_the_logo_is_a_small_png(self) -> None:
        data = LOGO.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        assert len(data) < 10_000


class TestConfirmation:
    @settings(max_examples=100)
    @given(context=contexts(kinds=(EmailKind.CONFIRMATION,), recipients=(Recipient.STUDENT, Recipient.MENTOR)))
    def test_property_16_confirmation_has_date_time_names_and_meet_link(self, context: EmailContext) -> None:
        assert context.start and context.mentor_name and context.student_name and context.meet_url
        received = deliver(context)
        for shown in (received.visible, received.text):
            assert local_date(context.start, context) in shown
            assert local_time(context.start, context) in shown
            assert context.mentor_name in shown
            assert context.student_name in shown
            assert context.meet_url in shown
        assert context.meet_url in received.page.hrefs

    @settings(max_examples=100)
    @given(context=contexts(kinds=(EmailKind.CONFIRMATION,)))
    def test_property_31_meet_link_is_in_the_email_and_the_ics_description_and_location(
        self, context: EmailContext
    ) -> None:
        assert context.meet_url is not None
        received = deliver(context)
        assert context.meet_url in received.page.hrefs
        assert context.meet_url in received.visible
        event = event_of(received)
        assert context.meet_url in str(event["DESCRIPTION"])
        assert str(event["LOCATION"]) == context.meet_url

    def test_the_invitation_is_a_request_for_the_session(self) -> None:
        received = deliver(session_context())
        assert received.calendar is not None and received.calendar_part is not None
        assert str(received.calendar["METHOD"]) == "REQUEST"
        assert received.calendar_part.get_param("method") == "REQUEST"
        assert received.calendar_part.get_filename() == "invite.ics"
        event = event_of(received)
        assert str(event["UID"]) == "bk_1@thotis"
        assert int(event["SEQUENCE"]) == 0
        assert str(event["STATUS"]) == "CONFIRMED"
        assert event.decoded("DTSTART") == START
        assert event.decoded("DTEND") == START + timedelta(minutes=15)
        assert event.decoded("DTSTAMP") == NOW
        assert str(event["ATTENDEE"]) == "mailto:zoe@example.org"
        assert str(event["ORGANIZER"]) == "mailto:no-reply@thotis.local"

    def test_shows_the_question_and_the_meet_button(self) -> None:
        received = deliver(session_context())
        assert "Comment se passe la première année ?" in received.visible
        assert "Comment se passe la première année ?" in received.text
        assert received.page.hrefs.count(MEET) == 2  # the button and the plain link under it
        assert "Rejoindre la visio" in received.visible

    def test_a_parent_is_told_why_they_receive_it(self) -> None:
        received = deliver(session_context(recipient=Recipient.PARENT, to_name=""))
        assert translate("email.confirmation.parent_note", "fr") in received.visible
        assert "Bonjour," in received.text

    def test_a_link_that_is_not_web_is_never_a_link(self) -> None:
        received = deliver(session_context(meet_url="javascript:alert(1)"))
        assert "javascript:" not in received.html
        assert translate("email.common.no_meet_link", "fr") in received.visible
        assert event_of(received).get("LOCATION") is None


class TestReschedule:
    @settings(max_examples=100)
    @given(context=contexts(kinds=(EmailKind.RESCHEDULE,)))
    def test_property_17_reschedule_shows_old_and_new_date_and_time(self, context: EmailContext) -> None:
        assert context.start is not None and context.previous_start is not None
        received = deliver(context)
        for shown in (received.visible, received.text):
            for at in (context.previous_start, context.start):
                assert local_date(at, context) in shown
                assert local_time(at, context) in shown
        previous_label = translate("email.reschedule.label.previous", context.locale)
        new_label = translate("email.reschedule.label.new", context.locale)
        assert received.text.index(previous_label) < received.text.index(new_label)

    def test_the_updated_invitation_keeps_the_uid_with_a_higher_sequence(self) -> None:
        first = event_of(deliver(session_context()))
        moved_start = START + timedelta(days=1)
        moved = deliver(
            session_context(
                kind=EmailKind.RESCHEDULE,
                session_uid="bk_2",
                ics_sequence=1,
                start=moved_start,
                end=moved_start + timedelta(minutes=15),
                previous_start=START,
                meet_url="https://meet.google.com/new-link-xyz",
            )
        )
        assert moved.calendar is not None and str(moved.calendar["METHOD"]) == "REQUEST"
        second = event_of(moved)
        assert str(second["UID"]) == str(first["UID"])
        assert int(second["SEQUENCE"]) > int(first["SEQUENCE"])
        assert second.decoded("DTSTART") == moved_start
        assert str(second["LOCATION"]) == "https://meet.google.com/new-link-xyz"
        assert translate("email.reschedule.new_link", "fr") in moved.visible


class TestCancellation:
    @settings(max_examples=100)
    @given(context=contexts(kinds=(EmailKind.CANCELLATION,), recipients=(Recipient.STUDENT,)))
    def test_property_33_cancellation_notifies_both_parties_naming_who_cancelled(self, context: EmailContext) -> None:
        assert context.start is not None
        canceller = (context.mentor_name if context.cancelled_by == "mentor" else context.student_name) or ""
        names = {"mentor_name": context.mentor_name, "student_name": context.student_name}
        role_text = translate(f"email.cancellation.by.{context.cancelled_by}", context.locale, **names)
        for recipient, address in ((Recipient.STUDENT, "pupil@example.org"), (Recipient.MENTOR, "mentor@example.org")):
            received = deliver(replace(context, recipient=recipient, to_email=address))
            assert received.message["To"].addresses[0].addr_spec == address
            for shown in (received.visible, received.text):
                assert role_text in shown and canceller in shown
                assert local_date(context.start, context) in shown
                assert local_time(context.start, context) in shown
                if context.cancellation_reason:
                    assert context.cancellation_reason in shown
            assert received.calendar is not None and str(received.calendar["METHOD"]) == "CANCEL"
            event = event_of(received)
            assert str(event["UID"]) == context.ics_uid
            assert int(event["SEQUENCE"]) == context.ics_sequence
            assert str(event["STATUS"]) == "CANCELLED"

    def test_says_who_cancelled_in_words_of_the_role(self) -> None:
        by_student = deliver(session_context(kind=EmailKind.CANCELLATION, cancelled_by="student", locale="en"))
        assert "Cancelled by: Zoé Durand (student)" in by_student.text
        by_admin = deliver(session_context(kind=EmailKind.CANCELLATION, cancelled_by="admin"))
        assert "Annulée par : l'équipe Thotis" in by_admin.text
        unknown = deliver(session_context(kind=EmailKind.CANCELLATION, cancelled_by=None))
        assert "Annulée par" not in unknown.text


class TestOtherKinds:
    def test_reminder_has_the_link_and_no_invitation(self) -> None:
        received = deliver(session_context(kind=EmailKind.REMINDER, locale="en"))
        assert received.subject.startswith("Reminder:")
        assert MEET in received.page.hrefs and MEET in received.text
        assert received.calendar is None

    def test_feedback_request_links_to_the_rating_page(self) -> None:
        received = deliver(session_context(kind=EmailKind.FEEDBACK_REQUEST))
        assert "https://thotis.example/rate/tok" in received.page.hrefs
        assert "https://thotis.example/rate/tok" in received.text
        assert received.calendar is None
        without_link = deliver(session_context(kind=EmailKind.FEEDBACK_REQUEST, rating_url=None))
        assert without_link.page.hrefs == []

    def test_admin_alert_needs_no_session(self) -> None:
        context = EmailContext(
            kind=EmailKind.ADMIN_ALERT,
            recipient=Recipient.ADMIN,
            to_email="ops@thotis.local",
            locale="en",
            alert_title="Emails are piling up",
            alert_body="42 emails wait.\n<b>Check SMTP</b>",
        )
        received = deliver(context)
        assert received.subject == "[Thotis] Emails are piling up"
        assert "42 emails wait.\n<b>Check SMTP</b>" in received.visible
        assert "42 emails wait.\n<b>Check SMTP</b>" in received.text
        assert "b" not in received.page.tags
        assert received.calendar is None

    def test_a_session_email_without_its_session_is_refused(self) -> None:
        with pytest.raises(ValueError, match="start"):
            render_email(session_context(start=None), NOW)


class TestEscaping:
    @pytest.mark.parametrize("name", HOSTILE_NAMES)
    def test_user_text_is_shown_never_interpreted(self, name: str) -> None:
        context = session_context(
            to_name=name, mentor_name=name, student_name=name, question=name, mentor_university=name
        )
        for kind in SESSION_KINDS:
            received = deliver(replace(context, kind=kind, cancellation_reason=name, previous_start=START))
            assert received.page.tags <= ALLOWED_TAGS
            assert not any(attribute.startswith("on") for attribute in received.page.attributes)
            if any(char in name for char in '<>&"'):
                assert name not in received.html
            assert name in received.visible
            assert name in received.text

    def test_names_with_line_breaks_stay_out_of_headers(self) -> None:
        context = session_context(kind=EmailKind.FEEDBACK_REQUEST, to_name="Zoé\r\nBcc: x@evil", mentor_name="A\nB")
        received = deliver(context)
        assert received.message["Bcc"] is None
        assert received.subject == "Comment s'est passée votre session avec A B ?"
        assert received.message["To"].addresses[0].display_name == "Zoé Bcc: x@evil"


class TestLanguage:
    @settings(max_examples=100)
    @given(context=contexts())
    def test_subjects_follow_the_locale(self, context: EmailContext) -> None:
        french = deliver(replace(context, locale="fr"))
        english = deliver(replace(context, locale="en"))
        assert french.subject != english.subject
        assert french.html.startswith('<!DOCTYPE html>\n<html lang="fr">')
        assert english.html.startswith('<!DOCTYPE html>\n<html lang="en">')
        key = f"email.{context.kind.value}.heading"
        assert translate(key, "fr") in french.visible and translate(key, "en") in english.visible

    def test_a_regional_locale_is_its_language(self) -> None:
        assert session_context(locale="en-GB").locale == "en"
        assert deliver(session_context(locale="EN_us")).subject.startswith("Thotis session confirmed")


class TestContext:
    @settings(max_examples=100)
    @given(context=contexts(kinds=tuple(EmailKind), recipients=tuple(Recipient)))
    def test_payload_round_trips_through_json(self, context: EmailContext) -> None:
        payload = json.loads(json.dumps(context.to_payload()))
        assert EmailContext.from_payload(payload) == context
        assert payload["start"].endswith("+00:00")

    def test_normalises_what_users_typed(self) -> None:
        context = session_context(
            locale="fr-CA", time_zone="Mars/Olympus", start=datetime(2026, 11, 30, 13, 30), end=None
        )
        assert context.locale == "fr"
        assert context.time_zone == "UTC"
        assert context.start == START and context.start.tzinfo is UTC

    def test_datetimes_in_another_zone_become_utc(self) -> None:
        context = session_context(start=START.astimezone(ZoneInfo("Asia/Tokyo")))
        assert context.start is not None and context.start.tzinfo is UTC and context.start == START

    def test_unknown_payload_keys_are_ignored(self) -> None:
        payload = {**session_context().to_payload(), "addedLater": 1}
        assert EmailContext.from_payload(payload) == session_context()


class TestMime:
    def test_the_parts_are_nested_as_clients_expect(self) -> None:
        received = deliver(session_context())
        tree = [(part.get_content_type(), part.get_content_disposition()) for part in received.message.walk()]
        assert tree == [
            ("multipart/mixed", None),
            ("multipart/alternative", None),
            ("text/plain", None),
            ("multipart/related", None),
            ("text/html", None),
            ("image/png", "inline"),
            ("text/calendar", "attachment"),
        ]
        assert received.calendar_part is not None
        assert received.calendar_part.get_content_charset() == "utf-8"

    def test_without_attachment_the_message_is_the_alternative(self) -> None:
        received = deliver(session_context(kind=EmailKind.REMINDER))
        assert received.message.get_content_type() == "multipart/alternative"

    def test_headers_are_set_and_encoded(self) -> None:
        rendered = render_email(session_context(), NOW)
        message = build_message(
            rendered,
            sender=SENDER,
            to_email="zoe@example.org",
            to_name="Zoé Ærø",
            message_id="<abc@thotis.local>",
            headers={"X-Thotis-Email": "confirmation", "Auto-Submitted": "auto-generated"},
            sent_at=NOW,
        )
        raw = message.as_bytes()
        assert raw.isascii()
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert str(parsed["From"]) == SENDER
        assert parsed["To"].addresses[0].display_name == "Zoé Ærø"
        assert parsed["To"].addresses[0].addr_spec == "zoe@example.org"
        assert str(parsed["Subject"]) == rendered.subject
        assert str(parsed["Message-ID"]) == "<abc@thotis.local>"
        assert parsed["Date"].datetime == NOW
        assert str(parsed["X-Thotis-Email"]) == "confirmation"

    def test_a_given_header_replaces_the_standard_one(self) -> None:
        rendered = render_email(session_context(), NOW)
        message = build_message(
            rendered, sender=SENDER, to_email="a@b.example", to_name="", message_id="<x@y>", headers={"Subject": "S"}
        )
        assert message.get_all("Subject") == ["S"]


class TestIcs:
    def test_a_cancel_withdraws_the_event(self) -> None:
        data = session_ics(
            uid="bk_1@thotis",
            sequence=3,
            start=START,
            end=START + timedelta(minutes=15),
            summary="Session",
            description="Desc",
            location=None,
            attendee_emails=("a@example.org", "b@example.org"),
            method="CANCEL",
            now=NOW,
        )
        calendar = Calendar.from_ical(data)
        assert str(calendar["METHOD"]) == "CANCEL" and str(calendar["VERSION"]) == "2.0" and calendar["PRODID"]
        events: list[Any] = calendar.walk("VEVENT")
        [event] = events
        assert str(event["STATUS"]) == "CANCELLED" and int(event["SEQUENCE"]) == 3
        assert [str(attendee) for attendee in event["ATTENDEE"]] == ["mailto:a@example.org", "mailto:b@example.org"]
        assert "ORGANIZER" not in event and "LOCATION" not in event
        assert b"DTSTART:20261130T133000Z" in data
