"""Weekly schedules turned into UTC working windows, free slots and bookability checks.

Pure functions of values and an explicit `now`, so the slot rules can be property-tested without
the HTTP layer. Slots start at each working window's start and step by the event type's
`slotInterval` (or its length, as Cal.com does when no interval is set); a slot must fit wholly in
one window, start no earlier than `now + minimumBookingNotice`, and, widened by the event type's
buffers, overlap no busy interval (bookings that still hold their time and external calendar events).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from calcom_client.simulator.state import Booking, EventType, User, WeeklySchedule
from calcom_client.simulator.timefmt import luxon_formatter

Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class SlotRules:
    """What decides the free slots of one event type: length, step, notice and buffers."""

    length: timedelta
    step: timedelta
    notice: timedelta
    before_buffer: timedelta
    after_buffer: timedelta

    @classmethod
    def of(cls, event_type: EventType, length_minutes: int | None = None) -> SlotRules:
        """The rules of `event_type`, optionally for another of its allowed lengths."""
        length = timedelta(minutes=length_minutes or event_type.length)
        step = timedelta(minutes=event_type.slot_interval) if event_type.slot_interval else length
        return cls(
            length=length,
            step=step,
            notice=timedelta(minutes=event_type.minimum_booking_notice),
            before_buffer=timedelta(minutes=event_type.before_event_buffer),
            after_buffer=timedelta(minutes=event_type.after_event_buffer),
        )


def working_windows(schedule: WeeklySchedule, zone: tzinfo, start: datetime, end: datetime) -> list[Interval]:
    """UTC windows of `schedule` (local wall-clock hours in `zone`) that may touch [start, end]."""
    first = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date() + timedelta(days=1)
    windows: list[Interval] = []
    day = first
    while day <= last:
        for opens, closes in schedule.get(day.weekday(), ()):
            window_start = datetime.combine(day, opens, tzinfo=zone).astimezone(UTC)
            window_end = datetime.combine(day, closes, tzinfo=zone).astimezone(UTC)
            if window_end > window_start:
                windows.append((window_start, window_end))
        day += timedelta(days=1)
    return sorted(windows)


def busy_intervals(user: User, bookings: Iterable[Booking], exclude_uid: str | None = None) -> list[Interval]:
    """External busy times plus the bookings that still hold their time, except `exclude_uid`."""
    busy = list(user.busy)
    busy.extend((b.start, b.end) for b in bookings if b.active and b.uid != exclude_uid)
    return busy


def overlaps(start: datetime, end: datetime, busy: Sequence[Interval]) -> bool:
    """Whether the half-open interval [start, end) meets any busy interval."""
    return any(start < busy_end and busy_start < end for busy_start, busy_end in busy)


def free_slots(
    *,
    windows: Sequence[Interval],
    busy: Sequence[Interval],
    rules: SlotRules,
    now: datetime,
    range_start: datetime,
    range_end: datetime,
) -> list[datetime]:
    """Start instants (UTC) of the free slots inside [range_start, range_end], sorted."""
    earliest = max(range_start, now + rules.notice)
    slots: set[datetime] = set()
    for window_start, window_end in windows:
        slot = window_start
        while slot + rules.length <= window_end:
            if (
                slot >= earliest
                and slot + rules.length <= range_end
                and not overlaps(slot - rules.before_buffer, slot + rules.length + rules.after_buffer, busy)
            ):
                slots.add(slot)
            slot += rules.step
    return sorted(slots)


def is_bookable(
    *, windows: Sequence[Interval], busy: Sequence[Interval], rules: SlotRules, start: datetime, end: datetime
) -> bool:
    """Whether [start, end) lies inside one working window and, with buffers, meets no busy time.

    Cal.com checks the organizer's availability for the requested interval rather than the slot
    grid, so an off-grid start inside working hours is accepted too.
    """
    inside = any(window_start <= start and end <= window_end for window_start, window_end in windows)
    return inside and not overlaps(start - rules.before_buffer, end + rules.after_buffer, busy)


def group_slots(
    slots: Sequence[datetime], *, time_zone: str | None, range_length: timedelta | None
) -> dict[str, list[dict[str, str]]]:
    """The `data` of `GET /v2/slots`: days in `time_zone` (UTC if None) → `[{start[, end]}]`.

    Days without a free slot are left out, as Cal.com's slots output service does.
    """
    iso = luxon_formatter(time_zone)
    grouped: dict[str, list[dict[str, str]]] = {}
    for slot in slots:
        start = iso(slot)
        item = {"start": start}
        if range_length is not None:
            item["end"] = iso(slot + range_length)
        # The start is written in `time_zone` (UTC if None or unknown): its first ten characters
        # are the slot's day there.
        grouped.setdefault(start[:10], []).append(item)
    return grouped
