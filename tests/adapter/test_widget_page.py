"""/widget/{mentorId} and /embed.js over HTTP (R9): the page, its token, prefill escaping, CSP."""

from __future__ import annotations

import dataclasses
import json
import re

import httpx
import markupsafe
from hypothesis import given
from hypothesis import strategies as st

from adapter.app import create_app
from adapter.auth import Role
from adapter.services import Services
from core.settings import Environment
from tests.adapter.helpers import ADMIN, create_profile
from tests.factories import valid_body


def widget_data(html: str) -> dict[str, object]:
    found = re.search(r'<script type="application/json" id="widget-data">(.*?)</script>', html, re.S)
    assert found is not None
    data: dict[str, object] = json.loads(found.group(1))
    return data


class TestWidgetPage:
    async def test_renders_the_card_and_a_short_lived_widget_token_for_that_mentor(
        self, api: httpx.AsyncClient, services: Services
    ) -> None:
        await create_profile(api, "m1", valid_body())
        page = await api.get("/widget/m1?language=en")
        assert page.status_code == 200 and "Camille Martin" in page.text and "Book a session" in page.text
        data = widget_data(page.text)
        principal = await services.verifier.verify(str(data["token"]))
        assert principal.role is Role.WIDGET and principal.sub == "m1"
        assert data["origins"] == services.settings.allowed_origins and data["locale"] == "en"
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
        assert "frame-ancestors " + " ".join(services.settings.allowed_origins) in csp
        assert re.search(r'<script src="/static/widget\.[0-9a-f]{12}\.js" defer></script>', page.text)
        assert "<script>" not in page.text  # no inline script

    async def test_prefill_from_the_url_is_escaped(self, api: httpx.AsyncClient) -> None:
        await create_profile(api, "m1", valid_body())
        hostile = '"><script>alert(1)</script>'
        page = await api.get("/widget/m1", params={"name": hostile, "email": "a@b.c", "timeZone": "</script><b>"})
        assert (
            "<script>alert(1)" not in page.text
            and 'value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in page.text
        )
        assert "</script><b>" not in page.text.split('id="widget-data">', 1)[1].split("</script>", 1)[0]
        assert widget_data(page.text)["timeZone"] == "</script><b>"  # kept as data, not markup

    async def test_unknown_or_hidden_mentors_get_a_plain_404_page(self, api: httpx.AsyncClient) -> None:
        await create_profile(api, "m1", valid_body())
        hidden = await api.patch("/api/v2/students/m1/status", json={"isActive": False}, headers=ADMIN)
        assert hidden.status_code == 200, hidden.text
        for mentor in ("m1", "nobody", "bad%20id"):
            page = await api.get(f"/widget/{mentor}?language=en")
            assert page.status_code == 404 and "not available" in page.text and "widget-data" not in page.text

    async def test_demo_host_page_only_in_the_demo(self, api: httpx.AsyncClient, services: Services) -> None:
        assert (await api.get("/demo/host")).status_code == 404  # THOTIS_ENV=test
        settings = services.settings.model_copy(update={"env": Environment.DEMO})
        app = create_app(settings, services=dataclasses.replace(services, settings=settings))
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://demo") as demo:
            page = await demo.get("/demo/host?mentor=<x>&lang=en")
        assert page.status_code == 200 and "Demo host page" in page.text
        assert 'data-thotis-mentor="&lt;x&gt;"' in page.text and '<script src="/embed.js" defer>' in page.text
        assert "frame-src 'self'" in page.headers["content-security-policy"]

    async def test_embed_script_is_served_for_host_pages(self, api: httpx.AsyncClient) -> None:
        script = await api.get("/embed.js")
        assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
        assert "data-thotis-mentor" in script.text and "postMessage" not in script.text  # it only listens


origin_lists = st.lists(
    st.from_regex(r"https://[a-z]{1,12}\.(fr|com|org)(:[1-9][0-9]{2,3})?", fullmatch=True),
    min_size=1,
    max_size=4,
    unique=True,
)
prefill_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=60)


class TestWidgetProperties:
    @given(origins=origin_lists)
    async def test_property_25_events_go_to_the_configured_origins_only(
        self, api: httpx.AsyncClient, services: Services, origins: list[str]
    ) -> None:
        """The page hands widget.js exactly the configured origins, CSP frames it only there, and
        widget.js addresses every postMessage to one of them (never "*"); the browser tests show
        the messages arriving at a configured host and nothing at another."""
        if (await api.get("/widget/m1")).status_code == 404:
            await create_profile(api, "m1", valid_body())
        configured = services.settings
        services.settings = configured.model_copy(update={"allowed_origins": origins})  # read per request
        try:
            page = await api.get("/widget/m1")
        finally:
            services.settings = configured
        assert widget_data(page.text)["origins"] == origins
        assert page.headers["content-security-policy"].split("frame-ancestors ", 1)[1].split(";")[0] == " ".join(
            origins
        )
        script = await client_script(api, page.text)
        assert re.findall(r"postMessage\(([^)]*)\)", script) == ["message, origin"]

    @given(name=prefill_text, email=prefill_text, language=st.sampled_from(["fr", "en", "de", "<b>", ""]))
    async def test_property_26_url_parameters_prefill_the_form_safely(
        self, api: httpx.AsyncClient, services: Services, name: str, email: str, language: str
    ) -> None:
        if (await api.get("/widget/m1")).status_code == 404:
            await create_profile(api, "m1", valid_body())
        page = await api.get("/widget/m1", params={"name": name, "email": email, "language": language})
        assert page.status_code == 200
        form = page.text.split('id="booking-form"', 1)[1].split("</form>", 1)[0]
        assert f'value="{markupsafe.escape((name.strip() and name[:200]) or name)}"' in form or name == ""
        assert f'value="{markupsafe.escape(email[:200])}"' in form
        assert "<script" not in form and "<b>" not in form
        assert f'<html lang="{"en" if language == "en" else "fr"}">' in page.text


async def client_script(client: httpx.AsyncClient, html: str) -> str:
    found = re.search(r'<script src="(/static/widget\.[0-9a-f]{12}\.js)"', html)
    assert found is not None
    return (await client.get(found.group(1))).text
