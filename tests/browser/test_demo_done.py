"""Issue 6's "Done when", as a person does it: in `thotis demo` (compressed clock) open /mentors, book
in the widget inside /demo/host, find the email in /admin/mailbox, rate from the feedback email's
link once the session has ended, and see it all on /admin."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.async_api import Browser, Page

from core.settings import DEMO_JWT_SECRET
from core.tokens import Role, mint_token
from tests.jobs.conftest import eventually
from tests.jobs.test_demo_flow import count, demo  # noqa: F401  (the running demo, as a fixture)


class TestDemoDone:
    async def test_directory_widget_mailbox_rating_dashboard(
        self,
        demo: tuple[str, Path],  # noqa: F811
        browser: Browser,
        artifacts: Path,
    ) -> None:
        base, mailbox = demo
        # A context of its own, closed at the end: its keep-alive connections would otherwise hold
        # the demo's graceful shutdown until its timeout.
        context = await browser.new_context(viewport={"width": 1024, "height": 900})
        try:
            await self._walk_through(await context.new_page(), base, mailbox, artifacts)
        finally:
            await context.close()

    async def _walk_through(self, page: Page, base: str, mailbox: Path, artifacts: Path) -> None:

        async def ready() -> bool:
            try:
                return (await page.request.get(f"{base}/health/ready")).ok
            except Exception:
                return False

        await eventually(ready, 60)
        await page.goto(f"{base}/mentors?lang=en")
        assert await page.locator(".card").count() == 10  # --per-field 1
        await page.goto(f"{base}/demo/host?lang=en")
        frame = page.frame_locator("#thotis-booking iframe")
        slots = frame.locator("button.slot")
        await slots.first.wait_for()
        await slots.nth(min(await slots.count() - 1, 40)).click()  # a day or so ahead
        await frame.locator("#student-name").fill("Léa Demo")
        await frame.locator("#student-email").fill("lea.demo@example.org")
        await frame.locator("#consent").check()
        await frame.get_by_role("button", name="Book", exact=True).click()
        await frame.get_by_text("You are booked!").wait_for()
        assert "thotis:booking.created" in " ".join(await page.locator("#events li").all_inner_texts())
        # The demo's worker sends them within seconds; the margin is for a machine busy with the
        # other xdist worker's tests.
        await eventually(lambda: count(mailbox, "confirmation") == 2, 45)
        await eventually(lambda: count(mailbox, "feedback_request") == 1, 90)
        listing = await (await page.request.get(f"{base}/admin/mailbox?lang=en")).text()
        key = re.search(r'href="/admin/mailbox/([^"?]+)\?lang=en">[^<]*</a></td>\s*<td>feedback_request', listing)
        assert key is not None
        email = await (await page.request.get(f"{base}/admin/mailbox/{key.group(1)}")).text()
        link = re.search(r"(http://127\.0\.0\.1:\d+/rate/[A-Za-z0-9._-]+)", email)
        assert link is not None
        await page.goto(link.group(1) + "?lang=en")
        await page.locator("label[for=star-5]").click()
        await page.get_by_role("button", name="Send my rating").click()
        await page.get_by_text("Thank you! Your rating has been saved.").wait_for()
        await page.goto(f"{base}/admin/login?lang=en")
        await page.get_by_label("Admin token").fill(mint_token(DEMO_JWT_SECRET, "thotis", role=Role.ADMIN, sub="ops"))
        await page.get_by_role("button", name="Administrator sign-in").click()
        overview = await page.locator(".overview").inner_text()
        assert "1\nsessions completed" in overview and "5.0\naverage rating (1 ratings)" in overview
        await page.screenshot(path=str(artifacts / "demo-admin-1024.png"), full_page=True)
        await page.close()
