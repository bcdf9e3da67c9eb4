"""The admin dashboard in a real Chromium (R20): sign in with a token, read the charts, switch the
trend's granularity, download a CSV; no serious accessibility violation at any width."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.async_api import Browser

from adapter.auth import Role
from adapter.services import Services
from tests.adapter.helpers import token
from tests.adapter.test_admin_page import low_rating
from tests.browser.test_rate_page import WIDTHS, serious_violations


class TestAdminInBrowser:
    async def test_sign_in_charts_granularity_and_csv(
        self, api: httpx.AsyncClient, services: Services, base_url: str, browser: Browser, artifacts: Path
    ) -> None:
        await low_rating(api, services)
        context = await browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)
        page = await context.new_page()
        await page.goto(f"{base_url}/admin?lang=en")
        assert page.url.endswith("/admin/login")
        await page.get_by_label("Admin token").fill(token(Role.ADMIN, "alice"))
        await page.get_by_role("button", name="Administrator sign-in").click()
        await page.get_by_text("Signed in: alice").wait_for()
        cookies = {c["name"]: c for c in await context.cookies()}
        assert cookies["thotis_admin"]["httpOnly"] and cookies["thotis_admin"]["sameSite"] == "Strict"
        assert await page.locator("svg.chart").count() == 2
        assert await page.locator("svg.chart rect").count() > 10
        await page.get_by_role("link", name="By day").click()
        await page.wait_for_url("**granularity=day**")
        assert await page.locator("#trends strong[aria-current]").inner_text() == "By day"
        async with page.expect_download() as waiting:
            await page.get_by_role("link", name="Ratings", exact=True).click()
        download = await waiting.value
        assert download.suggested_filename == "thotis-ratings.csv"
        await context.close()

    async def test_every_width_passes_axe(
        self, api: httpx.AsyncClient, services: Services, base_url: str, browser: Browser, artifacts: Path
    ) -> None:
        await low_rating(api, services)
        for width in WIDTHS:
            context = await browser.new_context(viewport={"width": width, "height": 900})
            page = await context.new_page()
            await page.goto(f"{base_url}/admin/login?lang=en")
            await page.get_by_label("Admin token").fill(token(Role.ADMIN, "alice"))
            await page.get_by_role("button", name="Administrator sign-in").click()
            await page.get_by_text("Signed in: alice").wait_for()
            await page.screenshot(path=str(artifacts / f"admin-{width}.png"), full_page=True)
            assert await serious_violations(page) == []
            assert await page.evaluate("document.documentElement.scrollWidth") <= width
            await context.close()
