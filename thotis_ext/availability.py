"""A mentor's free 15-minute slots, from Cal.com, clipped to the booking window (R5.1, R8.2).

Slots are cached for a short while per event type and range, in UTC; each answer is clipped
again to the window at the moment it is served, so a cached slot that has moved inside the
2-hour notice is never offered. A Cal.com failure is an error, never an old answer.
"""

from __future__ import annotations

import random
from bisect import bisect_left
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from calcom_client import CalcomClient, CalcomError
from core.cache import Cache, Expiring
from core.clock import Clock
from thotis_ext import rules
from thotis_ext.calcom_errors import as_thotis_error
from thotis_ext.enums import CalcomLinkStatus
from thotis_ext.models import Session, StudentProfile
from thotis_ext.profiles.booking_target import BookingTargets
from thotis_ext.profiles.repository import ProfileRepository
from thotis_ext.profiles.service import (
    ProfileNotFound,
    check_user_id,
    invalidate_profile_after_commit,
)

#: A slot as (start, end) in whole seconds since the epoch: the form slots are cached and filtered
#: in, since comparing and rendering 700 of them as datetimes cost milliseconds per read.
Span = tuple[int, int]
_SPANS = msgspec.json.Decoder(list[tuple[int, int]])
SESSION_SECONDS = int(rules.SESSION_LENGTH.total_seconds())


@dataclass(frozen=True, slots=True)
class Slot:
    """A free slot, aware UTC datetimes."""

    start: datetime
    end: datetime


def slots_group(event_type_id: int) -> str:
    """Cache group of one event type's slots as Cal.com gave them, and of the slots taken since."""
    return f"slots:{event_type_id}"


def slots_view_group(event_type_id: int) -> str:
    """Cache group of one event type's rendered slot lists (`free_slots_json`)."""
    return f"slots-view:{event_type_id}"


def slot_groups(event_type_id: int) -> tuple[str, str]:
    """Every cached slot of an event type: what a change of its bookings other than a Thotis
    booking (a cancellation, a reschedule, anything Cal.com tells of) invalidates."""
    return slots_group(event_type_id), slots_view_group(event_type_id)


def _taken_key(event_type_id: int) -> str:
    return f"slots-taken:{event_type_id}"


def withheld_slot(event_type_id: int, start: datetime, end: datetime, ttl_seconds: int) -> Expiring:
    """What a Thotis booking of [start, end) adds to the event type's cached slots, instead of
    dropping them: the booked span, withheld from Cal.com's cached answers when they are read.

    Cal.com would now answer the same slots less those meeting the booking (Thotis's event types
    have no buffers and no booking limits; a mentor who adds some in Cal.com gets a 409 on a slot
    offered by mistake, for at most `ttl_seconds`). Each booking otherwise cost a month of slots
    from Cal.com at the next read of the mentor's availability. `ttl_seconds` is the slots' own
    cache TTL: the withheld span outlives every answer cached before the booking, and no more
    (answers fetched since leave it out themselves), so a busy mentor's list stays short. The
    booking drops the rendered views (`slots_view_group`) in the same round trip, after the add;
    when Redis is away the slots are dropped instead (`invalidate_profile_after_commit`).
    """
    span = f"{int(start.timestamp())}:{int(end.timestamp())}"
    return Expiring(_taken_key(event_type_id), (span,), ttl_seconds, slots_group(event_type_id))


def invalidate_sessions_change_after_commit(
    session: AsyncSession,
    cache: Cache,
    mentor: StudentProfile,
    *,
    taken: Session | None = None,
    slots_ttl_seconds: int | None = None,
) -> None:
    """Once a change of the mentor's sessions commits, drop their cached profile views (not the
    booking target: only counters moved), list pages and slots. A new booking (`taken`) keeps
    Cal.com's cached answers and withholds its own span instead, when the slots' TTL is known
    (`withheld_slot`)."""
    event_type_id, add = mentor.calcom_event_type_id, None
    slots: tuple[str, ...] = ()
    if event_type_id is not None and taken is not None and slots_ttl_seconds is not None:
        slots = (slots_view_group(event_type_id),)
        add = withheld_slot(event_type_id, taken.start_at, taken.end_at, slots_ttl_seconds)
    elif event_type_id is not None:
        slots = slot_groups(event_type_id)
    invalidate_profile_after_commit(
        session, cache, mentor.user_id, *slots, in_field=mentor.field, add=add, counters_only=True
    )


