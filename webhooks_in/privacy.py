"""GDPR erasure of the raw Cal.com webhooks kept in the inbox (they hold attendees' names and emails)."""

from __future__ import annotations

from sqlalchemy import delete, func, literal_column, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from webhooks_in.models import CalcomWebhookEvent


async def forget_raw_events(session: AsyncSession, booking_uids: list[str], email: str | None = None) -> int:
    """Delete the stored webhooks of these bookings, and any other body that contains `email`.

    A pending event deleted here is a change not applied; the Cal.com sync catches it up (from
    Cal.com, where the operator erases the person too — see docs/privacy.md).
    """
    conditions: list[ColumnElement[bool]] = [CalcomWebhookEvent.booking_uid.in_(booking_uids)] if booking_uids else []
    if email:
        body = func.lower(func.convert_from(CalcomWebhookEvent.body, literal_column("'UTF8'")))
        conditions.append(func.strpos(body, email.strip().lower()) > 0)
    if not conditions:
        return 0
    result = await session.execute(delete(CalcomWebhookEvent).where(or_(*conditions)))
    return int(getattr(result, "rowcount", 0) or 0)
