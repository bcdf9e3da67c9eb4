"""The simulator's in-memory data: users, event types, bookings, webhook subscriptions, a clock.

Everything lives in plain dataclasses in one `Store` so a test can inspect or seed any of it
directly; the HTTP layer and the Python API of `CalcomSimulator` both work on the same store.
"""

from __future__ import annotations

import hashlib
import random
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

WeeklySchedule = Mapping[int, Sequence[tuple[time, time]]]
"""Working hours per weekday (0 = Monday), as local wall-clock windows in the user's zone."""

# Cal.com's default availability for a new user is Monday to Friday, 09:00 to 17:00; the
# simulator's default is the wider window the Thotis brief asks for.
DEFAULT_WEEKLY_SCHEDULE: WeeklySchedule = {day: ((time(9, 0), time(18, 0)),) for day in range(5)}

API_KEY_PREFIX = "cal_"


def hash_api_key(api_key: str) -> str:
    """SHA-256 hex of the key without its `cal_` prefix, as Cal.com stores and looks keys up."""
    stripped = api_key.removeprefix(API_KEY_PREFIX)
    return hashlib.sha256(stripped.encode()).hexdigest()


class Clock:
    """Real UTC time until a test pins it; a pinned clock only moves when told to."""

    def __init__(self, source: Callable[[], datetime] | None = None) -> None:
        self._source = source or (lambda: datetime.now(UTC))
        self._pinned: datetime | None = None

    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        moment = self._pinned if self._pinned is not None else self._source()
        return moment.astimezone(UTC)

    def pin(self, moment: datetime) -> None:
        """Freeze the clock at `moment` (must be timezone-aware)."""
        if moment.tzinfo is None:
            raise ValueError("the simulator clock needs a timezone-aware datetime")
        self._pinned = moment.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        """Move a pinned clock forward (pins it at the current time first if it was not)."""
        self._pinned = self.now() + delta

    def unpin(self) -> None:
        """Return to the real clock."""
        self._pinned = None


@dataclass
class User:
    """A Cal.com user with an API key, a weekly schedule and external busy times."""

    id: int
    username: str
    email: str
    name: str
    time_zone: str
    api_key: str
    weekly_schedule: WeeklySchedule
    busy: list[tuple[datetime, datetime]] = field(default_factory=list)
    google_meet: bool = True
    time_format: int = 24
    week_start: str = "Monday"
    locale: str = "en"
    default_schedule_id: int | None = None


@dataclass
class EventType:
    """A personal event type; `locations` and `booking_fields` keep the API v2 input shapes."""

    id: int
    owner_id: int
    title: str
    slug: str
    length: int
    description: str = ""
    locations: list[dict[str, Any]] = field(default_factory=list)
    booking_fields: list[dict[str, Any]] = field(default_factory=list)
    length_options: list[int] | None = None
    slot_interval: int | None = None
    minimum_booking_notice: int = 120
    before_event_buffer: int = 0
    after_event_buffer: int = 0
    disable_guests: bool = False
    lock_time_zone_toggle: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Attendee:
    """One attendee row of a booking."""

    name: str
    email: str
    time_zone: str
    language: str = "en"
    phone_number: str | None = None
    absent: bool = False


@dataclass
class Reference:
    """A booking reference (calendar event or video meeting created for the booking)."""

    id: int
    type: str
    event_uid: str
    destination_calendar_id: str | None
    meeting_url: str | None


@dataclass
class Booking:
    """A booking as Cal.com stores it; `metadata` still holds `videoCallUrl` internally."""

    id: int
    uid: str
    event_type_id: int
    owner_id: int
    title: str
    description: str | None
    start: datetime
    end: datetime
    attendees: list[Attendee]
    responses: dict[str, Any]
    metadata: dict[str, Any]
    location: str
    created_at: datetime
    updated_at: datetime
    ical_uid: str
    status: str = "ACCEPTED"
    guests: list[str] = field(default_factory=list)
    ical_sequence: int = 0
    cancellation_reason: str | None = None
    cancelled_by: str | None = None
    from_reschedule: str | None = None
    rescheduled: bool = False
    rescheduled_by: str | None = None
    rescheduling_reason: str | None = None
    absent_host: bool = False
    references: list[Reference] = field(default_factory=list)

    @property
    def active(self) -> bool:
        """Whether the booking still blocks its time (not cancelled or rejected)."""
        return self.status not in ("CANCELLED", "REJECTED")


