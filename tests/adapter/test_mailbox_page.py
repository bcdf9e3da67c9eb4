"""/admin/mailbox: the demo's sent emails, readable in a browser, only from the demo's machine."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from adapter.app import create_app
from adapter.mailbox_server import MailboxServer
from adapter.services import Services
from core.mail import SmtpMailer
from thotis_ext.emails.context import EmailContext
from thotis_ext.emails.kinds import EmailKind, Recipient
from thotis_ext.emails.mime import build_message
from thotis_ext.emails.render import render_email

START = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)


@pytest.fixture
def mailbox(tmp_path: Path) -> Iterator[MailboxServer]:
    server = MailboxServer(tmp_path / "mailbox")
    server.start()
    yield server
    server.stop()


def client_for(services: Services, directory: Path | None, host: str) -> httpx.AsyncClient:
    settings = services.settings.model_copy(update={"mailbox_dir": directory})
    app = create_app(settings, services=dataclasses.replace(services, settings=settings))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(host, 5000)), base_url="http://demo")


@pytest.fixture
async def local(services: Services, mailbox: MailboxServer) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(services, mailbox.directory, "127.0.0.1") as client:
        yield client


async def send_confirmation(mailbox: MailboxServer, student: str = "<b>Zoé</b>") -> None:
    context = EmailContext(
        kind=EmailKind.CONFIRMATION, recipient=Recipient.STUDENT, to_email="zoe@example.org", to_name=student,
        locale="fr", time_zone="Europe/Paris", session_uid="s1", ics_uid="s1@thotis", start=START,
        end=START + timedelta(minutes=15), mentor_name="Camille", student_name=student,
        meet_url="https://meet.google.com/abc-defg-hij",
    )  # fmt: skip
    message = build_message(
        render_email(context, START - timedelta(days=1)),
        sender="Thotis <no-reply@thotis.local>",
        to_email="zoe@example.org",
        to_name=student,
        message_id="<m1@thotis.local>",
        headers={"X-Thotis-Email": "confirmation"},
    )
    async with SmtpMailer(mailbox.url).connection() as connection:
        await connection.send(message)


class TestMailboxPage:
    async def test_lists_sent_emails_and_shows_one_with_its_parts(
        self, local: httpx.AsyncClient, mailbox: MailboxServer
    ) -> None:
        empty = await local.get("/admin/mailbox?lang=en")
        assert empty.status_code == 200 and "Sent emails" in empty.text
        await send_confirmation(mailbox)
        listing = await local.get("/admin/mailbox?lang=fr")
        assert "zoe@example.org" in listing.text and "confirmation" in listing.text
        assert "default-src 'none'" in listing.headers["content-security-policy"]
        link = listing.text.split('href="/admin/mailbox/', 1)[1].split("?", 1)[0]
        page = await local.get(f"/admin/mailbox/{link}")
        assert page.status_code == 200 and "invite.ics" in page.text
        assert "<b>Zoé</b>" not in page.text and "&lt;b&gt;Zoé&lt;/b&gt;" in page.text  # escaped
        html = await local.get(f"/admin/mailbox/{link}/html")
        assert "sandbox" in html.headers["content-security-policy"]
        assert "cid:" not in html.text and f"/admin/mailbox/{link}/parts/" in html.text
        calendar = next(
            part for part in page.text.split('href="')[1:] if "invite.ics" in part.split("</a>", 1)[0]
        ).split('"', 1)[0]
        ics = await local.get(calendar)
        assert ics.status_code == 200 and ics.headers["content-type"].startswith("text/calendar")
        assert b"meet.google.com/abc-defg-hij" in ics.content

    async def test_unknown_or_malformed_keys_are_404(self, local: httpx.AsyncClient) -> None:
        for key in ("nope", "...", "a" * 300, "x%00y"):
            response = await local.get(f"/admin/mailbox/{key}")
            assert response.status_code == 404 and response.json()["error"]["code"] == "EMAIL_NOT_FOUND", key
        traversal = await local.get("/admin/mailbox/..%2F..%2Fetc%2Fpasswd")
        assert traversal.status_code == 404

    async def test_only_the_demo_machine_may_read_it(self, services: Services, mailbox: MailboxServer) -> None:
        async with client_for(services, mailbox.directory, "203.0.113.9") as remote:
            response = await remote.get("/admin/mailbox")
        assert response.status_code == 403 and response.json()["error"]["code"] == "LOOPBACK_ONLY"

    async def test_absent_outside_the_demo(self, services: Services) -> None:
        async with client_for(services, None, "127.0.0.1") as client:
            assert (await client.get("/admin/mailbox")).status_code == 404
