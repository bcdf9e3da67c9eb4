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
from typing import Any

import msgspec
from sqlalchemy import DateTime, Integer, LargeBinary, String, Text, cast, func, insert, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import UpdateBase

from core.write_batch import Param, Write, defer, pending, pending_writes
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


def new_message_id(now: datetime) -> str:
    """`msg_` + milliseconds since the epoch (hex, sortable) + 64 random bits."""
    return f"msg_{int(now.timestamp() * 1000):012x}{secrets.token_hex(8)}"


async def emit(
    session: AsyncSession, event_type: str, data: dict[str, Any], *, subject: str | None, occurred_at: datetime
) -> str:
    """Queue one event; returns its message id. `subject` (a session uid) numbers its events 1, 2, …

    The message and its deliveries go with the transaction's write batch (core/write_batch.py):
    no statement is sent here.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    if "sequence" in data:
        raise ValueError("`sequence` is the outbox's to number")
    message_id = new_message_id(occurred_at)
    # Events of this subject still in the batch: the batch's statements share one snapshot, so
    # the stored maximum cannot count them.
    ahead = 0
    if subject is not None:
        ahead = sum(1 for w in pending_writes(session) if isinstance(w, _PendingMessage) and w.subject == subject)
    timestamp = occurred_at.isoformat(timespec="milliseconds")
    payload = msgspec.json.encode({"id": message_id, "type": event_type, "timestamp": timestamp, "data": data})
    # `data.sequence` comes last, as the number the database gives: `…,"sequence":` n `}}`.
    head = payload[:-2] + (b',"sequence":' if data else b'"sequence":')
    message = _PendingMessage(message_id, event_type, subject, ahead + 1, head)
    pending(session, ("message", message_id), lambda: message)
    deliveries = {"message_id": message_id, "event_type": event_type, "due": occurred_at}
    defer(session, Write("deliveries", _fan_out, deliveries))
    return message_id


class _PendingMessage:
    """A message for the write batch, numbered after its subject's stored events (`offset` counts
    itself and those of the subject ahead of it in the batch, which the stored maximum cannot)."""

    def __init__(self, message_id: str, event_type: str, subject: str | None, offset: int, head: bytes) -> None:
        self.message_id, self.event_type, self.subject = message_id, event_type, subject
        self.offset, self.head = offset, head

    def write(self) -> Write:
        values = {"id": self.message_id, "event_type": self.event_type, "subject": self.subject,
                  "offset": self.offset, "head": self.head}  # fmt: skip
        return Write(("message", self.subject is not None), self._numbered, values)

    def _numbered(self, param: Param) -> UpdateBase:
        sequence: Any = param("offset", Integer)
        if self.subject is not None:
            stored = select(func.coalesce(func.max(WebhookMessage.sequence), 0))
            sequence = stored.where(WebhookMessage.subject == param("subject", String)).scalar_subquery() + sequence
        numbered = select(sequence.label("n")).subquery()
        payload = (
            param("head", LargeBinary)
            .op("||")(func.convert_to(cast(numbered.c.n, Text), "UTF8"))
            .op("||")(literal(b"}}", LargeBinary))
        )
        columns = (param("id", String), param("event_type", String), param("subject", String), numbered.c.n)
        return insert(WebhookMessage).from_select(
            ["id", "event_type", "subject", "sequence", "payload"], select(*columns, payload)
        )


def _fan_out(param: Param) -> UpdateBase:
    """A pending delivery of a message to every enabled endpoint that wants its type (one that
    lists none wants all); one statement, not a read of the endpoints and then a write."""
    return insert(WebhookDelivery).from_select(
        ["message_id", "endpoint_id", "next_attempt_at"],
        select(param("message_id", String), WebhookEndpoint.id, param("due", DateTime(timezone=True))).where(
            WebhookEndpoint.disabled_at.is_(None),
            or_(
                func.cardinality(WebhookEndpoint.events) == 0,
                param("event_type", String) == WebhookEndpoint.events.any_(),
            ),
        ),
    )


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
