"""Ratings (R7.3, R7.4, R19; properties 20, 21, 42) through the API."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
from hypothesis import given
from hypothesis import strategies as st

from adapter.auth import Role
from adapter.services import Services
from calcom_client.simulator import CalcomSimulator
from core.clock import FixedClock
from tests.adapter.conftest import NOW
from tests.adapter.helpers import ADMIN, SERVICE, assert_error, auth, create_profile
from tests.adapter.test_availability import linked_mentor
from tests.adapter.test_bookings import SLOT, book, booking
from tests.conftest import reset
from tests.factories import insert_sessions, valid_body
from thotis_ext import rules

AFTER_END = SLOT + timedelta(minutes=20)


async def ended_session(api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator) -> str:
    """A session of m1 booked for SLOT, with the clock moved past its end."""
    await linked_mentor(api, simulator)
    response = await book(api, booking())
    assert response.status_code == 201, response.text
    services.clock = FixedClock(AFTER_END)
    return str(response.json()["data"]["uid"])


async def rating_link(api: httpx.AsyncClient, uid: str) -> dict[str, str]:
    response = await api.post(f"/api/v2/bookings/{uid}/rating-link", headers=SERVICE)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['data']['token']}"}


async def rate(api: httpx.AsyncClient, uid: str, body: Any, headers: dict[str, str] = SERVICE) -> httpx.Response:
    return await api.post(f"/api/v2/bookings/{uid}/rating", json=body, headers=headers)


async def completed_sessions(services: Services, mentor: str, count: int) -> list[str]:
    """Completed sessions of the day before NOW, written straight to the database."""
    starts = [NOW - timedelta(days=1, minutes=15 * i) for i in range(count)]
    return await insert_sessions(services.database.engine, mentor, [(start, "completed") for start in starts])


class TestRating:
    async def test_the_rating_link_rates_its_session_once(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator
    ) -> None:
        uid = await ended_session(api, services, simulator)
        link = await rating_link(api, uid)
        response = await rate(api, uid, {"rating": 5, "feedback": "Très utile, merci !"}, link)
        assert response.status_code == 201, response.text
        data = response.json()["data"]
        assert (data["rating"], data["feedback"], data["flaggedForReview"]) == (5, "Très utile, merci !", False)
        assert_error(await rate(api, uid, {"rating": 4}, link), 409, "RATING_EXISTS")
        stats = (await api.get("/api/v2/students/m1/stats", headers=SERVICE)).json()["data"]
        assert (stats["averageRating"], stats["totalRatings"]) == (5.0, 1)

    async def test_a_rating_link_opens_nothing_else(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator
    ) -> None:
        uid = await ended_session(api, services, simulator)
        link = await rating_link(api, uid)
        assert_error(await rate(api, "another-session-uid", {"rating": 5}, link), 403, "NOT_OWNER")
        assert_error(await api.get(f"/api/v2/bookings/{uid}", headers=link), 403, "ROLE_NOT_ALLOWED")
        assert_error(await api.get("/api/v2/students/m1", headers=link), 403, "ROLE_NOT_ALLOWED")
        assert_error(await rate(api, uid, {"rating": 5}, auth(Role.WIDGET, "m1")), 403, "ROLE_NOT_ALLOWED")
        assert_error(await api.post("/api/v2/bookings/nope/rating-link", headers=SERVICE), 404, "SESSION_NOT_FOUND")

    async def test_only_an_ended_session_that_took_place_is_rated(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator
    ) -> None:
        uid = await ended_session(api, services, simulator)
        services.clock = FixedClock(SLOT + timedelta(minutes=10))
        assert_error(await rate(api, uid, {"rating": 4}), 400, "SESSION_NOT_ENDED")
        services.clock = FixedClock(NOW)
        assert (await api.delete(f"/api/v2/bookings/{uid}", headers=SERVICE)).status_code == 200
        services.clock = FixedClock(AFTER_END)
        assert_error(await rate(api, uid, {"rating": 4}), 400, "SESSION_NOT_RATEABLE")
        assert_error(await rate(api, "unknown", {"rating": 4}), 404, "SESSION_NOT_FOUND")

    @given(rating=st.integers(1, 5), feedback=st.none() | st.text(max_size=500).map(str.strip))
    async def test_property_20_valid_ratings_are_stored_as_given(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator, rating: int, feedback: Any
    ) -> None:
        await reset(services)
        await create_profile(api, "m1", valid_body())
        [uid] = await completed_sessions(services, "m1", 1)
        body = {"rating": rating} | ({"feedback": feedback} if feedback is not None else {})
        response = await rate(api, uid, body)
        if feedback is not None and rules.has_control_characters(feedback):
            assert_error(response, 400, "VALIDATION_ERROR")
            return
        assert response.status_code == 201, response.text
        data = response.json()["data"]
        assert data["rating"] == rating and data["feedback"] == (feedback or None)

    async def test_property_20_invalid_ratings_are_rejected(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator
    ) -> None:
        await create_profile(api, "m1", valid_body())
        [uid] = await completed_sessions(services, "m1", 1)
        for body in ({"rating": 0}, {"rating": 6}, {"rating": "5"}, {"rating": 4.5}, {"rating": True}, {},
                     {"rating": 3, "feedback": "x" * 501}, {"rating": 3, "extra": 1}, [3]):  # fmt: skip
            response = await rate(api, uid, body)
            assert 400 <= response.status_code < 500 and response.json()["status"] == "error", (body, response.text)
        assert (await rate(api, uid, {"rating": 3, "feedback": "x" * 500})).status_code == 201

    @given(stars=st.lists(st.integers(1, 5), min_size=1, max_size=8))
    async def test_property_21_average_is_the_half_up_mean(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator, stars: list[int]
    ) -> None:
        await reset(services)
        await create_profile(api, "m1", valid_body())
        for uid, star in zip(await completed_sessions(services, "m1", len(stars)), stars, strict=True):
            assert (await rate(api, uid, {"rating": star})).status_code == 201
        stats = (await api.get("/api/v2/students/m1/stats", headers=SERVICE)).json()["data"]
        expected = rules.average_rating(stars)
        assert expected is not None
        assert Decimal(str(stats["averageRating"])) == expected and stats["totalRatings"] == len(stars)

    @given(stars=st.lists(st.integers(1, 5), min_size=1, max_size=6))
    async def test_property_42_every_rating_below_3_waits_for_review(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator, stars: list[int]
    ) -> None:
        await reset(services)
        await create_profile(api, "m1", valid_body())
        uids = await completed_sessions(services, "m1", len(stars))
        for uid, star in zip(uids, stars, strict=True):
            await rate(api, uid, {"rating": star})
        queue = (await api.get("/api/v2/platform/reviews", headers=ADMIN)).json()["data"]
        assert sorted(item["sessionUid"] for item in queue) == sorted(
            uid for uid, star in zip(uids, stars, strict=True) if star < 3
        )
        for item in queue:
            resolved = await api.post(f"/api/v2/platform/reviews/{item['id']}/resolve", headers=ADMIN)
            assert resolved.status_code == 200 and resolved.json()["data"]["reviewedAt"] is not None
        assert (await api.get("/api/v2/platform/reviews", headers=ADMIN)).json()["data"] == []

    async def test_review_queue_is_for_admins_and_unknown_ids_are_404(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator
    ) -> None:
        assert_error(await api.get("/api/v2/platform/reviews", headers=SERVICE), 403, "ROLE_NOT_ALLOWED")
        assert_error(await api.post("/api/v2/platform/reviews/999/resolve", headers=ADMIN), 404, "RATING_NOT_FOUND")

    async def test_a_mentors_ratings_newest_first_for_the_mentor_and_the_service(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator
    ) -> None:
        await create_profile(api, "m1", valid_body())
        uids = await completed_sessions(services, "m1", 3)
        for uid, star in zip(uids, (3, 4, 5), strict=True):
            await rate(api, uid, {"rating": star})
        page = (await api.get("/api/v2/students/m1/ratings?pageSize=2", headers=auth(Role.MENTOR, "m1"))).json()
        assert [item["rating"] for item in page["data"]] == [5, 4] and page["pagination"]["total"] == 3
        assert (await api.get("/api/v2/students/m1/ratings", headers=SERVICE)).status_code == 200
        other = await api.get("/api/v2/students/m1/ratings", headers=auth(Role.MENTOR, "m2"))
        assert_error(other, 403, "NOT_OWNER")
        assert_error(await api.get("/api/v2/students/ghost/ratings", headers=SERVICE), 404, "PROFILE_NOT_FOUND")
