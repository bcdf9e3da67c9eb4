"""The booking widget in a real Chromium, embedded by a host page on another origin (R9, R15):
prefill, slots, booking against the Cal.com simulator, and the postMessage events — sent to the
configured Thotis origins only (properties 25, 26)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from litestar import Litestar, MediaType, get
from playwright.async_api import Browser

from adapter.app import create_app
from adapter.services import Services
from calcom_client.simulator import CalcomSimulator
from core.local_servers import free_port
from tests.adapter.helpers import SERVICE
from tests.adapter.test_availability import linked_mentor
from tests.browser.test_rate_page import serious_violations
from tests.jobs.conftest import eventually


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[int]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started, 10)
    try:
        yield port
    finally:
        server.should_exit = True
        await task


def host_app(sidecar: str) -> Litestar:
    """A Thotis-like website page that embeds the widget with the documented snippet."""

    @get("/", media_type=MediaType.HTML)
    async def home() -> str:
        return f"""<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Host</title></head><body>
<h1>Thotis</h1>
<div id="widget" data-thotis-mentor="m1" data-name="Léa &quot;Zoé&quot; &lt;b&gt;" data-email="lea@example.org"
     data-language="fr" data-time-zone="Europe/Paris"></div>
<script>
window.received = [];
window.addEventListener("message", function (e) {{ window.received.push({{origin: e.origin, data: e.data}}); }});
document.getElementById("widget").addEventListener("thotis:booking.created",
  function (e) {{ window.created = e.detail; }});
</script>
<script src="{sidecar}/embed.js"></script>
</body></html>"""

    return Litestar([home])


@asynccontextmanager
async def widget_site(services: Services, host_origins: Callable[[int], list[str]]) -> AsyncIterator[tuple[str, str]]:
    """The sidecar (allowing the given origins) and a host page on another origin."""
    host_port = free_port()
    settings = services.settings.model_copy(update={"allowed_origins": host_origins(host_port)})
    app = create_app(settings, services=dataclasses.replace(services, settings=settings))
    async with serving(app) as sidecar_port:
        sidecar = f"http://127.0.0.1:{sidecar_port}"
        host = host_app(sidecar)
        server = uvicorn.Server(uvicorn.Config(host, host="127.0.0.1", port=host_port, log_level="warning"))
        task = asyncio.create_task(server.serve())
        await eventually(lambda: server.started, 10)
        try:
            yield sidecar, f"http://localhost:{host_port}"
        finally:
            server.should_exit = True
            await task


class TestWidgetInBrowser:
    async def test_a_student_books_from_the_host_page_and_the_host_is_told(
        self,
        api: httpx.AsyncClient,
        services: Services,
        simulator: CalcomSimulator,
        browser: Browser,
        artifacts: Path,
    ) -> None:
        await linked_mentor(api, simulator)
        async with widget_site(services, lambda port: [f"http://localhost:{port}"]) as (sidecar, host):
            page = await browser.new_page(viewport={"width": 768, "height": 1000})
            await page.goto(host)
            frame = page.frame_locator("#widget iframe")
            await frame.locator("button.slot").first.wait_for()
            assert await frame.locator("#student-name").input_value() == 'Léa "Zoé" <b>'  # prefilled, as text
            assert await frame.locator("#time-zone").input_value() == "Europe/Paris"
            await page.screenshot(path=str(artifacts / "widget-host-768.png"), full_page=True)
            await frame.locator("button.slot").first.click()
            await frame.locator("#consent").check()
            await frame.get_by_role("button", name="Réserver", exact=True).click()
            await frame.get_by_text("C'est réservé !").wait_for()
            created = await page.evaluate("window.created")
            assert created["uid"] and created["meetUrl"].startswith("https://meet.google.com/")
            received = await page.evaluate("window.received")
            types = [m["data"]["type"] for m in received]
            assert {"thotis:widget.ready", "thotis:widget.resize", "thotis:booking.created"} <= set(types)
            assert {m["origin"] for m in received} == {sidecar}
            height = await page.evaluate("document.querySelector('#widget iframe').style.height")
            assert height.endswith("px") and int(height[:-2]) > 300  # sized by the widget's resize events
            content = await frame.locator("body").evaluate("b => Math.ceil(b.getBoundingClientRect().height)")
            assert abs(int(height[:-2]) - content) <= 2  # and shrunk to the confirmation, not left tall
            await page.screenshot(path=str(artifacts / "widget-booked-768.png"), full_page=True)
            await page.close()
        booking = (await api.get(f"/api/v2/bookings/{created['uid']}", headers=SERVICE)).json()["data"]
        assert booking["prospectiveStudent"]["name"] == 'Léa "Zoé" <b>'
        assert booking["prospectiveStudent"]["timeZone"] == "Europe/Paris"

    async def test_property_25_a_host_that_is_not_configured_gets_nothing(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator, browser: Browser
    ) -> None:
        await linked_mentor(api, simulator)
        async with widget_site(services, lambda port: ["https://thotis.example"]) as (_, host):
            page = await browser.new_page()
            await page.goto(host)
            await asyncio.sleep(1.5)  # time for the widget to load and talk, had it been allowed to
            assert await page.evaluate("window.received") == []
            await page.close()

    async def test_the_widget_page_itself_passes_axe_at_phone_width(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator, browser: Browser,
        artifacts: Path,
    ) -> None:  # fmt: skip
        await linked_mentor(api, simulator)
        async with widget_site(services, lambda port: [f"http://localhost:{port}"]) as (sidecar, _):
            page = await browser.new_page(viewport={"width": 320, "height": 900})
            await page.goto(f"{sidecar}/widget/m1?language=en&name=Sam")
            await page.locator("button.slot").first.wait_for()
            await page.screenshot(path=str(artifacts / "widget-320.png"), full_page=True)
            assert await serious_violations(page) == []
            assert await page.evaluate("document.documentElement.scrollWidth") <= 320
            await page.close()
