"""Platform statistics for admins (R20; properties 43, 45, 46) through the API."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from adapter.auth import Role
from adapter.services import Services
from calcom_client.simulator import CalcomSimulator
from tests.adapter.helpers import ADMIN, SERVICE, assert_error, auth, create_profile, set_active
from tests.conftest import reset
from tests.factories import STUDENT_EMAIL, STUDENT_NAME, insert_sessions, valid_body
from thotis_ext import rules

STATS = "/api/v2/platform/stats"
MENTORS = "/api/v2/platform/mentors"
EXPORT = "/api/v2/platform/export.csv"
COUNTERS = ("completed_sessions", "scheduled_sessions", "cancelled_sessions", "no_show_sessions")


async def set_counters(services: Services, user_id: str, **counters: int) -> None:
    """Counters as the session lifecycle would have left them (the lifecycle is tested elsewhere)."""
    ratings, rating_sum = counters.pop("total_ratings", 0), counters.pop("rating_sum", 0)
    assignments = ", ".join(f"{name} = :{name}" for name in counters)
    async with services.database.engine.begin() as connection:
        await connection.execute(
            text(
                f"UPDATE thotis.student_profiles SET {assignments + ', ' if assignments else ''}"
                " total_ratings = :ratings, rating_sum = :rating_sum, average_rating = :average WHERE user_id = :id"
            ),
            {
                **counters,
                "ratings": ratings,
                "rating_sum": rating_sum,
                "average": rules.average_from_sum(rating_sum, ratings),
                "id": user_id,
            },
        )


def data(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()["data"]


def parse_csv(response: httpx.Response) -> list[list[str]]:
    assert response.content.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))


class TestAccess:
    async def test_only_admins_see_platform_statistics(self, api: httpx.AsyncClient) -> None:
        for path in (STATS, MENTORS, EXPORT + "?report=mentors"):
            assert (await api.get(path, headers=ADMIN)).status_code == 200, path
            assert_error(await api.get(path, headers=SERVICE), 403, "ROLE_NOT_ALLOWED")
            assert_error(await api.get(path, headers=auth(Role.MENTOR, "m1")), 403, "ROLE_NOT_ALLOWED")
            assert (await api.get(path)).status_code == 401


class TestPlatformStats:
    async def test_defaults_to_twelve_months_up_to_today_utc(
        self, api: httpx.AsyncClient, simulator: CalcomSimulator
    ) -> None:
        stats = data(await api.get(STATS, headers=ADMIN))  # the clock says 2026-12-07
        assert (stats["granularity"], stats["from"], stats["to"]) == ("month", "2026-01-01", "2026-12-31")
        assert [bucket["period"] for bucket in stats["trends"]] == [f"2026-{month:02d}" for month in range(1, 13)]
        assert stats["totals"]["mentors"] == 0 and stats["totals"]["averageRating"] is None

    async def test_property_43_totals_and_weekly_trends(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator
    ) -> None:
        await create_profile(api, "m1", valid_body())
        await create_profile(api, "m2", valid_body())
        assert (await set_active(api, "m2", False)).status_code == 200
        await set_counters(services, "m1", completed_sessions=3, cancelled_sessions=1, total_ratings=2, rating_sum=9)
        await set_counters(services, "m2", completed_sessions=1, no_show_sessions=1, total_ratings=1, rating_sum=3)
        monday = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
        await insert_sessions(
            services.database.engine,
            "m1",
            [(monday, "completed"), (monday + timedelta(days=6, hours=14), "cancelled"), (monday, "no_show")],
        )
        stats = data(await api.get(STATS + "?granularity=week&from=2026-12-01&to=2026-12-14", headers=ADMIN))
        totals = stats["totals"]
        assert (totals["mentors"], totals["activeMentors"], totals["completedSessions"]) == (2, 1, 4)
        assert (totals["cancelledSessions"], totals["noShowSessions"], totals["totalRatings"]) == (1, 1, 3)
        assert totals["averageRating"] == 4.0  # (9 + 3) / 3
        assert totals["completionRate"] == rules.completion_rate(4, 1, 1)
        assert stats["trends"] == [
            {"period": "2026-W49", "booked": 0, "completed": 0, "cancelled": 0, "noShow": 0},
            {"period": "2026-W50", "booked": 3, "completed": 1, "cancelled": 1, "noShow": 1},
            {"period": "2026-W51", "booked": 0, "completed": 0, "cancelled": 0, "noShow": 0},
        ]
        days = data(await api.get(STATS + "?granularity=day&from=2026-12-13&to=2026-12-13", headers=ADMIN))
        assert days["trends"] == [{"period": "2026-12-13", "booked": 1, "completed": 0, "cancelled": 1, "noShow": 0}]

    async def test_bad_query_values_are_400_with_a_stable_code(self, api: httpx.AsyncClient) -> None:
        for query, code in (
            ("granularity=year", "INVALID_GRANULARITY"),
            ("granularity=", "INVALID_GRANULARITY"),
            ("from=2026-13-01", "INVALID_DATE"),
            ("from=yesterday", "INVALID_DATE"),
            ("to=2026-02-30", "INVALID_DATE"),
            ("to=20261207", "INVALID_DATE"),
            ("from=2026-12-08&to=2026-12-07", "INVALID_RANGE"),
            ("granularity=day&from=2026-01-01&to=2027-01-02", "INVALID_RANGE"),  # 367 days
            ("granularity=week&from=2020-01-01&to=2026-01-01", "INVALID_RANGE"),
            ("granularity=month&from=2000-01-01&to=2026-01-01", "INVALID_RANGE"),
            ("granularity=day&from=9999-12-30&to=9999-12-31", "INVALID_RANGE"),
            ("granularity=month&from=0001-01-01&to=9999-12-31", "INVALID_RANGE"),
        ):
            assert_error(await api.get(f"{STATS}?{query}", headers=ADMIN), 400, code)
        widest = data(await api.get(STATS + "?granularity=day&from=2026-01-01&to=2027-01-01", headers=ADMIN))
        assert len(widest["trends"]) == 366
        assert data(await api.get(STATS + "?to=0001-03-01", headers=ADMIN))["from"] == "0001-01-01"


class TestPlatformMentors:
    @given(
        counters=st.lists(
            st.tuples(st.integers(0, 30), st.integers(0, 30), st.integers(0, 30), st.integers(0, 30)),
            min_size=1,
            max_size=4,
        )
    )
    async def test_property_45_rates_equal_each_mentors_own_stats_and_formulas(
        self, api: httpx.AsyncClient, services: Services, counters: list[tuple[int, int, int, int]]
    ) -> None:
        await reset(services)
        for index, values in enumerate(counters):
            await create_profile(api, f"m{index}", valid_body())
            await set_counters(services, f"m{index}", **dict(zip(COUNTERS, values, strict=True)))
        page = (await api.get(MENTORS + "?sort=completionRate&order=desc", headers=ADMIN)).json()
        assert page["pagination"] == {"total": len(counters), "page": 1, "pageSize": 50}
        rates = [item["completionRate"] for item in page["data"]]
        assert rates == sorted(rates, reverse=True)
        for item in page["data"]:
            completed, _, cancelled, no_show = counters[int(item["userId"][1:])]
            assert item["completionRate"] == rules.completion_rate(completed, cancelled, no_show)
            assert item["cancellationRate"] == rules.cancellation_rate(completed, cancelled)
            own = data(await api.get(f"/api/v2/students/{item['userId']}/stats", headers=ADMIN))
            assert {key: item[key] for key in own} == own

    async def test_every_mentor_active_or_not_sorted_and_paginated(
        self, api: httpx.AsyncClient, services: Services
    ) -> None:
        for user_id, name in (("m1", "Camille"), ("m2", "Alix"), ("m3", "Basile")):
            await create_profile(api, user_id, valid_body(name=name))
        assert (await set_active(api, "m3", False)).status_code == 200
        await set_counters(services, "m1", total_ratings=1, rating_sum=5)
        await set_counters(services, "m2", total_ratings=2, rating_sum=7)
        by_name = data(await api.get(MENTORS + "?sort=name", headers=ADMIN))
        assert [(item["name"], item["isActive"]) for item in by_name] == [
            ("Alix", True),
            ("Basile", False),
            ("Camille", True),
        ]
        by_rating = (await api.get(MENTORS + "?sort=averageRating&order=asc&pageSize=2", headers=ADMIN)).json()
        assert [item["averageRating"] for item in by_rating["data"]] == [3.5, 5.0]
        assert by_rating["pagination"] == {"total": 3, "page": 1, "pageSize": 2}
        last = data(await api.get(MENTORS + "?sort=averageRating&order=desc&page=2&pageSize=2", headers=ADMIN))
        assert [(item["userId"], item["averageRating"]) for item in last] == [("m3", None)]
        assert "email" not in by_name[0]

    async def test_bad_query_values_are_400_with_a_stable_code(self, api: httpx.AsyncClient) -> None:
        for query, code in (
            ("sort=email", "INVALID_SORT"),
            ("sort=", "INVALID_SORT"),
            ("order=up", "INVALID_ORDER"),
            ("pageSize=0", "VALIDATION_ERROR"),
            ("pageSize=201", "VALIDATION_ERROR"),
            ("page=0", "VALIDATION_ERROR"),
            ("page=abc", "VALIDATION_ERROR"),
        ):
            assert_error(await api.get(f"{MENTORS}?{query}", headers=ADMIN), 400, code)


class TestExport:
    async def test_csv_reports_download_with_a_header_and_no_student_personal_data(
        self, api: httpx.AsyncClient, services: Services
    ) -> None:
        await create_profile(api, "m1", valid_body(name="=cmd|' /C calc'!A0"))
        [uid] = await insert_sessions(
            services.database.engine, "m1", [(datetime(2026, 12, 1, 9, 0, tzinfo=UTC), "completed")]
        )
        async with services.database.engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO thotis.ratings (session_uid, mentor_id, rating, feedback)"
                    " VALUES (:uid, 'm1', 4, :feedback)"
                ),
                {"uid": uid, "feedback": 'Très bien, "merci"\nà bientôt'},
            )
        for report, width in (("mentors", 14), ("sessions", 7), ("ratings", 7)):
            response = await api.get(f"{EXPORT}?report={report}", headers=ADMIN)
            assert response.status_code == 200, response.text
            assert response.headers["content-type"] == "text/csv; charset=utf-8"
            assert response.headers["content-disposition"] == f'attachment; filename="thotis-{report}.csv"'
            rows = parse_csv(response)
            assert len(rows) == 2 and {len(row) for row in rows} == {width}
            assert (
                b"\r\n" in response.content and STUDENT_NAME not in response.text and STUDENT_EMAIL not in response.text
            )
            if report == "mentors":
                assert rows[1][:2] == ["m1", "'=cmd|' /C calc'!A0"]  # formula neutralised
            if report == "sessions":
                assert rows[0] == ["uid", "mentorId", "start", "end", "status", "cancelledBy", "studentLanguage"]
                assert rows[1][:2] == [uid, "m1"] and rows[1][4] == "completed"
            if report == "ratings":
                assert rows[1][3:5] == ["4", 'Très bien, "merci"\nà bientôt']

    async def test_unknown_or_missing_report_is_400(self, api: httpx.AsyncClient) -> None:
        assert_error(await api.get(EXPORT + "?report=students", headers=ADMIN), 400, "INVALID_REPORT")
        assert_error(await api.get(EXPORT + '?report=x"y', headers=ADMIN), 400, "INVALID_REPORT")
        assert_error(await api.get(EXPORT, headers=ADMIN), 400, "VALIDATION_ERROR")
