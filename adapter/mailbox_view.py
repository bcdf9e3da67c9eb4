"""Reading the demo mailbox (a Maildir) for /admin/mailbox: a list, one message, its parts."""

from __future__ import annotations

import mailbox
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default
from email.utils import parsedate_to_datetime
from pathlib import Path

_KEY = re.compile(r"^[A-Za-z0-9._,:=-]{1,200}$")


@dataclass(frozen=True, slots=True)
class Summary:
    key: str
    date: datetime
    to: str
    subject: str
    kind: str


@dataclass(frozen=True, slots=True)
class Part:
    index: int
    content_type: str
    filename: str | None
    content_id: str | None
    data: bytes


def _open(directory: Path) -> mailbox.Maildir:
    for sub in ("tmp", "new", "cur"):  # a folder made by hand (or by the server's mkdir) is an empty Maildir
        (directory / sub).mkdir(parents=True, exist_ok=True)
    return mailbox.Maildir(directory, factory=None, create=False)


def _parse(raw: bytes) -> EmailMessage:
    from email import message_from_bytes

    parsed = message_from_bytes(raw, policy=default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _date(message: EmailMessage) -> datetime:
    try:
        return parsedate_to_datetime(str(message["Date"])).astimezone(UTC)
    except (TypeError, ValueError):
        return datetime.fromtimestamp(0, UTC)


def summaries(directory: Path, *, limit: int = 200) -> list[Summary]:
    """The newest messages first."""
    box = _open(directory)
    found = []
    for key in box.iterkeys():
        message = _parse(box.get_bytes(key))
        found.append(
            Summary(
                key,
                _date(message),
                str(message["To"] or ""),
                str(message["Subject"] or ""),
                str(message["X-Thotis-Email"] or ""),
            )
        )
    found.sort(key=lambda s: s.date, reverse=True)
    return found[:limit]


def message(directory: Path, key: str) -> EmailMessage | None:
    """One message by its Maildir key (None for an unknown or malformed key)."""
    if not _KEY.match(key):
        return None
    box = _open(directory)
    try:
        return _parse(box.get_bytes(key))
    except KeyError:
        return None


def parts(message: EmailMessage) -> list[Part]:
    """Every leaf part (text, HTML, inline images, attachments), numbered in document order."""
    found = []
    for index, part in enumerate(p for p in message.walk() if not p.is_multipart()):
        payload = part.get_payload(decode=True)
        cid = part.get("Content-ID")
        found.append(
            Part(
                index,
                part.get_content_type(),
                part.get_filename(),
                cid.strip("<>") if cid else None,
                payload if isinstance(payload, bytes) else b"",
            )
        )
    return found


def body(message: EmailMessage, subtype: str) -> str | None:
    """The text/plain or text/html body."""
    part = message.get_body(preferencelist=(subtype,))
    if part is None:
        return None
    content = part.get_content()
    return content if isinstance(content, str) else None
