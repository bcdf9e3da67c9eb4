"""Reading a verified Cal.com webhook body (calcom-contract.md §8): which trigger, which booking,
when it was sent, what makes two deliveries of it the same, and the facts the sessions need.

Accepts the envelope `{triggerEvent, createdAt, payload}`, the flat MEETING_STARTED/ENDED body
of the pinned version (`{triggerEvent, ...booking}`), `PING` and triggers it does not know.
Nothing here raises on odd content except `MalformedWebhook` for a body that is not a JSON object.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec

from core.errors import InvalidInput
from thotis_ext.sessions.lifecycle import BookingChange, BookingFacts

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

#: Triggers that change a Thotis session, and how.
CHANGES: dict[str, BookingChange] = {
    "BOOKING_CREATED": BookingChange.CREATED,
    "BOOKING_CANCELLED": BookingChange.CANCELLED,
    "BOOKING_REJECTED": BookingChange.CANCELLED,
    "BOOKING_RESCHEDULED": BookingChange.RESCHEDULED,
    "MEETING_ENDED": BookingChange.ENDED,
    "BOOKING_NO_SHOW_UPDATED": BookingChange.NO_SHOW,
}


class MalformedWebhook(InvalidInput):
    code = "MALFORMED_WEBHOOK"
    default_message = "The webhook body is not a JSON object."


@dataclass(frozen=True, slots=True)
class InboundWebhook:
    """One verified webhook: its trigger, the booking it is about and its booking facts."""

    trigger: str
    sent_at: datetime | None
    payload: dict[str, Any]
    raw: bytes
    booking_uid: str | None
    dedupe_key: str

    @property
    def change(self) -> BookingChange | None:
        return CHANGES.get(self.trigger)


def parse_webhook(raw: bytes) -> InboundWebhook:
    """Raises:
    MalformedWebhook: the body is not a JSON object.
    """
    try:
        body = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        raise MalformedWebhook("The webhook body is not JSON.", code="MALFORMED_JSON") from None
    if not isinstance(body, dict):
        raise MalformedWebhook()
    trigger = _text(body.get("triggerEvent"), 64) or "UNKNOWN"
    enveloped = isinstance(body.get("payload"), dict)
    payload: dict[str, Any] = body["payload"] if enveloped else {k: v for k, v in body.items() if k != "triggerEvent"}
    uid = _text(payload.get("uid"), 64) or _text(payload.get("bookingUid"), 64)
    return InboundWebhook(
        trigger=trigger,
        sent_at=_instant(body.get("createdAt")),
        payload=payload,
        raw=raw,
        booking_uid=uid,
        dedupe_key=_dedupe_key(trigger, uid, payload),
    )


def _dedupe_key(trigger: str, uid: str | None, payload: Mapping[str, Any]) -> str:
    """What makes two deliveries the same event: the trigger and the booking for one-off changes;
    for the rest (no-show marks can flip, pings, unknown triggers) also a digest of the payload,
    which leaves out Cal.com's per-send `createdAt` (it is in the envelope, not the payload)."""
    if uid and trigger in ("BOOKING_CREATED", "BOOKING_CANCELLED", "BOOKING_REJECTED", "BOOKING_RESCHEDULED",
                           "BOOKING_REQUESTED", "MEETING_STARTED", "MEETING_ENDED"):  # fmt: skip
        return f"{trigger}:{uid}"
    digest = hashlib.sha256(msgspec.json.encode(_sorted(payload))).hexdigest()[:32]
    return f"{trigger}:{uid or '-'}:{digest}"


def booking_facts(event: InboundWebhook) -> BookingFacts | None:
    """The facts of a booking webhook, None when it names no booking."""
    p = event.payload
    if event.booking_uid is None:
        return None
    attendee = _first_attendee(p)
    organizer = p.get("organizer") if isinstance(p.get("organizer"), dict) else p.get("user")
    raw_metadata = p.get("metadata")
    metadata: dict[str, Any] = raw_metadata if isinstance(raw_metadata, dict) else {}
    no_show = [a for a in p.get("attendees") or [] if isinstance(a, dict) and "noShow" in a]
    return BookingFacts(
        uid=event.booking_uid,
        booking_id=_integer(p.get("bookingId", p.get("id"))),
        event_type_id=_integer(p.get("eventTypeId")),
        start=_instant(p.get("startTime")),
        end=_instant(p.get("endTime")),
        attendee_name=_text(attendee.get("name"), 200),
        attendee_email=_text(attendee.get("email"), 320),
        attendee_time_zone=_text(attendee.get("timeZone"), 64),
        attendee_language=_locale(attendee.get("language")),
        question=_text(p.get("additionalNotes"), 2000),
        meet_url=_text(metadata.get("videoCallUrl"), 2000),
        metadata={str(k): str(v) for k, v in metadata.items() if isinstance(v, str | int | bool)},
        organizer_email=_text(organizer.get("email"), 320) if isinstance(organizer, dict) else None,
        changed_by_email=_text(p.get("cancelledBy") or p.get("rescheduledBy"), 320),
        reason=_text(p.get("cancellationReason") or p.get("rescheduleReason"), 2000),
        previous_uid=_text(p.get("rescheduleUid"), 64),
        previous_start=_instant(p.get("rescheduleStartTime")),
        previous_end=_instant(p.get("rescheduleEndTime")),
        attendee_no_show=any(a.get("noShow") is True for a in no_show) if no_show else None,
        host_no_show=p["noShowHost"] if isinstance(p.get("noShowHost"), bool) else None,
    )


def _first_attendee(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    attendees = payload.get("attendees")
    if isinstance(attendees, list) and attendees and isinstance(attendees[0], dict):
        return attendees[0]
    return {}


def _locale(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("locale")
    return _text(value, 16)


def _text(value: Any, limit: int) -> str | None:
    """A trimmed string without control characters (the database refuses NUL), else None."""
    if not isinstance(value, str):
        return None
    cleaned = _CONTROL.sub("", value).strip()
    return cleaned[:limit] or None


def _integer(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31 else None


def _instant(value: Any) -> datetime | None:
    """An ISO 8601 instant (`Z`, an offset, or milliseconds); naive ones are UTC, as Cal.com's are."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value
