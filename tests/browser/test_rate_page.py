"""The rating page in a real Chromium (R19): a student rates from the emailed link, by mouse or by
keyboard, at phone and desktop widths, with no serious accessibility violation (axe-core)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page

from adapter.services import Services
from core.settings import DEMO_JWT_SECRET
from core.tokens import rating_token
from tests.adapter.helpers import SERVICE, create_profile
from tests.factories import insert_sessions, valid_body

WIDTHS = (320, 768, 1440)


async def ended_session(api: httpx.AsyncClient, services: Services) -> str:
    await create_profile(api, "m1", valid_body())
    start = datetime.now(UTC) - timedelta(hours=2)
    (uid,) = await insert_sessions(services.database.engine, "m1", [(start, "completed")])
    return uid


async def serious_violations(page: Page) -> list[str]:
    results = await Axe().run(page)
    return [
        f"{v['id']}: {v['help']}" for v in results.response["violations"] if v.get("impact") in ("serious", "critical")
    ]


async def ratings(api: httpx.AsyncClient) -> list[tuple[int, str | None]]:
    data = (await api.get("/api/v2/students/m1/ratings", headers=SERVICE)).json()["data"]
    return [(r["rating"], r["feedback"]) for r in data]


class TestRatingPageInBrowser:
    async def test_a_student_rates_by_clicking_a_star(
        self, api: httpx.AsyncClient, services: Services, base_url: str, browser: Browser, artifacts: Path
    ) -> None:
        uid = await ended_session(api, services)
        url = f"{base_url}/rate/{rating_token(DEMO_JWT_SECRET, 'thotis', uid)}?lang=fr"
        for width in WIDTHS:
            context = await browser.new_context(viewport={"width": width, "height": 900})
            page = await context.new_page()
            response = await page.goto(url)
            assert response is not None and response.status == 200
            await page.screenshot(path=str(artifacts / f"rate-{width}.png"), full_page=True)
            assert await serious_violations(page) == []
            assert await page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scroll
            size = await page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
            assert size >= 16
            box = await page.locator("label[for=star-4]").bounding_box()
            assert box is not None and box["width"] >= 44 and box["height"] >= 44  # tap target
            await context.close()
        page = await browser.new_page(viewport={"width": 320, "height": 800})
        await page.goto(url)
        await page.locator("label[for=star-4]").click()
        await page.get_by_label("Un commentaire (facultatif)").fill("Merci <b>beaucoup</b> !")
        await page.get_by_role("button", name="Envoyer ma note").click()
        await page.get_by_text("Merci ! Votre note a bien été enregistrée.").wait_for()
        await page.screenshot(path=str(artifacts / "rate-thanks-320.png"), full_page=True)
        await page.close()
        assert await ratings(api) == [(4, "Merci <b>beaucoup</b> !")]

    async def test_the_form_works_with_the_keyboard_alone(
        self, api: httpx.AsyncClient, services: Services, base_url: str, browser: Browser
    ) -> None:
        uid = await ended_session(api, services)
        page = await browser.new_page()
        await page.goto(f"{base_url}/rate/{rating_token(DEMO_JWT_SECRET, 'thotis', uid)}?lang=en")
        await page.keyboard.press("Tab")  # the first star of the group (5, shown last to the right)
        await page.keyboard.press("ArrowRight")  # radio group: move to the next star
        checked = await page.evaluate("document.querySelector('input[name=rating]:checked').value")
        await page.keyboard.press("Tab")  # the comment
        await page.keyboard.type("Clear answers")
        await page.keyboard.press("Tab")
        await page.keyboard.press("Enter")
        await page.get_by_text("Thank you! Your rating has been saved.").wait_for()
        await page.close()
        assert await ratings(api) == [(int(checked), "Clear answers")]

    async def test_a_submission_without_stars_is_explained(
        self, api: httpx.AsyncClient, services: Services, base_url: str, browser: Browser
    ) -> None:
        uid = await ended_session(api, services)
        page = await browser.new_page()
        await page.goto(f"{base_url}/rate/{rating_token(DEMO_JWT_SECRET, 'thotis', uid)}?lang=en")
        await page.get_by_role("button", name="Send my rating").click()
        alert = page.get_by_role("alert")
        assert "Choose a rating from 1 to 5 stars." in await alert.inner_text()
        assert await serious_violations(page) == []
        await page.close()
        assert await ratings(api) == []
