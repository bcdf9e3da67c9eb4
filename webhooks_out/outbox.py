"""Writing Thotis events to the outbox, in the transaction of the change that caused them (R10).

`emit` stores the message (its id is the `webhook-id`, its payload the exact bytes that will be
signed and sent) and one pending delivery (status `pending` by default) for each enabled endpoint
that wants the event type.
Nothing is sent here: a change that rolls back leaves no event, and a committed one cannot be
lost, because delivery reads only committed rows.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, cast

import msgspec
from sqlalchemy import DateTime, String, Table, bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from webhooks_out.models import WebhookDelivery, WebhookEndpoint, WebhookMessage

EVENT_TYPES = (
    "booking.created",
    "booking.cancelled",
    "booking.rescheduled",
    "booking.completed",
    "booking.no_show",
    "rating.submitted",
    "rating.flagged",
)


#: A pending delivery of a message to every enabled endpoint that wants its type (none listed: all).
_FAN_OUT = (
    cast(Table, WebhookDelivery.__table__)
    .insert()
    .from_select(  # Core: a SELECT, not objects
        ["message_id", "endpoint_id", "next_attempt_at"],
        select(
            bindparam("message_id", type_=String()),
            WebhookEndpoint.id,
            bindparam("due", type_=DateTime(timezone=True)),
        ).where(
            WebhookEndpoint.disabled_at.is_(None),
            or_(
                func.cardinality(WebhookEndpoint.events) == 0,
                bindparam("event_type", type_=String()) == WebhookEndpoint.events.any_(),
            ),
        ),
    )
)


def new_message_id(now: datetime) -> str:
    """`msg_` + milliseconds since the epoch (hex, sortable) + 64 random bits."""
    return f"msg_{int(now.timestamp() * 1000):012x}{secrets.token_hex(8)}"


async def emit(
    session: AsyncSession, event_type: str, data: dict[str, Any], *, subject: str | None, occurred_at: datetime
) -> str:
    """Queue one event; returns its message id. `subject` (a session uid) numbers its events 1, 2, …"""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    sequence = 1
    if subject is not None:
        last = await session.scalar(select(func.max(WebhookMessage.sequence)).where(WebhookMessage.subject == subject))
        sequence = int(last or 0) + 1
    message_id = new_message_id(occurred_at)
    payload = msgspec.json.encode(
        {
            "id": message_id,
            "type": event_type,
            "timestamp": occurred_at.isoformat(timespec="milliseconds"),
            "data": {**data, "sequence": sequence},
        }
    )
    session.add(
        WebhookMessage(id=message_id, event_type=event_type, subject=subject, sequence=sequence, payload=payload)
    )
    await session.flush()  # the message before its deliveries (foreign key)
    # One statement, not a read of the endpoints and then a write: each round trip of the
    # transaction that emits (a booking's) is one more wait for a busy database or core.
    await session.execute(_FAN_OUT, {"message_id": message_id, "event_type": event_type, "due": occurred_at})
    return message_id


async def scrub_field(session: AsyncSession, subjects: list[str], field: str) -> int:
    """Blank `data.<field>` in the stored events of these subjects (GDPR erasure of free text);
    deliveries still to come send the scrubbed payload, signed when sent."""
    if not subjects:
        return 0
    messages = await session.scalars(
        select(WebhookMessage).where(WebhookMessage.subject.in_(subjects)).with_for_update()
    )
    scrubbed = 0
    for message in messages:
        payload = msgspec.json.decode(message.payload)
        data = payload.get("data")
        if isinstance(data, dict) and data.get(field) is not None:
            data[field] = None
            message.payload = msgspec.json.encode(payload)
            scrubbed += 1
    return scrubbed
