"""Turning an `EmailContext` into the subject, HTML, text and attachments of one branded email.

Pure: no database, no network, no clock (the caller passes `now`). Every visible word comes from
`core.i18n`; every date is shown in the recipient's zone and language with Babel.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

from babel.dates import format_date, format_time
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from core.i18n import translate
from thotis_ext import rules
from thotis_ext.emails.context import EmailContext
from thotis_ext.emails.ics import IcsMethod, session_ics
from thotis_ext.emails.kinds import EmailKind, Recipient

LOGO_CID = "thotis-logo"
ICS_FILENAME = "invite.ics"
ORANGE = "#FF6B35"
BLUE = "#004E89"
FONT_STACK = "Montserrat, Inter, 'Helvetica Neue', Arial, sans-serif"
#: Brand values templates put inside style attributes; Markup so the font's quotes stay as written.
BRAND = {"orange": Markup(ORANGE), "blue": Markup(BLUE), "font": Markup(FONT_STACK)}
#: Who may have cancelled a session (`CancelledBy`); each has its own wording.
CANCELLERS = ("mentor", "student", "admin", "system")
#: The kinds that update the recipient's calendar, and how.
ICS_METHODS: dict[EmailKind, IcsMethod] = {
    EmailKind.CONFIRMATION: "REQUEST",
    EmailKind.RESCHEDULE: "REQUEST",
    EmailKind.CANCELLATION: "CANCEL",
}


@dataclass(frozen=True)
class Attachment:
    """A file attached to the email (the calendar invitation)."""

    filename: str
    maintype: str
    subtype: str
    data: bytes
    #: Extra Content-Type parameters, such as the iTIP method of a calendar part.
    params: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class InlineImage:
    """An image the HTML shows through `cid:` (the logo), so no client has to fetch anything remote."""

    cid: str
    filename: str
    subtype: str
    data: bytes


@dataclass(frozen=True)
class RenderedEmail:
    """One email ready to be wrapped in MIME: what a mail client will show, in both forms."""

    subject: str
    html: str
    text: str
    attachments: tuple[Attachment, ...]
    inline_images: tuple[InlineImage, ...]


@dataclass(frozen=True)
class Moment:
    """An instant as the recipient reads it: a long date, a short time and the zone's name."""

    date: str
    time: str
    zone: str


def render_email(context: EmailContext, now: datetime, *, organizer_email: str | None = None) -> RenderedEmail:
    """The branded email `context` describes; `now` stamps the calendar invitation.

    `organizer_email` (the sender's address) becomes the invitation's ORGANIZER, which some
    calendars want before they offer to add an invitation.

    Raises:
        ValueError: a session email whose context has no start or end.
    """
    if context.kind is not EmailKind.ADMIN_ALERT and (context.start is None or context.end is None):
        raise ValueError(f"a {context.kind.value} email needs the session's start and end")
    when = _moment(context.start, context)
    previous = _moment(context.previous_start, context)
    params = _params(context, when, previous)

    def t(key: str, /, **extra: Any) -> str:
        return translate(key, context.locale, **{**params, **extra})

    subject = " ".join(t(f"email.{context.kind.value}.subject").split())  # one line, whatever a name holds
    variables = {
        "t": t,
        "ctx": context,
        "locale": context.locale,
        "recipient": context.recipient.value,
        "audience": _audience(context.recipient),
        "subject": subject,
        "heading": t(f"email.{context.kind.value}.heading"),
        "mentor_name": params["mentor_name"],
        "student_name": params["student_name"],
        "when": when,
        "previous": previous,
        "meet_url": rules.web_url(context.meet_url),
        "rating_url": rules.web_url(context.rating_url),
        "cancelled_by": context.cancelled_by if context.cancelled_by in CANCELLERS else None,
    }
    environment = _environment()
    html = environment.get_template(f"{context.kind.value}.html").render(variables)
    text = environment.get_template(f"{context.kind.value}.txt").render(variables)
    attachments = _invitation(context, now, organizer_email, t)
    return RenderedEmail(subject=subject, html=html, text=text, attachments=attachments, inline_images=(logo(),))


@functools.cache
def logo() -> InlineImage:
    """The Thotis logo, embedded in every email (property 15)."""
    data = (resources.files("thotis_ext.emails") / "assets" / "logo.png").read_bytes()
    return InlineImage(cid=LOGO_CID, filename="thotis-logo.png", subtype="png", data=data)


@functools.cache
def _environment() -> Environment:
    """The templates, loaded once; HTML is autoescaped so names and questions are shown, never run."""
    environment = Environment(
        loader=PackageLoader("thotis_ext.emails", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.globals.update(brand=BRAND, logo_cid=LOGO_CID)
    return environment


def _moment(at: datetime | None, context: EmailContext) -> Moment | None:
    if at is None:
        return None
    local = at.astimezone(context.zone)
    return Moment(
        date=format_date(local.date(), format="full", locale=context.locale),
        time=format_time(local, format="short", locale=context.locale),
        zone=context.time_zone,
    )


def _params(context: EmailContext, when: Moment | None, previous: Moment | None) -> dict[str, Any]:
    """The values any message may name; each text uses the ones it needs."""
    minutes = int((context.end - context.start).total_seconds() // 60) if context.start and context.end else 15
    mentor_name, student_name = context.mentor_name or "", context.student_name or ""
    return {
        "mentor_name": mentor_name,
        "student_name": student_name,
        # The person the recipient meets: the student for the mentor, the mentor for everyone else.
        "other_name": student_name if context.recipient is Recipient.MENTOR else mentor_name,
        "date": when.date if when else "",
        "time": when.time if when else "",
        "zone": context.time_zone,
        "previous_date": previous.date if previous else "",
        "previous_time": previous.time if previous else "",
        "minutes": minutes,
        "meet_url": context.meet_url or "",
        "title": context.alert_title or "",
    }


def _audience(recipient: Recipient) -> str:
    """Which wording a recipient reads: addressed to them, or about the two people who meet."""
    return recipient.value if recipient in (Recipient.STUDENT, Recipient.MENTOR) else "other"


def _invitation(
    context: EmailContext, now: datetime, organizer_email: str | None, t: Callable[..., str]
) -> tuple[Attachment, ...]:
    method = ICS_METHODS.get(context.kind)
    if method is None or context.start is None or context.end is None:
        return ()
    meet_url = rules.web_url(context.meet_url)
    description = t("email.ics.description")
    if meet_url:
        description += "\n\n" + t("email.ics.join", meet_url=meet_url)
    data = session_ics(
        uid=context.ics_uid or f"{context.session_uid}@thotis",
        sequence=context.ics_sequence,
        start=context.start,
        end=context.end,
        summary=t("email.ics.summary"),
        description=description,
        location=meet_url,
        organizer_email=organizer_email,
        attendee_emails=(context.to_email,),
        method=method,
        now=now,
    )
    params = (("method", method), ("charset", "utf-8"))
    return (Attachment(filename=ICS_FILENAME, maintype="text", subtype="calendar", data=data, params=params),)
