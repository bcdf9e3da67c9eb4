"""Platform statistics (R20; properties 18, 43, 44, 45) on the real database, without the app."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from adapter.services import Services
from core.errors import InvalidInput
from tests.conftest import reset
from tests.factories import STUDENT_EMAIL, STUDENT_NAME, insert_sessions
from thotis_ext import rules
from thotis_ext.stats.service import (
    MAX_PERIODS,
    SORT_KEYS,
    PlatformStats,
    default_range,
    next_period_start,
    period_count,
    period_key,
    period_start,
    periods,
)

GRANULARITIES = ("day", "week", "month")
STATUSES = ("scheduled", "cancelled", "completed", "no_show")
#: Two years around the turn of 2026/2027, which has an ISO week 53 (2026-W53).
WINDOW_START = datetime(2026, 1, 1)
WINDOW_END = datetime(2027, 12, 31, 23, 59)


@dataclass(frozen=True)
class Mentor:
    user_id: str
    name: str = "Camille"
    is_active: bool = True
    completed: int = 0
    scheduled: int = 0
    cancelled: int = 0
    by_mentor: int = 0
    no_show: int = 0
    ratings: int = 0
    rating_sum: int = 0


counts = st.integers(0, 50)


@st.composite
def mentors(draw: st.DrawFn, min_size: int = 0, max_size: int = 8) -> list[Mentor]:
    ids = draw(
        st.lists(st.from_regex(r"m[0-9]{1,4}", fullmatch=True), min_size=min_size, max_size=max_size, unique=True)
    )
    result = []
    for user_id in ids:
        cancelled = draw(counts)
        ratings = draw(st.just(0) | st.integers(1, 20))  # half unrated: NULL averages matter in sorts
        result.append(
            Mentor(
                user_id=user_id,
                # Lowercase ASCII: every collation sorts these the same way.
                name=draw(st.text("abcde", min_size=1, max_size=3)),
                is_active=draw(st.booleans()),
                completed=draw(counts),
                scheduled=draw(counts),
                cancelled=cancelled,
                by_mentor=draw(st.integers(0, cancelled)),
                no_show=draw(counts),
                ratings=ratings,
                rating_sum=draw(st.integers(ratings, 5 * ratings)),
            )
        )
    return result


async def insert_mentors(services: Services, rows: Sequence[Mentor]) -> None:
    async with services.database.engine.begin() as connection:
        for m in rows:
            average = rules.average_from_sum(m.rating_sum, m.ratings)
            await connection.execute(
                text(
                    "INSERT INTO thotis.student_profiles (user_id, name, email, is_active, completed_sessions,"
                    " scheduled_sessions, cancelled_sessions, mentor_cancellations, no_show_sessions,"
                    " total_ratings, rating_sum, average_rating)"
                    " VALUES (:id, :name, 'mentor@example.org', :active, :completed, :scheduled, :cancelled,"
                    " :by_mentor, :no_show, :ratings, :rating_sum, :average)"
                ),
                {
                    "id": m.user_id,
                    "name": m.name,
                    "active": m.is_active,
                    "completed": m.completed,
                    "scheduled": m.scheduled,
                    "cancelled": m.cancelled,
                    "by_mentor": m.by_mentor,
                    "no_show": m.no_show,
                    "ratings": m.ratings,
                    "rating_sum": m.rating_sum,
                    "average": average,
                },
            )


@asynccontextmanager
async def platform(services: Services) -> AsyncIterator[PlatformStats]:
    async with services.database.sessionmaker() as session:
        yield PlatformStats(session)


def expected_order(rows: Sequence[Mentor], sort: str, descending: bool) -> list[str]:
    """The order SPEC asks for, computed in Python: by the key, NULL averages last, then by id."""

    def value(m: Mentor) -> Any:
        return {
            "name": m.name,
            "completedSessions": m.completed,
            "completionRate": rules.completion_rate(m.completed, m.cancelled, m.no_show),
            "cancellationRate": rules.cancellation_rate(m.completed, m.cancelled),
            "averageRating": rules.average_from_sum(m.rating_sum, m.ratings),
            "totalRatings": m.ratings,
        }[sort]

    by_id = sorted(rows, key=lambda m: m.user_id)
    rated = sorted((m for m in by_id if value(m) is not None), key=value, reverse=descending)  # stable
    return [m.user_id for m in rated] + [m.user_id for m in by_id if value(m) is None]


class TestPeriods:
    @given(st.dates(date(1900, 1, 1), date(2200, 12, 31)), st.sampled_from(GRANULARITIES))
    def test_property_44_a_day_lies_in_its_period_named_like_iso_8601(self, day: date, granularity: str) -> None:
        start = period_start(granularity, day)
        assert start <= day < next_period_start(granularity, start)
        iso = day.isocalendar()
        expected = {"day": day.isoformat(), "week": f"{iso.year}-W{iso.week:02d}", "month": day.strftime("%Y-%m")}
        assert period_key(granularity, day) == period_key(granularity, start) == expected[granularity]

    @given(st.dates(date(2000, 1, 1), date(2100, 1, 1)), st.integers(0, 800), st.sampled_from(GRANULARITIES))
    def test_periods_are_contiguous_ascending_and_counted(self, start: date, days: int, granularity: str) -> None:
        end = start + timedelta(days=days)
        firsts = list(periods(granularity, start, end))
        keys = [period_key(granularity, first) for first in firsts]
        assert len(firsts) == period_count(granularity, start, end) == len(set(keys))
        assert (
            keys == sorted(keys)
            and keys[0] == period_key(granularity, start)
            and keys[-1] == period_key(granularity, end)
        )
        assert all(next_period_start(granularity, a) == b for a, b in pairwise(firsts))

    def test_default_range_is_the_last_twelve_months(self) -> None:
        assert default_range(date(2026, 12, 7)) == (date(2026, 1, 1), date(2026, 12, 7))
        assert default_range(date(2027, 3, 31)) == (date(2026, 4, 1), date(2027, 3, 31))
        assert period_count("month", *default_range(date(2027, 3, 31))) == 12
        assert default_range(date(1, 5, 1))[0] == date.min

    def test_iso_week_53_and_week_one_of_the_next_year(self) -> None:
        assert period_key("week", date(2026, 12, 31)) == "2026-W53"
        assert period_key("week", date(2027, 1, 3)) == "2026-W53"
        assert period_key("week", date(2027, 1, 4)) == "2027-W01"
        assert period_key("week", date(2024, 12, 30)) == "2025-W01"


class TestTotals:
    @given(mentors())
    async def test_property_43_totals_are_the_sums_over_mentors(self, services: Services, rows: list[Mentor]) -> None:
        await reset(services)
        await insert_mentors(services, rows)
        async with platform(services) as stats:
            totals = await stats.totals()
        completed, cancelled, no_show = (
            sum(getattr(m, f) for m in rows) for f in ("completed", "cancelled", "no_show")
        )
        ratings, rating_sum = sum(m.ratings for m in rows), sum(m.rating_sum for m in rows)
        average = rules.average_from_sum(rating_sum, ratings)
        assert totals == {
            "mentors": len(rows),
            "activeMentors": sum(m.is_active for m in rows),
            "completedSessions": completed,
            "scheduledSessions": sum(m.scheduled for m in rows),
            "cancelledSessions": cancelled,
            "mentorCancellations": sum(m.by_mentor for m in rows),
            "noShowSessions": no_show,
            "completionRate": rules.completion_rate(completed, cancelled, no_show),
            "cancellationRate": rules.cancellation_rate(completed, cancelled),
            "totalRatings": ratings,
            "averageRating": float(average) if average is not None else None,
        }

    async def test_platform_average_rounds_the_overall_mean_half_up(self, services: Services) -> None:
        await reset(services)
        # 4.0 and 5.0 each, but 1 + 2 ratings: (4 + 10) / 3 = 4.67 → 4.7, not the mean of means (4.5).
        await insert_mentors(services, [Mentor("a", ratings=1, rating_sum=4), Mentor("b", ratings=2, rating_sum=10)])
        async with platform(services) as stats:
            assert (await stats.totals())["averageRating"] == 4.7
        await insert_mentors(services, [Mentor("c", ratings=1, rating_sum=4)])  # 18 / 4 = 4.5 exactly
        async with platform(services) as stats:
            assert (await stats.totals())["averageRating"] == 4.5


class TestTrends:
    @given(
        starts=st.lists(st.datetimes(WINDOW_START, WINDOW_END), max_size=25, unique=True),
        statuses=st.lists(st.sampled_from(STATUSES), min_size=25, max_size=25),
        granularity=st.sampled_from(GRANULARITIES),
        first=st.dates(WINDOW_START.date(), WINDOW_END.date()),
        days=st.integers(0, 365),
    )
    async def test_property_44_each_session_lands_in_its_utc_day_iso_week_and_month(
        self,
        services: Services,
        starts: list[datetime],
        statuses: list[str],
        granularity: str,
        first: date,
        days: int,
    ) -> None:
        await reset(services)
        await insert_mentors(services, [Mentor("m1")])
        sessions = [(start.replace(tzinfo=UTC), status) for start, status in zip(starts, statuses, strict=False)]
        await insert_sessions(services.database.engine, "m1", sessions)
        last = min(first + timedelta(days=days), date(2027, 12, 31))
        if granularity == "month":  # 366 days may touch 13 months; stay inside 120 anyway
            last = min(last, first + timedelta(days=300))
        async with platform(services) as stats:
            result = await stats.totals_and_trends(granularity, first, last)
        trends = result["trends"]
        keys = [bucket["period"] for bucket in trends]
        assert keys == sorted(set(keys)) and keys[0] == period_key(granularity, first)
        assert keys[-1] == period_key(granularity, last)
        expected: dict[str, Counter[str]] = {key: Counter() for key in keys}
        for start, status in sessions:
            day = start.date()
            iso = day.isocalendar()
            key = {"day": day.isoformat(), "week": f"{iso.year}-W{iso.week:02d}", "month": day.strftime("%Y-%m")}
            if key[granularity] in expected:
                expected[key[granularity]].update(["booked", status])
        assert trends == [
            {
                "period": key,
                "booked": expected[key]["booked"],
                "completed": expected[key]["completed"],
                "cancelled": expected[key]["cancelled"],
                "noShow": expected[key]["no_show"],
            }
            for key in keys
        ]

    async def test_days_are_utc_days_whatever_the_offset_of_the_instant(self, services: Services) -> None:
        await reset(services)
        await insert_mentors(services, [Mentor("m1")])
        late_monday = datetime(2026, 12, 7, 23, 45, tzinfo=UTC)  # already Tuesday in Paris
        paris_midnight_thirty = datetime(2026, 12, 8, 0, 30, tzinfo=ZoneInfo("Europe/Paris"))  # Monday 23:30 UTC
        tuesday = datetime(2026, 12, 8, 0, 0, tzinfo=UTC)
        await insert_sessions(
            services.database.engine,
            "m1",
            [(late_monday, "completed"), (paris_midnight_thirty, "cancelled"), (tuesday, "no_show")],
        )
        async with platform(services) as stats:
            days = (await stats.totals_and_trends("day", date(2026, 12, 7), date(2026, 12, 8)))["trends"]
        assert days == [
            {"period": "2026-12-07", "booked": 2, "completed": 1, "cancelled": 1, "noShow": 0},
            {"period": "2026-12-08", "booked": 1, "completed": 0, "cancelled": 0, "noShow": 1},
        ]

    async def test_range_is_widened_to_whole_periods_and_empty_periods_are_listed(self, services: Services) -> None:
        await reset(services)
        async with platform(services) as stats:
            result = await stats.totals_and_trends("month", date(2026, 11, 15), date(2027, 1, 2))
        assert (result["from"], result["to"]) == ("2026-11-01", "2027-01-31")
        assert [bucket["period"] for bucket in result["trends"]] == ["2026-11", "2026-12", "2027-01"]
        assert all(bucket["booked"] == 0 for bucket in result["trends"])

    @pytest.mark.parametrize("granularity", GRANULARITIES)
    async def test_ranges_are_bounded(self, services: Services, granularity: str) -> None:
        start = date(2020, 1, 1)
        limit = MAX_PERIODS[granularity]
        widest = {"day": start + timedelta(days=limit - 1), "week": start + timedelta(weeks=limit - 1)}
        ok_end = widest.get(granularity, date(2020 + (limit - 1) // 12, (limit - 1) % 12 + 1, 1))
        too_far = next_period_start(granularity, period_start(granularity, ok_end))
        async with platform(services) as stats:
            assert len((await stats.totals_and_trends(granularity, start, ok_end))["trends"]) == limit
            for end in (too_far, start - timedelta(days=1)):
                with pytest.raises(InvalidInput) as raised:
                    await stats.totals_and_trends(granularity, start, end)
                assert raised.value.error_code == "INVALID_RANGE"

    async def test_unknown_granularity_and_dates_past_the_calendar_are_refused(self, services: Services) -> None:
        async with platform(services) as stats:
            with pytest.raises(InvalidInput) as raised:
                await stats.totals_and_trends("year", date(2026, 1, 1), date(2026, 2, 1))
            assert raised.value.error_code == "INVALID_GRANULARITY"
            for granularity in GRANULARITIES:
                with pytest.raises(InvalidInput) as raised:
                    await stats.totals_and_trends(granularity, date(9999, 12, 1), date.max)
                assert raised.value.error_code == "INVALID_RANGE"
            assert len((await stats.totals_and_trends("week", date.min, date(1, 1, 20)))["trends"]) == 3


class TestMentorTable:
    @given(rows=mentors())
    async def test_property_18_and_45_rates_follow_the_formulas_and_every_sort_is_right(
        self, services: Services, rows: list[Mentor]
    ) -> None:
        await reset(services)
        await insert_mentors(services, rows)
        async with platform(services) as stats:
            for sort in SORT_KEYS:
                for descending in (False, True):
                    items, total = await stats.mentors(sort, descending, page=1, page_size=200)
                    assert total == len(rows)
                    assert [item["userId"] for item in items] == expected_order(rows, sort, descending), sort
        by_id = {m.user_id: m for m in rows}
        for item in items:
            m = by_id[item["userId"]]
            attempted = m.completed + m.cancelled + m.no_show
            decided = m.completed + m.cancelled
            # SPEC.md §2, written out again rather than calling the rules under test.
            assert item["completionRate"] == (m.completed / attempted if attempted else 0)
            assert item["cancellationRate"] == (m.cancelled / decided if decided else 0)
            average = rules.average_from_sum(m.rating_sum, m.ratings)
            assert item["averageRating"] == (float(average) if average is not None else None)
            assert (item["completedSessions"], item["cancelledSessions"], item["noShowSessions"]) == (
                m.completed,
                m.cancelled,
                m.no_show,
            )
            assert (item["totalRatings"], item["isActive"], item["mentorCancellations"]) == (
                m.ratings,
                m.is_active,
                m.by_mentor,
            )

    @given(rows=mentors(min_size=1, max_size=12), page_size=st.integers(1, 5))
    async def test_pages_cover_every_mentor_once(self, services: Services, rows: list[Mentor], page_size: int) -> None:
        await reset(services)
        await insert_mentors(services, rows)
        seen: list[str] = []
        async with platform(services) as stats:
            for page in range(1, len(rows) // page_size + 3):
                items, total = await stats.mentors("completionRate", True, page=page, page_size=page_size)
                assert total == len(rows) and len(items) <= page_size
                seen += [item["userId"] for item in items]
        assert seen == expected_order(rows, "completionRate", True)

    @pytest.mark.parametrize("descending", [False, True])
    async def test_mentors_without_ratings_come_last_both_ways(self, services: Services, descending: bool) -> None:
        await reset(services)
        rows = [
            Mentor("m1"),
            Mentor("m2", ratings=2, rating_sum=9),
            Mentor("m3", ratings=1, rating_sum=3),
            Mentor("m0"),
        ]
        await insert_mentors(services, rows)
        async with platform(services) as stats:
            items, _ = await stats.mentors("averageRating", descending, page=1, page_size=10)
        assert [item["userId"] for item in items] == (["m2", "m3"] if descending else ["m3", "m2"]) + ["m0", "m1"]

    async def test_unknown_sort_and_bad_pages_are_refused(self, services: Services) -> None:
        async with platform(services) as stats:
            for sort, page, size, code in (
                ("email", 1, 10, "INVALID_SORT"),
                ("rating_sum", 1, 10, "INVALID_SORT"),
                ("name", 0, 10, "INVALID_PAGINATION"),
                ("name", 1, 0, "INVALID_PAGINATION"),
                ("name", 1, 201, "INVALID_PAGINATION"),
            ):
                with pytest.raises(InvalidInput) as raised:
                    await stats.mentors(sort, False, page, size)
                assert raised.value.error_code == code


class TestExport:
    async def test_reports_have_their_header_and_one_row_per_record(self, services: Services) -> None:
        await reset(services)
        await insert_mentors(services, [Mentor("m2", name="bob", completed=3, cancelled=1), Mentor("m1", name="ann")])
        start = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
        [done, cancelled] = await insert_sessions(
            services.database.engine, "m2", [(start, "completed"), (start, "cancelled")]
        )
        async with services.database.engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO thotis.ratings (session_uid, mentor_id, rating, feedback, flagged_for_review)"
                    " VALUES (:uid, 'm2', 2, '=1+1, \"bof\"', true)"
                ),
                {"uid": done},
            )
        async with platform(services) as stats:
            mentor_header, mentor_rows = await stats.export_rows("mentors")
            session_header, session_rows = await stats.export_rows("sessions")
            rating_header, rating_rows = await stats.export_rows("ratings")
        assert mentor_header[:5] == ["userId", "name", "university", "field", "isActive"]
        assert [row[:2] for row in mentor_rows] == [["m1", "ann"], ["m2", "bob"]]
        bob = dict(zip(mentor_header, mentor_rows[1], strict=True))
        assert (bob["completionRate"], bob["cancellationRate"], bob["averageRating"]) == ("0.75", "0.25", "")
        assert session_header == ["uid", "mentorId", "start", "end", "status", "cancelledBy", "studentLanguage"]
        assert sorted(row[0] for row in session_rows) == sorted([done, cancelled])
        assert all(row[2] == start.isoformat() for row in session_rows)
        assert {tuple(row[4:]) for row in session_rows} == {("completed", "", "en"), ("cancelled", "student", "en")}
        assert rating_header == ["id", "sessionUid", "mentorId", "rating", "feedback", "flaggedForReview", "createdAt"]
        assert rating_rows[0][:6] == ["1", done, "m2", "2", '=1+1, "bof"', "true"]
        everything = str([mentor_rows, session_rows, rating_rows])
        assert STUDENT_NAME not in everything and STUDENT_EMAIL not in everything  # no student personal data

    async def test_unknown_report_is_refused(self, services: Services) -> None:
        async with platform(services) as stats:
            with pytest.raises(InvalidInput) as raised:
                await stats.export_rows("students")
        assert raised.value.error_code == "INVALID_REPORT"
