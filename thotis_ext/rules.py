"""Pure rules of the domain (SPEC.md §2): functions of values, no I/O, each property-tested."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import urlsplit

BIO_MIN_CHARS = 50
BIO_MAX_CHARS = 1000
BIO_EXCERPT_CHARS = 150
YEAR_MIN = 1
YEAR_MAX = 10
RATING_MIN = 1
RATING_MAX = 5
FEEDBACK_MAX_CHARS = 500
SESSION_MINUTES = 15
LOW_RATING_THRESHOLD = 3
#: Reminders go this long before a session (R6.3); a session booked closer than this gets none.
REMINDER_LEAD = timedelta(hours=24)
#: Feedback is asked for within this long after a session ends (R19.1).
FEEDBACK_WITHIN = timedelta(hours=1)
BOOKING_NOTICE = timedelta(hours=2)
BOOKING_HORIZON = timedelta(days=30)
DISCOVERY_HORIZON = timedelta(days=7)
SESSION_LENGTH = timedelta(minutes=SESSION_MINUTES)

#: A Thotis user id as it appears in paths and token subjects.
USER_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$")
_LINKEDIN_HOSTS = ("linkedin.com",)


def normalise_bio(bio: str) -> str:
    """The bio as stored: trimmed of surrounding whitespace."""
    return bio.strip()


def bio_length_problem(bio: str) -> str | None:
    """Why a (normalised) bio is refused, or None when its length is fine (R1.2)."""
    if len(bio) < BIO_MIN_CHARS:
        return f"bio must be at least {BIO_MIN_CHARS} characters"
    if len(bio) > BIO_MAX_CHARS:
        return f"bio must be at most {BIO_MAX_CHARS} characters"
    return None


def bio_excerpt(bio: str | None) -> str:
    """The first 150 characters of the bio, as shown on summaries (R4.2)."""
    return (bio or "")[:BIO_EXCERPT_CHARS]


def is_valid_year(year: int) -> bool:
    return YEAR_MIN <= year <= YEAR_MAX


def is_linkedin_url(url: str) -> bool:
    """True for an https URL on linkedin.com or one of its subdomains."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    host = (parts.hostname or "").lower()
    on_linkedin = any(host == h or host.endswith("." + h) for h in _LINKEDIN_HOSTS)
    return parts.scheme == "https" and on_linkedin and not parts.username and not parts.password


def is_valid_user_id(user_id: str) -> bool:
    return bool(USER_ID_PATTERN.fullmatch(user_id))


def round_half_up(value: Decimal, places: int = 1) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def average_rating(ratings: Iterable[int]) -> Decimal | None:
    """Mean of all ratings rounded half-up to one decimal; None when there are none (R7.4)."""
    values = list(ratings)
    if not values:
        return None
    return round_half_up(Decimal(sum(values)) / Decimal(len(values)))


def average_from_sum(total: int, count: int) -> Decimal | None:
    """Same as `average_rating`, from a running sum and count."""
    if count <= 0:
        return None
    return round_half_up(Decimal(total) / Decimal(count))


def cancellation_rate(completed: int, cancelled: int) -> float:
    """cancelled ÷ (completed + cancelled), 0 when none."""
    total = completed + cancelled
    return cancelled / total if total else 0.0


def completion_rate(completed: int, cancelled: int, no_show: int) -> float:
    """completed ÷ (completed + cancelled + no-show), 0 when none."""
    total = completed + cancelled + no_show
    return completed / total if total else 0.0


def is_low_rating(rating: int) -> bool:
    """A rating below 3 sends the session to admin review (R19.4)."""
    return rating < LOW_RATING_THRESHOLD


_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def has_control_characters(text: str) -> bool:
    """True when text holds control characters other than tab and newlines (NUL cannot be stored)."""
    return _CONTROL_CHARACTERS.search(text) is not None


def escape_like(text: str) -> str:
    """Escape LIKE wildcards so free text matches literally (escape character: backslash)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def booking_window(now: datetime) -> tuple[datetime, datetime]:
    """Where slots may be offered and booked: from now + 2 h to now + 30 days (R5.1, R5.5)."""
    return now + BOOKING_NOTICE, now + BOOKING_HORIZON


def web_url(url: str | None) -> str | None:
    """`url` (stripped) when it is an http(s) link with a host, else None.

    Links that come from elsewhere (Cal.com's Meet URL) are shown to browsers and put in emails:
    a `javascript:` or `data:` one must never become a link.
    """
    if not url:
        return None
    stripped = url.strip()
    try:
        parts = urlsplit(stripped)
    except ValueError:
        return None
    return stripped if parts.scheme in ("https", "http") and parts.netloc else None


def clip_to_booking_window(
    start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime] | None:
    """The part of [start, end) inside the booking window (defaults: the whole window), or None."""
    earliest, latest = booking_window(now)
    lower = max(start, earliest) if start is not None else earliest
    upper = min(end, latest) if end is not None else latest
    return (lower, upper) if lower < upper else None


def is_offerable_slot(start: datetime, end: datetime, now: datetime) -> bool:
    """A slot the sidecar may show: exactly 15 minutes, wholly inside the booking window."""
    earliest, latest = booking_window(now)
    return end - start == SESSION_LENGTH and start >= earliest and end <= latest


def booking_start_problem(start: datetime, now: datetime) -> str | None:
    """Why a session may not start at `start` (R5.5): too soon, too far, or off the 15-minute grid."""
    earliest, latest = booking_window(now)
    if start < earliest:
        return "BOOKING_TOO_SOON"
    if start + SESSION_LENGTH > latest:
        return "BOOKING_TOO_FAR"
    if start.second or start.microsecond or start.minute % SESSION_MINUTES:
        return "OFF_GRID"
    return None


def may_cancel(start: datetime, now: datetime) -> bool:
    """Cancelling is allowed until 2 hours before the start (R13.1, R13.5)."""
    return start - now >= BOOKING_NOTICE


def in_discovery(start: datetime, now: datetime) -> int:
    """1 when a slot at `start` counts among the next 7 days' free slots (the counter moves with
    bookings between two recounts), else 0."""
    return 1 if now <= start < now + DISCOVERY_HORIZON else 0
