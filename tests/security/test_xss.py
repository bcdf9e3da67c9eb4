"""Cross-site scripting: hostile text in every field a page shows, on every page.

Each payload goes into every stored text that pages render (mentor name, university, degree,
bio, students' names and questions, rating comments, webhook URLs) and every reflected input
(directory filters, widget prefill, the language, paths, form values shown again). Each page is
then parsed: it must have exactly the elements and attributes it has with harmless text, no
event-handler attribute and no `javascript:` link anywhere, and it must send its CSP.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from urllib.parse import quote

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from adapter.auth import Role
from adapter.mailbox_server import MailboxServer
from adapter.services import Services
from core.settings import DEMO_JWT_SECRET
from core.tokens import rating_token
from tests.adapter.helpers import ADMIN, SERVICE, auth, token
from tests.adapter.test_mailbox_page import local, mailbox, send_confirmation  # noqa: F401  (fixtures)
from tests.conftest import reset
from tests.factories import insert_sessions, valid_body

PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'><svg onload=alert(1)>",
    "javascript:alert(document.cookie)",
    "</title><script>alert(1)</script>",
    "</textarea><script>alert(1)</script>",
    "{{7*7}} {% print 7*7 %} ${7*7} #{7*7}",
    "＜script＞alert(1)＜/script＞ ‹img src=x onerror=alert(1)›",
    "&lt;script&gt;alert(1)&lt;/script&gt; &#x3C;b&#x3E;",
    "<!-- ]]> <![CDATA[ <a href='javascript:alert(1)'>x</a>",
    '" autofocus onfocus=alert(1) x="',
    "<iframe srcdoc='<script>alert(1)</script>'></iframe><style>*{}</style>",
]
BENIGN = "Camille Martin"
#: Pieces that hypothesis combines into reflected values.
FRAGMENTS = ["<", ">", '"', "'", "&", "`", "=", "/", "script", "onerror", "javascript:", "{{", "}}", " ", "\u2028",
             "\u202e", "é", "<img src=x onerror=alert(1)>"]  # fmt: skip
#: Tags and attributes of our own pages that load something: each must point at our own assets.
SCRIPT_SOURCES = re.compile(r"^/static/[\w.-]+\.js$")
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "srcdoc", "data", "poster"}


class Scan(HTMLParser):
    """Every element, attribute and text of a page."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, tuple[str, ...]]] = []
        self.attributes: list[tuple[str, str, str]] = []
        self.texts: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, tuple(sorted(name for name, _ in attrs))))
        self.attributes.extend((tag, name, value or "") for name, value in attrs)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.texts.append(data)

    def shown(self) -> str:
        """What a reader sees or edits: texts and attribute values, entities decoded."""
        return "\n".join(self.texts + [value for _, _, value in self.attributes])


def assert_inert(response: httpx.Response, payload: str, baseline: httpx.Response | None = None) -> Scan:
    """The page has no injected element, attribute, handler, script or `javascript:` link."""
    assert response.status_code < 500, response.text[:500]
    assert response.headers["x-content-type-options"] == "nosniff"
    if response.headers["content-type"].startswith("application/json"):
        # Not a page (a route that does not exist): an error envelope, never sniffed as HTML.
        assert response.json()["status"] == "error"
        return Scan("")
    assert response.headers["content-type"].startswith("text/html")
    directives = dict(
        [*part.strip().split(" ", 1), ""][:2] for part in response.headers["content-security-policy"].split(";")
    )
    assert directives["default-src"] == "'none'", directives
    scripts = directives.get("script-src", directives["default-src"])
    assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts and "*" not in scripts, directives
    scan = Scan(response.text)
    for tag, name, value in scan.attributes:
        assert not name.startswith("on"), (tag, name, value)
        if name in URL_ATTRIBUTES:
            lowered = re.sub(r"[\s\x00-\x1f]", "", value).lower()
            assert not lowered.startswith(("javascript:", "vbscript:", "data:text")), (tag, name, value)
    for tag, attrs in scan.elements:
        assert tag not in {"object", "embed", "base", "frame"}, (tag, attrs)
        if tag == "iframe":  # only the demo mailbox frames an email, sandboxed, by URL
            assert "sandbox" in attrs and "srcdoc" not in attrs, attrs
        if tag == "script":
            sources = [v for t, n, v in scan.attributes if t == "script" and n in ("src", "type")]
            assert sources and all(SCRIPT_SOURCES.match(v) or v == "application/json" for v in sources), sources
    if baseline is not None:
        assert scan.elements == Scan(baseline.text).elements, "the payload changed the page's structure"
    if "script" in payload.lower() and "<" in payload:
        # The literal markup never reaches the page unescaped (inside the JSON island it is \u003c).
        assert payload not in response.text
    return scan


