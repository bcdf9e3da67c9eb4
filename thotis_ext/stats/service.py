"""Platform statistics for administrators: totals, trends, the mentor table, CSV reports (R20).

Totals are sums of the mentors' counters, so they always agree with what each mentor's own
stats show (property 43). Trends are counted from the sessions themselves, by the UTC start of
each session, with every period of the range present even when nothing happened (property 44).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import ColumnElement, Float, Select, case, cast, func, literal, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from core.errors import InvalidInput
from thotis_ext import rules
from thotis_ext.enums import AcademicField, SessionStatus
from thotis_ext.models import Rating, Session, StudentProfile
from thotis_ext.profiles.views import stats_view

#: Granularity → PostgreSQL `date_trunc` unit; also the whitelist of accepted granularities.
GRANULARITY_UNITS: Final = {"day": "day", "week": "week", "month": "month"}
#: Most periods one trends request may cover, so a request cannot ask for millions of buckets.
MAX_PERIODS: Final = {"day": 366, "week": 260, "month": 120}
#: Longest page of the admin mentor table.
MAX_PAGE_SIZE: Final = 200
REPORTS: Final = ("mentors", "sessions", "ratings")

MENTOR_COLUMNS: Final = [
    "userId",
    "name",
    "university",
    "field",
    "isActive",
    "completedSessions",
    "scheduledSessions",
    "cancelledSessions",
    "mentorCancellations",
    "noShowSessions",
    "completionRate",
    "cancellationRate",
    "averageRating",
    "totalRatings",
]
# The prospective student's name and e-mail are left out on purpose: exports leave the
# platform (spreadsheets, e-mail), personal data stays behind (GDPR data minimisation).
SESSION_COLUMNS: Final = ["uid", "mentorId", "start", "end", "status", "cancelledBy", "studentLanguage"]
RATING_COLUMNS: Final = ["id", "sessionUid", "mentorId", "rating", "feedback", "flaggedForReview", "createdAt"]


def invalid_range(message: str) -> InvalidInput:
    return InvalidInput(message, code="INVALID_RANGE")


def check_granularity(granularity: str) -> str:
    """Raises:
    InvalidInput (INVALID_GRANULARITY): not day, week or month.
    """
    if granularity not in GRANULARITY_UNITS:
        raise InvalidInput(
            "granularity must be day, week or month.",
            code="INVALID_GRANULARITY",
            details={"allowed": list(GRANULARITY_UNITS)},
        )
    return granularity


def period_start(granularity: str, day: date) -> date:
    """First day of the period holding `day`: the day itself, the ISO week's Monday, the 1st."""
    if granularity == "day":
        return day
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def next_period_start(granularity: str, start: date) -> date:
    """First day of the period after the one starting on `start`.

    Raises:
        OverflowError, ValueError: past the last representable date.
    """
    if granularity == "day":
        return start + timedelta(days=1)
    if granularity == "week":
        return start + timedelta(days=7)
    return date(start.year + start.month // 12, start.month % 12 + 1, 1)


def period_key(granularity: str, day: date) -> str:
    """How a period is named in trends: `2026-12-07`, ISO `2026-W50`, `2026-12`."""
    if granularity == "day":
        return day.isoformat()
    if granularity == "week":
        iso = day.isocalendar()
        return f"{iso.year}-W{iso.week:02d}"
    return f"{day.year:04d}-{day.month:02d}"


def period_count(granularity: str, start: date, end: date) -> int:
    """How many periods [start, end] touches (both ends included)."""
    if granularity == "day":
        return (end - start).days + 1
    if granularity == "week":
        return (period_start("week", end) - period_start("week", start)).days // 7 + 1
    return (end.year * 12 + end.month) - (start.year * 12 + start.month) + 1


def periods(granularity: str, start: date, end: date) -> Iterator[date]:
    """The first day of every period [start, end] touches, ascending."""
    current = period_start(granularity, start)
    last = period_start(granularity, end)
    while current <= last:
        yield current
        if current == last:
            return
        current = next_period_start(granularity, current)


def default_range(today: date) -> tuple[date, date]:
    """The last 12 months up to today: from the 1st of the month 11 months back (R20.2)."""
    months = today.year * 12 + today.month - 1 - 11
    return (date(months // 12, months % 12 + 1, 1) if months >= 12 else date.min), today


def _utc_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _rating(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


def _rate_sql(numerator: InstrumentedAttribute[int], *terms: InstrumentedAttribute[int]) -> ColumnElement[float]:
    """numerator ÷ sum(terms) in double precision, 0 when the sum is 0: the rules' formula in SQL,
    so sorting by a rate orders exactly as the rates shown (integer sums could overflow int4)."""
    denominator = sum((cast(term, Float) for term in terms[1:]), cast(terms[0], Float))
    return case((denominator == 0, literal(0.0, Float)), else_=cast(numerator, Float) / denominator)


_P = StudentProfile
_SORT_KEYS: Final[dict[str, ColumnElement[Any] | InstrumentedAttribute[Any]]] = {
    "name": _P.name,
    "completedSessions": _P.completed_sessions,
    "completionRate": _rate_sql(
        _P.completed_sessions, _P.completed_sessions, _P.cancelled_sessions, _P.no_show_sessions
    ),
    "cancellationRate": _rate_sql(_P.cancelled_sessions, _P.completed_sessions, _P.cancelled_sessions),
    "averageRating": _P.average_rating,
    "totalRatings": _P.total_ratings,
}
SORT_KEYS: Final = tuple(_SORT_KEYS)


def mentor_row(profile: StudentProfile) -> dict[str, Any]:
    """One mentor in the admin table; counters and rates exactly as on the mentor's own stats."""
    return {
        "userId": profile.user_id,
        "name": profile.name,
        "university": profile.university,
        "field": profile.field,
        "isActive": profile.is_active,
        **stats_view(profile),
    }


def csv_cell(value: Any) -> str:
    """A value as CSV text: empty for none, lowercase booleans, ISO 8601 instants."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


class PlatformStats:
    """Read-only statistics over one database session (admin dashboard, R20)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def totals_and_trends(self, granularity: str, start: date, end: date) -> dict[str, Any]:
        """Platform totals and per-period session counts between `start` and `end` (R20.1, R20.2).

        The range is widened to whole periods, so the first and last buckets are never partial.

        Raises:
            InvalidInput (INVALID_GRANULARITY, INVALID_RANGE)
        """
        check_granularity(granularity)
        if end < start:
            raise invalid_range("'to' must not be before 'from'.")
        limit = MAX_PERIODS[granularity]
        if period_count(granularity, start, end) > limit:
            raise InvalidInput(
                f"At most {limit} {granularity}s per request.", code="INVALID_RANGE", details={"maxPeriods": limit}
            )
        try:
            buckets = list(periods(granularity, start, end))
            upper = next_period_start(granularity, buckets[-1])
        except (OverflowError, ValueError):
            raise invalid_range("The range reaches past the last supported date.") from None
        counts = await self._trend_counts(granularity, _utc_midnight(buckets[0]), _utc_midnight(upper))
        empty = {"booked": 0, "completed": 0, "cancelled": 0, "noShow": 0}
        trends = [{"period": period_key(granularity, day), **counts.get(day, empty)} for day in buckets]
        return {
            "granularity": granularity,
            "from": buckets[0].isoformat(),
            "to": (upper - timedelta(days=1)).isoformat(),
            "totals": await self.totals(),
            "trends": trends,
        }

    async def field_distribution(self) -> list[dict[str, Any]]:
        """Per academic field: listed mentors and their completed sessions, for the dashboard's chart."""
        rows = await self.session.execute(
            select(
                _P.field,
                func.count().filter(_P.is_active, _P.is_complete),
                func.coalesce(func.sum(_P.completed_sessions), 0),
            )
            .where(_P.field.is_not(None))
            .group_by(_P.field)
        )
        found = {field: (int(mentors), int(completed)) for field, mentors, completed in rows}
        return [
            {"field": field.value, "mentors": found.get(field.value, (0, 0))[0],
             "completedSessions": found.get(field.value, (0, 0))[1]}
            for field in AcademicField
        ]  # fmt: skip

    async def totals(self) -> dict[str, Any]:
        """Sums of every mentor's counters (property 43) and the platform's average rating."""
        row = (
            await self.session.execute(
                select(
                    func.count(),
                    func.count().filter(_P.is_active),
                    func.coalesce(func.sum(_P.completed_sessions), 0),
                    func.coalesce(func.sum(_P.scheduled_sessions), 0),
                    func.coalesce(func.sum(_P.cancelled_sessions), 0),
                    func.coalesce(func.sum(_P.mentor_cancellations), 0),
                    func.coalesce(func.sum(_P.no_show_sessions), 0),
                    func.coalesce(func.sum(_P.total_ratings), 0),
                    func.coalesce(func.sum(_P.rating_sum), 0),
                )
            )
        ).one()
        mentors, active, completed, scheduled, cancelled, by_mentor, no_show, ratings, rating_sum = (
            int(value) for value in row
        )
        return {
            "mentors": mentors,
            "activeMentors": active,
            "completedSessions": completed,
            "scheduledSessions": scheduled,
            "cancelledSessions": cancelled,
            "mentorCancellations": by_mentor,
            "noShowSessions": no_show,
            "completionRate": rules.completion_rate(completed, cancelled, no_show),
            "cancellationRate": rules.cancellation_rate(completed, cancelled),
            "totalRatings": ratings,
            "averageRating": _rating(rules.average_from_sum(rating_sum, ratings)),
        }

    async def _trend_counts(self, granularity: str, lower: datetime, upper: datetime) -> dict[date, dict[str, int]]:
        # The unit is a whitelisted constant written into the SQL: a bind parameter would make the
        # SELECT and GROUP BY expressions differ in PostgreSQL's eyes.
        unit: ColumnElement[str] = literal_column(f"'{GRANULARITY_UNITS[granularity]}'")
        bucket = func.date_trunc(unit, func.timezone("UTC", Session.start_at)).label("bucket")

        def in_status(status: SessionStatus) -> ColumnElement[int]:
            return func.count().filter(Session.status == status.value)

        rows = await self.session.execute(
            select(
                bucket,
                func.count(),
                in_status(SessionStatus.COMPLETED),
                in_status(SessionStatus.CANCELLED),
                in_status(SessionStatus.NO_SHOW),
            )
            .where(Session.start_at >= lower, Session.start_at < upper)
            .group_by(bucket)
        )
        return {
            moment.date(): {"booked": booked, "completed": completed, "cancelled": cancelled, "noShow": no_show}
            for moment, booked, completed, cancelled, no_show in rows
        }

    async def mentors(self, sort: str, descending: bool, page: int, page_size: int) -> tuple[list[dict[str, Any]], int]:
        """Every mentor, active or not, with rates and average rating, sorted and paginated (R20.3).

        Ties go by user id; mentors without ratings come last whatever the direction.

        Raises:
            InvalidInput (INVALID_SORT, INVALID_PAGINATION)
        """
        if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidInput(
                f"page must be ≥ 1 and pageSize 1–{MAX_PAGE_SIZE}.",
                code="INVALID_PAGINATION",
                details={"maxPageSize": MAX_PAGE_SIZE},
            )
        query = self._mentors_sorted(sort, descending).offset((page - 1) * page_size).limit(page_size)
        total = await self.session.scalar(select(func.count()).select_from(_P)) or 0
        profiles = await self.session.scalars(query)
        return [mentor_row(profile) for profile in profiles], total

    def _mentors_sorted(self, sort: str, descending: bool) -> Select[StudentProfile]:
        key = _SORT_KEYS.get(sort)
        if key is None:
            raise InvalidInput(
                f"Unknown sort key {sort[:40]!r}.", code="INVALID_SORT", details={"allowed": list(SORT_KEYS)}
            )
        ordered = (key.desc() if descending else key.asc()).nulls_last()
        # "C" collation: ids compare code point by code point, the same order everywhere.
        return select(_P).order_by(ordered, _P.user_id.collate("C"))

    async def export_rows(self, report: str) -> tuple[list[str], list[list[str]]]:
        """A report's header and rows as text, for the CSV export (R20.5).

        Raises:
            InvalidInput (INVALID_REPORT)
        """
        builders: dict[str, Callable[[], Any]] = {
            "mentors": self._mentor_rows,
            "sessions": self._session_rows,
            "ratings": self._rating_rows,
        }
        build = builders.get(report)
        if build is None:
            raise InvalidInput(
                f"Unknown report {report[:40]!r}.", code="INVALID_REPORT", details={"allowed": list(REPORTS)}
            )
        header, rows = await build()
        return header, [[csv_cell(value) for value in row] for row in rows]

    async def _mentor_rows(self) -> tuple[list[str], list[Sequence[Any]]]:
        profiles = await self.session.scalars(self._mentors_sorted("name", descending=False))
        return list(MENTOR_COLUMNS), [[view[c] for c in MENTOR_COLUMNS] for view in map(mentor_row, profiles)]

    async def _session_rows(self) -> tuple[list[str], list[Sequence[Any]]]:
        s = Session
        rows = await self.session.execute(
            select(s.uid, s.mentor_id, s.start_at, s.end_at, s.status, s.cancelled_by, s.student_language).order_by(
                s.start_at, s.uid
            )
        )
        return list(SESSION_COLUMNS), [tuple(row) for row in rows]

    async def _rating_rows(self) -> tuple[list[str], list[Sequence[Any]]]:
        r = Rating
        rows = await self.session.execute(
            select(r.id, r.session_uid, r.mentor_id, r.rating, r.feedback, r.flagged_for_review, r.created_at).order_by(
                r.id
            )
        )
        return list(RATING_COLUMNS), [tuple(row) for row in rows]
