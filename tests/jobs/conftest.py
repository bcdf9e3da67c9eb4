"""Fixtures of the job tests: a real local SMTP server (aiosmtpd) and the jobs' dependencies."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any

import httpx
import pytest

from adapter.jobs_wiring import job_deps
from adapter.services import Services
from calcom_client.simulator import CalcomSimulator
from core.local_servers import free_port
from core.mail import SmtpMailer
from jobs.deps import JobDeps
from tests.adapter.conftest import NOW, simulator  # noqa: F401  (the simulator fixture, shared)

__all__ = ["NOW"]


async def eventually(check: Callable[[], bool | Awaitable[bool]], seconds: float = 15.0) -> None:
    """Wait until `check` holds (polling), or fail after `seconds`."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        result = check()
        if await result if inspect.isawaitable(result) else result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {seconds} s")
        await asyncio.sleep(0.05)


@dataclass
class Inbox:
    """What the SMTP server received; set `reply` to make it refuse (e.g. "451 try later")."""

    messages: list[EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)
    reply: str | None = None
    delay: float = 0.0  # seconds before accepting each message (a slow server)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802  (aiosmtpd's hook name)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.reply is not None:
            return self.reply
        parsed = message_from_bytes(envelope.content, policy=default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m, rcpt in zip(self.messages, self.recipients, strict=True) if address in rcpt]

    def clear(self) -> None:
        self.messages.clear()
        self.recipients.clear()
        self.reply = None
        self.delay = 0.0


@dataclass
class SmtpServer:
    inbox: Inbox
    url: str


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpServer]:
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield SmtpServer(inbox, f"smtp://127.0.0.1:{port}")
    controller.stop()


@pytest.fixture
def inbox(smtp_server: SmtpServer) -> Iterator[Inbox]:
    smtp_server.inbox.clear()
    yield smtp_server.inbox
    smtp_server.inbox.clear()


@pytest.fixture
async def deps(
    services: Services,
    simulator: CalcomSimulator,  # noqa: F811  (the fixture imported above)
    smtp_server: SmtpServer,
    inbox: Inbox,
) -> AsyncIterator[JobDeps]:
    """The jobs' dependencies on the test services (clock pinned at NOW with the simulator's),
    sending to the local SMTP server."""
    async with httpx.AsyncClient() as http:
        built = job_deps(services, http)
        built.mailer = SmtpMailer(smtp_server.url)
        yield built