def bio(value: str) -> str:
    return (value + " — je réponds à vos questions sur la vie étudiante et les études.")[:1000]


class World:
    """Everything pages show, written with one string in every free-text field."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.upcoming = ""
        self.to_rate = ""
        self.rated = ""
        self.endpoint = ""


async def populate(api: httpx.AsyncClient, services: Services, value: str) -> World:
    await reset(services)
    world = World(value)
    body = valid_body(name=value, university=value, degree=value, bio=bio(value))
    created = await api.post("/api/v2/students/m1/profile", json=body, headers=auth(Role.MENTOR, "m1"))
    assert created.status_code == 201, created.text
    now = datetime.now(UTC)
    world.upcoming, world.to_rate, world.rated = await insert_sessions(
        services.database.engine,
        "m1",
        [(now + timedelta(days=3), "scheduled"), (now - timedelta(hours=3), "completed"),
         (now - timedelta(hours=5), "completed")],
    )  # fmt: skip
    async with services.database.engine.begin() as connection:
        await connection.execute(
            text(
                "UPDATE thotis.sessions SET student_name = :value, student_question = :question,"
                " meet_url = 'javascript:alert(document.cookie)' WHERE mentor_id = 'm1'"
            ),
            {"value": value, "question": value},
        )
    rated = await api.post(
        f"/api/v2/bookings/{world.rated}/rating", json={"rating": 1, "feedback": value[:500]}, headers=SERVICE
    )
    assert rated.status_code == 201, rated.text
    hook = await api.post(
        "/api/v2/webhooks",
        json={"url": "http://127.0.0.1:9/hook?x=" + quote(value), "description": value},
        headers=ADMIN,
    )
    assert hook.status_code == 201, hook.text
    world.endpoint = hook.json()["data"]["id"]
    return world


async def sign_in(api: httpx.AsyncClient, role: Role, subject: str) -> None:
    area = "admin" if role is Role.ADMIN else "mentor"
    response = await api.post(f"/{area}/login", data={"token": token(role, subject)})
    assert response.status_code == 303, response.text


async def pages(api: httpx.AsyncClient, world: World) -> dict[str, httpx.Response]:
    """Every page, with `world.value` also in every reflected input."""
    v = quote(world.value, safe="")
    got = {
        "directory": await api.get("/mentors?lang=en"),
        "directory filtered": await api.get(f"/mentors?q={v}&field={v}&university={v}&page={v}&lang={v}"),
        "widget": await api.get(f"/widget/m1?name={v}&email={v}&timeZone={v}&language={v}"),
        "widget of an unknown mentor": await api.get(f"/widget/{v}?lang=en"),
        "rating form": await api.get(f"/rate/{rating_token(DEMO_JWT_SECRET, 'thotis', world.to_rate)}"),
        "rating already given": await api.get(f"/rate/{rating_token(DEMO_JWT_SECRET, 'thotis', world.rated)}"),
        "rating with a forged token": await api.get(f"/rate/{v}"),
        "rating form shown again": await api.post(
            f"/rate/{rating_token(DEMO_JWT_SECRET, 'thotis', world.to_rate)}",
            data={"rating": world.value, "feedback": world.value},
        ),
    }
    api.cookies.clear()
    got["admin sign-in refused"] = await api.post(f"/admin/login?lang={v}", data={"token": world.value})
    await sign_in(api, Role.ADMIN, "admin-1")
    got["admin"] = await api.get(f"/admin?sort={v}&order={v}&granularity={v}&lang=en")
    got["admin deliveries"] = await api.get(f"/admin/webhooks/{world.endpoint}")
    got["admin deliveries of an unknown endpoint"] = await api.get(f"/admin/webhooks/{v}")
    api.cookies.clear()
    got["mentor sign-in refused"] = await api.post(f"/mentor/login?lang={v}", data={"token": world.value})
    await sign_in(api, Role.MENTOR, "m1")
    got["mentor"] = await api.get("/mentor?lang=en")
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', got["mentor"].text)
    assert found is not None
    fields = ("name", "email", "locale", "university", "degree", "field", "currentYear", "bio", "linkedInUrl")
    form = {"csrf": found.group(1), **dict.fromkeys(fields, world.value), "bio": bio(world.value)}
    got["mentor form shown again"] = await api.post("/mentor/profile?lang=en", data=form)
    api.cookies.clear()
    return got


@pytest.fixture
async def clean_cookies(api: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    yield api
    api.cookies.clear()


class TestStoredAndReflectedXss:
    @pytest.mark.parametrize("payload", PAYLOADS)
    async def test_every_page_shows_hostile_text_as_text(
        self, clean_cookies: httpx.AsyncClient, services: Services, payload: str
    ) -> None:
        api = clean_cookies
        baseline = await pages(api, await populate(api, services, BENIGN))
        hostile = await pages(api, await populate(api, services, payload))
        assert set(hostile) == set(baseline)
        for name, response in hostile.items():
            same = response.status_code == baseline[name].status_code
            # A "/" in a path segment reaches no page at all: a JSON 404 instead of the page's own answer.
            assert same or response.status_code == 404, (name, response.status_code)
            try:
                assert_inert(response, payload, baseline[name] if same else None)
            except AssertionError as exc:
                raise AssertionError(f"{name}: {exc}") from exc
        # The stored payload was rendered (escaped), not dropped: readers see it as they typed it.
        for name in ("directory", "widget", "admin", "mentor", "rating form", "mentor form shown again"):
            assert payload in Scan(hostile[name].text).shown(), name

    async def test_a_javascript_meet_link_is_never_a_link(
        self, clean_cookies: httpx.AsyncClient, services: Services
    ) -> None:
        """A Meet URL comes from Cal.com; a `javascript:` one is stored but never linked."""
        api = clean_cookies
        await populate(api, services, BENIGN)
        await sign_in(api, Role.MENTOR, "m1")
        page = await api.get("/mentor?lang=en")
        assert page.status_code == 200
        assert BENIGN in page.text  # the session is listed
        assert not [v for t, n, v in Scan(page.text).attributes if n == "href" and "javascript" in v.lower()]


class TestDemoMailbox:
    @pytest.mark.parametrize("payload", PAYLOADS[:6])
    async def test_a_hostile_student_name_in_a_sent_email_stays_text(
        self,
        local: httpx.AsyncClient,  # noqa: F811
        mailbox: MailboxServer,  # noqa: F811
        payload: str,
    ) -> None:
        """/admin/mailbox (demo only) lists and shows stored emails, whose recipients and contents
        came from students."""
        await send_confirmation(mailbox, payload)
        listing = await local.get("/admin/mailbox?lang=en")
        assert_inert(listing, payload)
        key = listing.text.split('href="/admin/mailbox/', 1)[1].split("?", 1)[0].split('"', 1)[0]
        shown = await local.get(f"/admin/mailbox/{key}")
        assert payload in assert_inert(shown, payload).shown()
        rendered = await local.get(f"/admin/mailbox/{key}/html")
        assert "sandbox" in rendered.headers["content-security-policy"]
        email = Scan(rendered.text)
        assert not [e for e in email.elements if e[0] in ("script", "iframe", "object", "embed", "svg")]
        assert not [a for a in email.attributes if a[1].startswith("on") or "javascript:" in a[2].lower()]
        if "<" in payload:
            assert payload not in rendered.text


class TestReflectedInputs:
    @given(
        value=st.lists(
            st.sampled_from(
                [
                    "<",
                    ">",
                    '"',
                    "'",
                    "&",
                    "`",
                    "=",
                    "/",
                    "script",
                    "onerror",
                    "javascript:",
                    "{{",
                    "}}",
                    " ",
                    "\u2028",
                    "\u202e",
                    "é",
                    "<img src=x onerror=alert(1)>",
                ]
            ),
            min_size=1,
            max_size=12,
        ).map("".join)
    )
    async def test_property_reflected_query_values_stay_inert(
        self, session_client: httpx.AsyncClient, value: str
    ) -> None:
        """Directory filters and widget prefill reflect what the URL says: always as text."""
        v = quote(value, safe="")
        for url in (
            f"/mentors?q={v}&field={v}&university={v}&available={v}&page={v}&lang={v}",
            f"/widget/{v}?name={v}&email={v}&timeZone={v}&language={v}",
        ):
            response = await session_client.get(url)
            assert response.status_code in (200, 404), (url, response.status_code)
            assert_inert(response, value)
