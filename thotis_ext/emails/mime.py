"""Wrapping a rendered email in MIME the way mail clients expect an invitation with inline images.

The tree is:

    multipart/mixed                      (only when there is an attachment)
      multipart/alternative
        text/plain
        multipart/related
          text/html
          image/png                      Content-ID <thotis-logo>, inline
      text/calendar; method=REQUEST      invite.ics
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from thotis_ext.emails.render import RenderedEmail


def build_message(
    rendered: RenderedEmail,
    *,
    sender: str,
    to_email: str,
    to_name: str,
    message_id: str,
    headers: dict[str, str] | None = None,
    sent_at: datetime | None = None,
) -> EmailMessage:
    """The email as an SMTP-ready message; `message_id` is the caller's, so a resend is the same email.

    `headers` are added last and replace a standard header of the same name.

    Raises:
        ValueError: `to_email` or `sender` is not an address, or a header value is unusable.
    """
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = Address(display_name=_one_line(to_name), addr_spec=to_email.strip())
    message["Subject"] = _one_line(rendered.subject)
    message["Message-ID"] = message_id
    message["Date"] = format_datetime(sent_at or datetime.now(UTC))
    for name, value in (headers or {}).items():
        del message[name]
        message[name] = _one_line(value)

    message.set_content(rendered.text, subtype="plain", charset="utf-8")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8")
    if rendered.inline_images:
        html_part = list(message.iter_parts())[-1]  # the part add_alternative just made
        for image in rendered.inline_images:
            html_part.add_related(
                image.data,
                maintype="image",
                subtype=image.subtype,
                cid=f"<{image.cid}>",
                disposition="inline",
                filename=image.filename,
            )
    for attachment in rendered.attachments:
        message.add_attachment(
            attachment.data,
            maintype=attachment.maintype,
            subtype=attachment.subtype,
            filename=attachment.filename,
            params=dict(attachment.params),
        )
    return message


def _one_line(value: str) -> str:
    """Header values cannot hold line breaks; a name typed with one is still the same name."""
    return " ".join(value.split())