def _hour_floor(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _hour_ceil(moment: datetime) -> datetime:
    floored = _hour_floor(moment)
    return floored if floored == moment else floored + timedelta(hours=1)


def _spans_ttl(ttl_seconds: int) -> int:
    """A cached Cal.com answer lives 75-100 % of the slots' TTL, drawn anew for each: answers
    fetched together (every mentor's at the hour, or at start-up) then expire apart, instead of
    refetching together every TTL, a burst of Cal.com calls that stalled every other request."""
    return max(1, round(ttl_seconds * random.uniform(0.75, 1.0)))  # spreading, not secrecy


class AvailabilityService:
    """Reads slots from Cal.com through a short cache; the database only when the cache misses."""

    def __init__(
        self, targets: BookingTargets, client: CalcomClient, cache: Cache, clock: Clock, *, ttl_seconds: int = 120
    ) -> None:
        """`targets`: each mentor's event type, through the profile cache (the view a booking reads too)."""
        self.targets = targets
        self.client = client
        self.cache = cache
        self.clock = clock
        self.ttl_seconds = ttl_seconds

    async def free_slots(self, user_id: str, start: datetime | None, end: datetime | None) -> list[Slot]:
        """Free 15-minute slots of a public, linked mentor inside the booking window, ascending.

        Raises:
            ProfileNotFound, MentorNotBookable, CalcomUnreachable, CalcomTooSlow, CalcomRejected
        """
        spans = await self._free_spans(await self._event_type_of(user_id), start, end)
        return [Slot(datetime.fromtimestamp(a, UTC), datetime.fromtimestamp(b, UTC)) for a, b in spans]

    async def free_slots_json(
        self, user_id: str, start: datetime | None, end: datetime | None, zone: ZoneInfo
    ) -> bytes:
        """`free_slots` as the JSON of `[{start, end}]` in `zone`, itself cached for the current minute.

        A 30-day range holds some 700 slots: converting them to the caller's zone and to text costs
        more than a cached profile read, on every read. The rendered list is cached per range, zone
        and minute (what the booking window depends on), in the mentor's slot group, so a booking
        drops it with the slots.

        Raises:
            ProfileNotFound, MentorNotBookable, CalcomUnreachable, CalcomTooSlow, CalcomRejected
        """
        event_type_id = await self._event_type_of(user_id)
        minute = self.clock.now().replace(second=0, microsecond=0)
        key = "slots-view:" + "|".join(
            (str(event_type_id), _key_part(start), _key_part(end), zone.key, minute.isoformat())
        )
        group = slots_view_group(event_type_id)
        cached = await self.cache.get_bytes(key, group=group)
        if cached is not None:
            return cached
        value = slots_json(await self._free_spans(event_type_id, start, end), zone)
        await self.cache.set_bytes(key, value, VIEW_TTL_SECONDS, group=group)
        return value

    async def _free_spans(self, event_type_id: int, start: datetime | None, end: datetime | None) -> list[Span]:
        """The offerable slots of [start, end) clipped to the booking window, as epoch spans."""
        now = self.clock.now()
        window = rules.clip_to_booking_window(start, end, now)
        if window is None:
            return []
        # Ask Cal.com for whole hours, so the default range (now + 2 h to now + 30 days) keeps one
        # cache key for an hour and is asked for once a TTL; the exact window is applied here, on
        # every read. (Keyed by the minute, every mentor's slots were asked for again at each minute.)
        first, last = _hour_floor(window[0]), _hour_ceil(window[1])
        taken = await self._taken(event_type_id)
        if taken is None:  # Redis is away: a copy cached in this process may offer a slot booked since
            spans, taken = await self._fetch_spans(event_type_id, first, last), []
        else:
            spans = await self._cached_spans(event_type_id, first, last)
        lower, upper = window[0].timestamp(), window[1].timestamp()
        # Cal.com may answer whole days around the range; keep only what was asked for. Inside the
        # window, an offerable slot (rules.is_offerable_slot) is one of exactly 15 minutes.
        offered = [(a, b) for a, b in spans if b - a == SESSION_SECONDS and lower <= a and b <= upper]
        return [span for span in offered if not overlaps_any(span, taken)] if taken else offered

    async def _taken(self, event_type_id: int) -> list[Span] | None:
        """Spans booked through Thotis since Cal.com's cached answers (`withheld_slot`), sorted; None
        when Redis is away."""
        members = await self.cache.live_members(_taken_key(event_type_id))
        if members is None:
            return None
        return sorted((int(a), int(b)) for a, _, b in (member.partition(":") for member in members))

    async def _event_type_of(self, user_id: str) -> int:
        """The event type of a public, linked mentor, through the profile cache (hits skip the DB).

        Raises:
            ProfileNotFound, MentorNotBookable
        """
        return (await self.targets.get(user_id)).calcom_event_type_id

    async def _cached_spans(self, event_type_id: int, start: datetime, end: datetime) -> list[Span]:
        # Concurrent misses of one range in this process share one Cal.com call (`Cache.fill`).
        key = f"slot-spans:{event_type_id}:{start.isoformat()}:{end.isoformat()}"

        async def fetch() -> list[Span]:
            return await self._fetch_spans(event_type_id, start, end)

        ttl = _spans_ttl(self.ttl_seconds)
        cached = await self.cache.get_or_load(key, fetch, ttl, group=slots_group(event_type_id))
        return _SPANS.decode(cached)

    async def _fetch_spans(self, event_type_id: int, start: datetime, end: datetime) -> list[Span]:
        try:
            found = await self.client.get_slots(event_type_id, start, end, time_zone="UTC", format="range")
        except CalcomError as exc:
            raise as_thotis_error(exc) from exc
        length = rules.SESSION_LENGTH  # when Cal.com gives no end
        return [(int(s.start.timestamp()), int((s.end or s.start + length).timestamp())) for s in found]


async def refresh_slot_count(
    session: AsyncSession, client: CalcomClient, cache: Cache, now: datetime, user_id: str
) -> int:
    """Recount one mentor's free slots in the next 7 days (for the sync job and the demo), in the
    caller's transaction; their cached views are dropped once it commits.

    Raises:
        ProfileNotFound, CalcomUnreachable, CalcomTooSlow, CalcomRejected
    """
    check_user_id(user_id)
    repo = ProfileRepository(session)
    profile = await repo.get(user_id, for_update=True)
    if profile is None:
        raise ProfileNotFound()
    count = await refresh_free_slot_count(client, profile, now)
    await session.flush()
    invalidate_profile_after_commit(session, cache, user_id, in_field=profile.field, counters_only=True)
    return count


async def refresh_free_slot_count(client: CalcomClient, profile: StudentProfile, now: datetime) -> int:
    """Recount the mentor's free slots in the next 7 days from Cal.com (R4.4, R18.3).

    Stores the count, the next free start and when it was counted on the profile (the caller
    flushes). Raises the mapped Cal.com error when Cal.com fails; the old count then stays.
    """
    if profile.calcom_event_type_id is None or profile.calcom_link_status != CalcomLinkStatus.LINKED.value:
        profile.available_slots_7d, profile.next_available_at = 0, None
        profile.slots_refreshed_at = now
        return 0
    earliest, _ = rules.booking_window(now)
    try:
        found = await client.get_slots(
            profile.calcom_event_type_id, earliest, now + rules.DISCOVERY_HORIZON, time_zone="UTC", format="range"
        )
    except CalcomError as exc:
        raise as_thotis_error(exc) from exc
    starts = sorted(
        s.start for s in found if rules.is_offerable_slot(s.start, s.end or s.start + rules.SESSION_LENGTH, now)
    )
    profile.available_slots_7d = len(starts)
    profile.next_available_at = starts[0] if starts else None
    profile.slots_refreshed_at = now
    return len(starts)


def overlaps_any(span: Span, taken: list[Span]) -> bool:
    """Whether `span` overlaps one of `taken`: sorted bookings of one mentor, which never overlap
    each other, so only the last one starting before the span ends can."""
    i = bisect_left(taken, (span[1],))
    return i > 0 and taken[i - 1][1] > span[0]


#: A rendered slot list is asked for again within the minute it was made for, or not at all.
VIEW_TTL_SECONDS = 60


def _key_part(moment: datetime | None) -> str:
    return "-" if moment is None else moment.astimezone(UTC).isoformat()


def slots_json(spans: list[Span], zone: ZoneInfo) -> bytes:
    """`[{start, end}]` as ISO 8601 with the offset of the requested zone (R2.2), as JSON bytes.

    Each slot's text is kept per zone: every view of a mentor's month shows the same few thousand
    instants again, and converting them to a zone is most of what rendering costs (0.8 ms for 700
    slots; a lookup each is a fifth of that).
    """
    rendered = _RENDERED.get(zone.key)
    if rendered is None or len(rendered) > _MAX_RENDERED:
        rendered = _RENDERED[zone.key] = {}
    items = []
    for span in spans:
        item = rendered.get(span)
        if item is None:
            item = rendered[span] = _render_slot(span, zone)
        items.append(item)
    return b"[" + b",".join(items) + b"]"


def _render_slot(span: Span, zone: ZoneInfo) -> bytes:
    # msgspec writes a zero offset as `Z`; the API writes `+00:00` in every zone.
    start, end = datetime.fromtimestamp(span[0], zone), datetime.fromtimestamp(span[1], zone)
    return msgspec.json.encode({"start": start, "end": end}).replace(b'Z"', b'+00:00"')


#: Rendered slot objects per zone name, each map bounded (emptied when full: a month of every
#: mentor's slots is some thousands, refilled at the cost of one rendering).
_RENDERED: dict[str, dict[Span, bytes]] = {}
_MAX_RENDERED = 50_000
