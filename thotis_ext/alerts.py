"""Telling administrators about failures that need a person (R16): by email, once per incident."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from thotis_ext.emails.context import EmailContext
from thotis_ext.emails.kinds import EmailKind, Recipient
from thotis_ext.emails.outbox import queue
from webhooks_out.models import WebhookDelivery

ALERT_LIFETIME = timedelta(days=1)


def alert_context(to_email: str, title: str, body: str) -> EmailContext:
    """An admin alert email (English: operators' language)."""
    return EmailContext(
        kind=EmailKind.ADMIN_ALERT,
        recipient=Recipient.ADMIN,
        to_email=to_email,
        locale="en",
        alert_title=title,
        alert_body=body,
    )


async def alert_admins(db: AsyncSession, admins: Sequence[str], incident: str, title: str, body: str,
                       now: datetime) -> int:  # fmt: skip
    """Queue one alert per admin for `incident` (a key naming it); the same incident alerts once."""
    queued = 0
    for admin in admins:
        context = alert_context(admin, title, body)
        if await queue(db, context, f"alert:{incident}:{admin}", now, now + ALERT_LIFETIME) is not None:
            queued += 1
    return queued


async def dead_deliveries_alert(db: AsyncSession, admins: Sequence[str], now: datetime) -> int:
    """Alert about outbound webhooks given up since the last alert (keyed by the newest dead one)."""
    count, newest = (
        await db.execute(select(func.count(), func.max(WebhookDelivery.id)).where(WebhookDelivery.status == "dead"))
    ).one()
    if not count:
        return 0
    body = (
        f"{count} outbound webhook deliveries are dead-lettered: their endpoints kept failing for about a day. "
        "Check the endpoints, then redeliver them from GET /api/v2/webhooks/{id}/deliveries."
    )
    return await alert_admins(db, admins, f"dead-webhooks:{newest}", "Webhook deliveries given up", body, now)
