"""Sending queued emails: claim a batch, send it over one SMTP connection, record each result.

A claim moves the email's next attempt a lease ahead in a short transaction (SKIP LOCKED, so
several workers share the queue); each accepted email is marked sent right away in its own
commit. A worker killed mid-batch leaves unsent claims to expire and be sent by another; the
only email that can go twice is one the server accepted in the instant before its mark was
committed, and it goes with the same Message-ID, which mail clients show once.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Protocol

from sqlalchemy import and_, or_, select, update

from core.database import Database
from core.mail import MailConnection, PermanentMailError, TransientMailError
from core.tokens import rating_token
from thotis_ext.analytics.tracking import track
from thotis_ext.emails.context import EmailContext
from thotis_ext.emails.kinds import EmailKind
from thotis_ext.emails.mime import build_message
from thotis_ext.emails.models import OutboundEmail
from thotis_ext.emails.render import render_email

log = logging.getLogger(__name__)

#: Waits after the 1st, 2nd, … failed attempt; after the last one the email is dead (and admins told).
RETRY_DELAYS = (60, 300, 900, 3600, 3 * 3600, 6 * 3600)
#: Analytics events recorded when an email of that kind is sent.
SENT_EVENTS = {EmailKind.REMINDER: "reminder_sent", EmailKind.FEEDBACK_REQUEST: "feedback_requested"}


class Mailer(Protocol):
    """Opens a connection that sends messages (core.mail.SmtpMailer, or a test double)."""

    def connection(self) -> AbstractAsyncContextManager[MailConnection]: ...


@dataclass(frozen=True, slots=True)
class SenderConfig:
    """What sending needs from settings."""

    sender: str
    public_url: str
    jwt_secret: str
    jwt_audience: str
    disabled: frozenset[str] = field(default_factory=frozenset)
    lease: timedelta = timedelta(minutes=5)
    batch: int = 50
    message_id_domain: str = "thotis.local"


@dataclass(slots=True)
class SendCounts:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    skipped: int = 0
    expired: int = 0

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


def retry_at(failed_attempts: int, now: datetime) -> datetime | None:
    """When to try again after `failed_attempts` failures; None once the schedule is spent."""
    if failed_attempts < 1 or failed_attempts > len(RETRY_DELAYS):
        return None
    return now + timedelta(seconds=RETRY_DELAYS[failed_attempts - 1])


async def send_due(database: Database, mailer: Mailer | None, config: SenderConfig, now: Callable[[], datetime],
                   *, ids: Sequence[int] = (), keys: Sequence[str] = ()) -> SendCounts:  # fmt: skip
    """Send what is due (or only the emails named by `ids` or dedupe `keys`, if due), batch after
    batch until none is left.

    Without a mail server (`mailer=None`) nothing is claimed: emails wait, pending, until one is
    configured (or until they expire).
    """
    counts = SendCounts()
    while mailer is not None:
        claimed = await _claim(database, config, now(), ids, keys)
        if not claimed:
            return counts
        await _send_batch(database, mailer, config, now, claimed, counts)
        if ids or keys or len(claimed) < config.batch:
            break
    return counts


async def _claim(database: Database, config: SenderConfig, now: datetime, ids: Sequence[int],
                 keys: Sequence[str] = ()) -> list[OutboundEmail]:  # fmt: skip
    due = and_(OutboundEmail.status == "pending", OutboundEmail.next_attempt_at <= now)
    if ids or keys:
        due = and_(due, or_(OutboundEmail.id.in_(list(ids)), OutboundEmail.dedupe_key.in_(list(keys))))
    chosen = (
        select(OutboundEmail.id)
        .where(due)
        .order_by(OutboundEmail.next_attempt_at)
        .limit(config.batch)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    async with database.session() as session:
        result = await session.scalars(
            update(OutboundEmail)
            .where(OutboundEmail.id.in_(chosen))
            .values(next_attempt_at=now + config.lease, attempts=OutboundEmail.attempts + 1)
            .returning(OutboundEmail)
        )
        return list(result)


async def _send_batch(database: Database, mailer: Mailer, config: SenderConfig, now: Callable[[], datetime],
                      claimed: list[OutboundEmail], counts: SendCounts) -> None:  # fmt: skip
    ready: list[tuple[OutboundEmail, EmailMessage]] = []
    for email in claimed:
        if email.kind in config.disabled:
            await _finish(database, email, "skipped", now(), "switched off by THOTIS_EMAILS_DISABLED")
            counts.skipped += 1
        elif email.expires_at is not None and email.expires_at <= now():
            await _finish(database, email, "expired", now(), None)
            counts.expired += 1
        else:
            try:
                ready.append((email, _message(email, config, now())))
            except Exception as exc:  # a template or payload bug: retrying cannot fix it
                log.exception("email %s (%s) cannot be rendered", email.id, email.kind)
                await _finish(database, email, "dead", now(), f"cannot render: {type(exc).__name__}")
                counts.dead += 1
    if not ready:
        return
    try:
        async with mailer.connection() as connection:
            for index, (email, message) in enumerate(ready):
                try:
                    await connection.send(message)
                except PermanentMailError as exc:
                    await _finish(database, email, "dead", now(), str(exc))
                    counts.dead += 1
                    continue
                except TransientMailError as exc:
                    for later, _ in ready[index:]:
                        await _retry(database, later, now(), str(exc), counts)
                    return
                await _mark_sent(database, email, now())
                counts.sent += 1
    except TransientMailError as exc:  # could not connect: the whole batch waits
        log.warning("SMTP unavailable: %s", exc)
        for email, _ in ready:
            if email.status == "pending":
                await _retry(database, email, now(), str(exc), counts)


def _message(email: OutboundEmail, config: SenderConfig, now: datetime) -> EmailMessage:
    context = EmailContext.from_payload(email.payload)
    if context.kind is EmailKind.FEEDBACK_REQUEST and context.session_uid:
        token = rating_token(config.jwt_secret, config.jwt_audience, context.session_uid)
        context = dataclasses.replace(context, rating_url=f"{config.public_url.rstrip('/')}/rate/{token}")
    rendered = render_email(context, now, organizer_email=parseaddr(config.sender)[1] or None)
    return build_message(
        rendered,
        sender=config.sender,
        to_email=context.to_email,
        to_name=context.to_name,
        message_id=email.message_id,
        headers={"X-Thotis-Email": email.kind, "Auto-Submitted": "auto-generated"},
    )


async def _mark_sent(database: Database, email: OutboundEmail, now: datetime) -> None:
    email.status = "sent"
    async with database.session() as session:
        await session.execute(
            update(OutboundEmail)
            .where(OutboundEmail.id == email.id)
            .values(status="sent", sent_at=now, last_error=None)
        )
        event = SENT_EVENTS.get(EmailKind(email.kind))
        if event is not None and email.session_uid:
            properties = {"sessionUid": email.session_uid, "recipient": email.recipient,
                          "language": email.payload.get("locale")}  # fmt: skip
            track(session, event, f"session:{email.session_uid}", properties, now)


async def _finish(database: Database, email: OutboundEmail, status: str, now: datetime, error: str | None) -> None:
    email.status = status
    async with database.session() as session:
        await session.execute(
            update(OutboundEmail).where(OutboundEmail.id == email.id).values(status=status, last_error=error)
        )
    if status == "dead":
        log.error("email %s (%s to %s) given up: %s", email.id, email.kind, email.recipient, error)


async def _retry(database: Database, email: OutboundEmail, now: datetime, error: str, counts: SendCounts) -> None:
    later = retry_at(email.attempts, now)
    if later is None:
        await _finish(database, email, "dead", now, error[:500])
        counts.dead += 1
        return
    async with database.session() as session:
        await session.execute(
            update(OutboundEmail)
            .where(OutboundEmail.id == email.id)
            .values(next_attempt_at=later, last_error=error[:500])
        )
    counts.retried += 1
