"""The mentor directory in a real Chromium (R4, R18): filtering by form, one column on a phone,
no serious accessibility violation, screenshots for people to look at."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.async_api import Browser

from tests.adapter.helpers import create_profile
from tests.browser.test_rate_page import WIDTHS, serious_violations
from tests.factories import valid_body


async def some_mentors(api: httpx.AsyncClient) -> None:
    for index in range(4):
        await create_profile(api, f"law{index}", valid_body(name=f"Juriste {index}"))
    await create_profile(
        api, "cs", valid_body(name="Ada Lovelace", field="COMPUTER_SCIENCE", university="Université de Lyon")
    )


class TestDirectoryInBrowser:
    async def test_cards_at_phone_tablet_and_desktop_widths(
        self, api: httpx.AsyncClient, base_url: str, browser: Browser, artifacts: Path
    ) -> None:
        await some_mentors(api)
        for width in WIDTHS:
            context = await browser.new_context(viewport={"width": width, "height": 900})
            page = await context.new_page()
            await page.goto(f"{base_url}/mentors?lang=fr")
            await page.screenshot(path=str(artifacts / f"mentors-{width}.png"), full_page=True)
            assert await serious_violations(page) == []
            assert await page.evaluate("document.documentElement.scrollWidth") <= width
            lefts = await page.locator(".card").evaluate_all("cards => cards.map(c => c.getBoundingClientRect().left)")
            if width < 640:
                assert len(set(lefts)) == 1  # one column
            else:
                assert len(set(lefts)) > 1
            for button in await page.locator(".card .button").all():
                box = await button.bounding_box()
                assert box is not None and box["height"] >= 44
            await context.close()

    async def test_filtering_by_field_then_clearing(
        self, api: httpx.AsyncClient, base_url: str, browser: Browser
    ) -> None:
        await some_mentors(api)
        page = await browser.new_page()
        await page.goto(f"{base_url}/mentors?lang=en")
        assert await page.get_by_role("status").inner_text() == "5 mentor(s)"
        await page.get_by_label("Field").select_option("COMPUTER_SCIENCE")
        await page.get_by_role("button", name="Filter").click()
        await page.wait_for_url("**field=COMPUTER_SCIENCE**")
        assert await page.get_by_role("status").inner_text() == "1 mentor(s)"
        assert await page.locator(".card h2").all_inner_texts() == ["Ada Lovelace"]
        await page.get_by_label("University").select_option("Sorbonne Université")
        await page.get_by_role("button", name="Filter").click()
        await page.get_by_text("No mentor matches these filters.").wait_for()
        await page.get_by_role("link", name="See all mentors").click()
        await page.wait_for_url("**/mentors?lang=en")
        assert await page.locator(".card").count() == 5
        await page.close()
