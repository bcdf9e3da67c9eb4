"""/admin over HTTP (R20): sign-in to an HttpOnly SameSite cookie, the dashboard's figures, CSRF on
every change, CSV exports."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import httpx

from adapter.auth import Role
from adapter.services import Services
from tests.adapter.helpers import SERVICE, create_profile, token
from tests.factories import insert_sessions, valid_body


async def signed_in(api: httpx.AsyncClient) -> str:
    """Sign in as an admin; returns the page's CSRF token."""
    response = await api.post("/admin/login", data={"token": token(Role.ADMIN, "alice")})
    assert response.status_code == 303 and response.headers["location"] == "/admin"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("samesite", "SameSite")
    page = await api.get("/admin")
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert found is not None
    return found.group(1)


async def low_rating(api: httpx.AsyncClient, services: Services) -> int:
    await create_profile(api, "m1", valid_body())
    (uid,) = await insert_sessions(
        services.database.engine, "m1", [(datetime.now(UTC) - timedelta(hours=2), "completed")]
    )
    rated = await api.post(
        f"/api/v2/bookings/{uid}/rating", json={"rating": 1, "feedback": "<b>late</b>"}, headers=SERVICE
    )
    assert rated.status_code == 201
    rating_id: int = rated.json()["data"]["id"]
    return rating_id


class TestAdminPage:
    async def test_signed_out_visitors_are_sent_to_the_sign_in_page(self, api: httpx.AsyncClient) -> None:
        api.cookies.clear()
        for path in ("/admin", "/admin/export/mentors.csv", "/admin/webhooks/x"):
            response = await api.get(path)
            assert response.status_code == 303 and response.headers["location"] == "/admin/login", path
        login = await api.get("/admin/login?lang=en")
        assert login.status_code == 200 and 'type="password"' in login.text
        assert "frame-ancestors 'none'" in login.headers["content-security-policy"]

    async def test_only_an_admin_token_signs_in(self, api: httpx.AsyncClient) -> None:
        api.cookies.clear()
        for bad in (token(Role.SERVICE, "website"), token(Role.MENTOR, "m1"), "garbage"):
            response = await api.post("/admin/login?lang=en", data={"token": bad})
            assert response.status_code == 401 and "not a valid admin token" in response.text
            assert "set-cookie" not in response.headers

    async def test_dashboard_shows_the_platform_and_its_charts(
        self, api: httpx.AsyncClient, services: Services
    ) -> None:
        api.cookies.clear()
        await low_rating(api, services)
        await signed_in(api)
        page = await api.get("/admin?lang=en")
        assert page.status_code == 200 and "Signed in: alice" in page.text
        assert page.text.count('<svg class="chart"') == 2 and 'role="img"' in page.text
        assert "Camille Martin" in page.text and "1/5" in page.text
        assert "&lt;b&gt;late&lt;/b&gt;" in page.text and "<b>late</b>" not in page.text
        for granularity in ("day", "week", "month"):
            assert (await api.get(f"/admin?granularity={granularity}")).status_code == 200
        sorted_page = await api.get("/admin?sort=name&order=asc")
        assert 'aria-sort="ascending"' in sorted_page.text

    async def test_changes_need_the_csrf_token(self, api: httpx.AsyncClient, services: Services) -> None:
        api.cookies.clear()
        rating_id = await low_rating(api, services)
        csrf = await signed_in(api)
        forged = await api.post(f"/admin/reviews/{rating_id}/resolve", data={"csrf": "0" * 40})
        assert forged.status_code == 403 and forged.json()["error"]["code"] == "CSRF_FAILED"
        done = await api.post(f"/admin/reviews/{rating_id}/resolve", data={"csrf": csrf})
        assert done.status_code == 303
        queue = await api.get("/api/v2/platform/reviews", headers={"Authorization": f"Bearer {token(Role.ADMIN)}"})
        assert queue.json()["data"] == []

    async def test_csv_exports_download(self, api: httpx.AsyncClient, services: Services) -> None:
        api.cookies.clear()
        await low_rating(api, services)
        await signed_in(api)
        export = await api.get("/admin/export/ratings.csv")
        assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(export.text)))
        assert len(rows) == 2  # header and the one rating
        assert (await api.get("/admin/export/passwords.csv")).status_code == 404

    async def test_signing_out_ends_the_session(self, api: httpx.AsyncClient) -> None:
        api.cookies.clear()
        csrf = await signed_in(api)
        out = await api.post("/admin/logout", data={"csrf": csrf})
        assert out.status_code == 303
        api.cookies.clear()  # the browser drops the expired cookie
        assert (await api.get("/admin")).status_code == 303
