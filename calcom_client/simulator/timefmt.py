"""Date parsing and the exact date-string formats Cal.com emits in each place.

Cal.com formats dates differently depending on which library built the string (Prisma dates
through `JSON.stringify`, Luxon `toISO()`, dayjs `format()`), and a client that parses one of them
strictly breaks on the others, so the simulator reproduces each one where Cal.com uses it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Luxon treats these zone names as its fixed UTC zone and prints `Z`; IANA zones print `+00:00`.
_LUXON_UTC_NAMES = frozenset({"utc", "gmt", "z"})


def load_zone(name: str) -> ZoneInfo | None:
    """The IANA zone called `name`, or None when it does not exist (Cal.com answers 400 then)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def parse_iso(value: str, *, end_of_day: bool = False) -> datetime | None:
    """Parse an ISO 8601 string as Luxon `fromISO(value, {zone: "utc"})` does; None if invalid.

    A value without an offset is read as UTC. A bare date means midnight, or 23:59:59 when
    `end_of_day` is set, as Cal.com's slots input service adjusts `end`.
    """
    text = value.strip()
    if not text:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            at = time(23, 59, 59) if end_of_day else time(0, 0)
            return datetime.combine(day, at, tzinfo=UTC)
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    parsed = parsed.astimezone(UTC)
    if end_of_day and parsed.time() == time(0, 0):
        parsed = parsed.replace(hour=23, minute=59, second=59)
    return parsed


@lru_cache(maxsize=1 << 16)
def js_iso(moment: datetime) -> str:
    """`Date.prototype.toISOString()`: UTC, milliseconds, `Z` (Prisma dates in API bodies).

    Cached: a month of slots is some 2,800 strings per `GET /v2/slots`, the same quarter hours
    again and again, and formatting them was a third of the simulator's CPU under load. Aware
    datetimes hash by their instant, so one cached string serves every zone of it.
    """
    # isoformat truncates to the millisecond as `microsecond // 1000` does, in C.
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")[:23] + "Z"


def seconds_z(moment: datetime) -> str:
    """`dayjs.utc().format("YYYY-MM-DDTHH:mm:ss[Z]")`, used for webhook start and end times."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def dayjs_default(moment: datetime) -> str:
    """`dayjs(x).format()` on a UTC server: seconds and a `+00:00` offset (cancellation webhooks)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def luxon_iso(moment: datetime, zone_name: str | None) -> str:
    """Luxon `setZone(zone).toISO()`: milliseconds and the zone's offset, `Z` only for UTC itself."""
    return luxon_formatter(zone_name)(moment)


def luxon_formatter(zone_name: str | None) -> Callable[[datetime], str]:
    """`luxon_iso` with the zone looked up once, for formatting many instants in one zone."""
    if zone_name is None or zone_name.lower() in _LUXON_UTC_NAMES:
        return js_iso
    zone = load_zone(zone_name) or UTC

    def formatted(moment: datetime) -> str:
        text = moment.astimezone(zone).isoformat(timespec="milliseconds")
        # `…000+02:00`: Luxon's form, unless the offset has seconds (local mean times before 1900).
        return text if len(text) == 29 else _luxon_slow(moment.astimezone(zone))

    return formatted


def _luxon_slow(local: datetime) -> str:
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}" + _offset(local)


def utc_offset_minutes(zone_name: str, moment: datetime) -> int:
    """Minutes east of UTC of `zone_name` at `moment`, the `utcOffset` webhook payloads carry."""
    zone = load_zone(zone_name) or UTC
    offset = moment.astimezone(zone).utcoffset() or timedelta(0)
    return int(offset.total_seconds() // 60)


def _offset(local: datetime) -> str:
    offset = local.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{mins:02d}"
