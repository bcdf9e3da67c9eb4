"""/mentors: the public directory (R4, R18) over HTTP — filters, count, pages, empty state, escaping."""

from __future__ import annotations

import re

import httpx

from tests.adapter.helpers import create_profile
from tests.factories import valid_body


def names(html: str) -> list[str]:
    return re.findall(r"<h2>(.*?)</h2>", html)


async def mentors(api: httpx.AsyncClient, count: int, **fields: str) -> None:
    for index in range(count):
        await create_profile(api, f"m{index:02d}", valid_body(name=f"Mentor {index:02d}", **fields))


class TestDirectory:
    async def test_lists_cards_with_count_and_links_to_the_widget(self, api: httpx.AsyncClient) -> None:
        await mentors(api, 3)
        page = await api.get("/mentors?lang=en")
        assert page.status_code == 200 and "3 mentor(s)" in page.text
        assert names(page.text) == ["Mentor 00", "Mentor 01", "Mentor 02"]
        assert 'href="/widget/m00?language=en"' in page.text
        assert "Sorbonne Université" in page.text and "Law" in page.text
        assert "default-src 'none'" in page.headers["content-security-policy"]

    async def test_filters_combine_and_keep_their_values(self, api: httpx.AsyncClient) -> None:
        await mentors(api, 2)
        await create_profile(
            api, "cs1", valid_body(name="Ada", field="COMPUTER_SCIENCE", university="Université de Lyon")
        )
        page = await api.get("/mentors", params={"field": "computer_science", "university": "Université de Lyon"})
        assert names(page.text) == ["Ada"] and '<option value="COMPUTER_SCIENCE" selected>' in page.text
        none = await api.get("/mentors", params={"field": "LAW", "university": "Université de Lyon", "lang": "en"})
        assert names(none.text) == [] and "No mentor matches these filters." in none.text
        assert 'href="/mentors?lang=en"' in none.text  # the way back
        available = await api.get("/mentors", params={"available": "1"})
        assert names(available.text) == []  # nobody is linked to Cal.com here: no free slot

    async def test_pages_of_twelve_with_previous_and_next(self, api: httpx.AsyncClient) -> None:
        await mentors(api, 14)
        first = await api.get("/mentors?lang=en")
        assert len(names(first.text)) == 12 and "Page 1 of 2" in first.text and 'rel="prev"' not in first.text
        second_url = re.search(r'href="([^"]+)" rel="next"', first.text)
        assert second_url is not None
        second = await api.get(second_url.group(1).replace("&amp;", "&"))
        assert len(names(second.text)) == 2 and "Page 2 of 2" in second.text and 'rel="next"' not in second.text

    async def test_odd_parameters_are_ignored_not_errors(self, api: httpx.AsyncClient) -> None:
        await mentors(api, 1)
        for query in ("field=ASTROLOGY", "page=-4", "page=abc", "q=%00", "available=maybe", "page=99999999"):
            page = await api.get(f"/mentors?{query}")
            assert page.status_code == 200, query

    async def test_user_text_shows_as_text(self, api: httpx.AsyncClient) -> None:
        hostile = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
        await create_profile(api, "x1", valid_body(name="Zoé <b>", bio=hostile + " " + "b" * 60))
        page = await api.get("/mentors", params={"q": hostile})
        assert "<script>alert(1)" not in page.text and "onerror=alert(2)>" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text and "Zoé &lt;b&gt;" in page.text

    async def test_french_by_default_and_a_link_to_english(self, api: httpx.AsyncClient) -> None:
        await mentors(api, 1)
        page = await api.get("/mentors")
        assert '<html lang="fr">' in page.text and "Nos mentors" in page.text and "Droit" in page.text
        assert 'href="/mentors?lang=en"' in page.text
