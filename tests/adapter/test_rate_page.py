"""/rate/{token}: the rating page of the feedback email (R19), over HTTP: states, escaping, headers."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx

from adapter.services import Services
from core.settings import DEMO_JWT_SECRET
from core.tokens import Role, mint_token, rating_token
from tests.adapter.helpers import SERVICE, create_profile
from tests.factories import insert_sessions, valid_body

NOW = datetime.now(UTC)


def link(uid: str) -> str:
    return f"/rate/{rating_token(DEMO_JWT_SECRET, 'thotis', uid)}"


async def session(api: httpx.AsyncClient, services: Services, status: str = "completed", *,
                  start: datetime | None = None, mentor_name: str = "Camille Martin") -> str:  # fmt: skip
    await create_profile(api, "m1", valid_body(name=mentor_name))
    (uid,) = await insert_sessions(services.database.engine, "m1", [(start or NOW - timedelta(hours=2), status)])
    return uid


class TestRatingPage:
    async def test_an_ended_session_shows_the_form_with_strict_headers(
        self, api: httpx.AsyncClient, services: Services
    ) -> None:
        uid = await session(api, services)
        page = await api.get(link(uid))
        assert page.status_code == 200 and 'name="rating"' in page.text and "Camille Martin" in page.text
        assert page.headers["content-type"].startswith("text/html")
        csp = page.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script-src" not in csp
        assert page.headers["referrer-policy"] == "no-referrer" and page.headers["cache-control"] == "no-store"
        assert '<html lang="en">' in page.text  # insert_sessions' students speak English

    async def test_rating_once_then_the_link_says_it_was_rated(
        self, api: httpx.AsyncClient, services: Services
    ) -> None:
        uid = await session(api, services)
        done = await api.post(link(uid), data={"rating": "4", "feedback": "Très utile, merci !"})
        assert done.status_code == 200 and "Thank you" in done.text
        ratings = (await api.get("/api/v2/students/m1/ratings", headers=SERVICE)).json()["data"]
        assert [(r["rating"], r["feedback"]) for r in ratings] == [(4, "Très utile, merci !")]
        again = await api.get(link(uid))
        assert again.status_code == 409 and "already been rated (4 out of 5)" in again.text
        twice = await api.post(link(uid), data={"rating": "1"})
        assert twice.status_code == 409
        assert len((await api.get("/api/v2/students/m1/ratings", headers=SERVICE)).json()["data"]) == 1

    async def test_invalid_answers_are_explained_and_nothing_is_lost(
        self, api: httpx.AsyncClient, services: Services
    ) -> None:
        uid = await session(api, services)
        hostile = '"><img src=x onerror=alert(1)><script>alert(2)</script>'
        page = await api.post(link(uid), data={"rating": "7", "feedback": hostile})
        assert page.status_code == 400 and "Choose a rating from 1 to 5 stars." in page.text
        assert "<script>alert(2)" not in page.text and "&lt;script&gt;alert(2)&lt;/script&gt;" in page.text
        too_long = await api.post(link(uid), data={"rating": "3", "feedback": "x" * 501})
        assert too_long.status_code == 400 and "at most 500 characters" in too_long.text
        assert "x" * 501 in too_long.text  # what they typed comes back to be shortened, not lost

    async def test_user_text_is_escaped(self, api: httpx.AsyncClient, services: Services) -> None:
        uid = await session(api, services, mentor_name="<script>alert(1)</script> Zoé")
        page = await api.get(link(uid))
        assert "<script>alert(1)" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt; Zoé" in page.text

    async def test_sessions_not_ended_or_cancelled_cannot_be_rated(
        self, api: httpx.AsyncClient, services: Services
    ) -> None:
        later = await session(api, services, "scheduled", start=NOW + timedelta(days=1))
        page = await api.get(link(later))
        assert page.status_code == 409 and "has not ended yet" in page.text and 'name="rating"' not in page.text
        assert (await api.post(link(later), data={"rating": "5"})).status_code == 409
        (cancelled,) = await insert_sessions(services.database.engine, "m1", [(NOW - timedelta(days=1), "cancelled")])
        page = await api.get(link(cancelled))
        assert page.status_code == 409 and "cannot be rated" in page.text

    async def test_broken_expired_or_foreign_links_say_so(self, api: httpx.AsyncClient, services: Services) -> None:
        uid = await session(api, services)
        expired = mint_token(DEMO_JWT_SECRET, "thotis", role=Role.RATING, sub=uid, ttl_seconds=-60)
        assert (await api.get(f"/rate/{expired}")).status_code == 410
        service = mint_token(DEMO_JWT_SECRET, "thotis", role=Role.SERVICE, sub=uid)
        assert (await api.get(f"/rate/{service}")).status_code == 400
        assert (await api.get("/rate/not-a-token")).status_code == 400
        unknown = await api.get(link("no-such-session"), headers={"Accept-Language": "en-GB,en;q=0.8"})
        assert unknown.status_code == 404 and "not valid" in unknown.text
        assert (await api.post(f"/rate/{expired}", data={"rating": "5"})).status_code == 410

    async def test_french_by_the_sessions_language_or_by_choice(
        self, api: httpx.AsyncClient, services: Services
    ) -> None:
        uid = await session(api, services)
        page = await api.get(link(uid) + "?lang=fr")
        assert '<html lang="fr">' in page.text and "Notez votre session" in page.text


class TestAssets:
    async def test_pages_link_content_hashed_assets_cached_for_a_year(
        self, api: httpx.AsyncClient, services: Services
    ) -> None:
        uid = await session(api, services)
        page = await api.get(link(uid))
        for url in re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text):
            assert re.fullmatch(r"/static/[a-z]+\.[0-9a-f]{12}\.(css|png)", url), url
            asset = await api.get(url)
            assert asset.status_code == 200 and asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        missing = await api.get("/static/thotis.000000000000.css")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "ASSET_NOT_FOUND"
