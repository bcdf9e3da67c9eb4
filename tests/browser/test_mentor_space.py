"""The mentor space in a real Chromium (R1, R13): sign in, edit the profile, upload a photo and see
the 400×400 result; no serious accessibility violation at any width."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.async_api import Browser

from adapter.auth import Role
from tests.adapter.helpers import SERVICE, create_profile, token
from tests.browser.test_rate_page import WIDTHS, serious_violations
from tests.factories import image_bytes, valid_body


class TestMentorSpaceInBrowser:
    async def test_profile_edit_and_photo_upload(
        self, api: httpx.AsyncClient, base_url: str, browser: Browser, artifacts: Path, tmp_path: Path
    ) -> None:
        await create_profile(api, "m1", valid_body())
        page = await browser.new_page(viewport={"width": 768, "height": 1000})
        await page.goto(f"{base_url}/mentor?lang=en")
        await page.get_by_label("Mentor token").fill(token(Role.MENTOR, "m1"))
        await page.get_by_role("button", name="Mentor sign-in").click()
        await page.get_by_role("heading", name="My mentor space").wait_for()
        bio = "Third-year law student in Paris; I answer questions about exams, internships and student life."
        await page.get_by_label("About you (50 to 1000 characters)").fill(bio)
        await page.get_by_role("button", name="Save").click()
        await page.get_by_text("Profile saved.").wait_for()
        picture = tmp_path / "me.jpg"
        picture.write_bytes(image_bytes(1200, 800))
        await page.get_by_label("JPEG, PNG or WebP, at most 5 MB: it is cropped to 400 × 400.").set_input_files(picture)
        await page.get_by_role("button", name="Upload the photo").click()
        await page.get_by_text("Photo saved.").wait_for()
        preview = page.locator("img.preview")
        natural = await preview.evaluate("img => [img.naturalWidth, img.naturalHeight]")
        assert natural == [400, 400]
        await page.close()
        stored = (await api.get("/api/v2/students/m1", headers=SERVICE)).json()["data"]
        assert stored["bio"] == bio and stored["profilePhotoUrl"]

    async def test_every_width_passes_axe(
        self, api: httpx.AsyncClient, base_url: str, browser: Browser, artifacts: Path
    ) -> None:
        await create_profile(api, "m1", valid_body())
        for width in WIDTHS:
            context = await browser.new_context(viewport={"width": width, "height": 900})
            page = await context.new_page()
            await page.goto(f"{base_url}/mentor/login?lang=en")
            await page.get_by_label("Mentor token").fill(token(Role.MENTOR, "m1"))
            await page.get_by_role("button", name="Mentor sign-in").click()
            await page.get_by_role("heading", name="My mentor space").wait_for()
            await page.screenshot(path=str(artifacts / f"mentor-{width}.png"), full_page=True)
            assert await serious_violations(page) == []
            assert await page.evaluate("document.documentElement.scrollWidth") <= width
            await context.close()