@dataclass
class Subscription:
    """A webhook subscription at user level (`user_id`) or event-type level (`event_type_id`)."""

    id: str
    subscriber_url: str
    triggers: list[str]
    active: bool
    secret: str | None
    payload_template: str | None
    user_id: int | None = None
    event_type_id: int | None = None


@dataclass
class ScheduledTrigger:
    """A MEETING_STARTED / MEETING_ENDED job, captured when the booking was made, as Cal.com does."""

    booking_uid: str
    subscription_id: str
    trigger: str
    start_after: datetime
    snapshot: dict[str, Any]


@dataclass
class Delivery:
    """One webhook POST attempt and its outcome (Cal.com tries once and only logs failures)."""

    subscription_id: str
    url: str
    trigger: str
    body: bytes
    headers: dict[str, str]
    sent_at: datetime
    status_code: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the subscriber answered 2xx."""
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass
class Store:
    """All simulator data, plus the id and uid generators (seedable for reproducible runs)."""

    rng: random.Random
    users: dict[int, User] = field(default_factory=dict)
    api_keys: dict[str, int] = field(default_factory=dict)
    event_types: dict[int, EventType] = field(default_factory=dict)
    bookings: dict[str, Booking] = field(default_factory=dict)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    scheduled: list[ScheduledTrigger] = field(default_factory=list)
    meet_links: set[str] = field(default_factory=set)
    _counters: dict[str, int] = field(default_factory=dict)

    def next_id(self, kind: str) -> int:
        """The next integer id of `kind`, starting at 1 like a database sequence."""
        self._counters[kind] = self._counters.get(kind, 0) + 1
        return self._counters[kind]

    def new_uid(self) -> str:
        """A 22-character booking uid in the short-uuid alphabet Cal.com uses."""
        alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
        return "".join(self.rng.choice(alphabet) for _ in range(22))

    def new_uuid(self) -> str:
        """A version-4 UUID string (webhook ids are UUIDs in Cal.com)."""
        raw = f"{self.rng.getrandbits(128):032x}"
        return f"{raw[:8]}-{raw[8:12]}-4{raw[13:16]}-a{raw[17:20]}-{raw[20:]}"

    def new_api_key(self) -> str:
        """A fresh `cal_…` test key."""
        return API_KEY_PREFIX + f"{self.rng.getrandbits(128):032x}"

    def new_meet_link(self) -> str:
        """A Google-Meet-style link never handed out before by this simulator."""
        while True:
            letters = "".join(self.rng.choice(string.ascii_lowercase) for _ in range(10))
            link = f"https://meet.google.com/{letters[:3]}-{letters[3:7]}-{letters[7:]}"
            if link not in self.meet_links:
                self.meet_links.add(link)
                return link

    def user_by_key(self, api_key: str) -> User | None:
        """The owner of `api_key`, looked up by hash as Cal.com does."""
        user_id = self.api_keys.get(hash_api_key(api_key))
        return self.users.get(user_id) if user_id is not None else None

    def user_by_username(self, username: str) -> User | None:
        """The user called `username` (case-insensitive, as Cal.com lower-cases usernames)."""
        wanted = username.lower()
        return next((u for u in self.users.values() if u.username.lower() == wanted), None)

    def booking_rescheduled_to(self, uid: str) -> Booking | None:
        """The booking created by rescheduling `uid`, if any."""
        return next((b for b in self.bookings.values() if b.from_reschedule == uid), None)

    def owner_bookings(self, owner_id: int) -> list[Booking]:
        """Every booking whose organizer is `owner_id`."""
        return [b for b in self.bookings.values() if b.owner_id == owner_id]
