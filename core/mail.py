"""Sending email over SMTP (aiosmtplib): one connection per batch, errors sorted into retry or give up.

`THOTIS_SMTP_URL` is `smtp://user:password@host:port` (STARTTLS when the server offers it;
`?starttls=require` insists, `?starttls=off` never tries) or `smtps://…` for implicit TLS.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from core.errors import ConfigurationError


class PermanentMailError(Exception):
    """The server refused this message or its recipient for good (5xx): retrying will not help."""


class TransientMailError(Exception):
    """The server is unreachable or failed for now: try again later."""


@dataclass(frozen=True, slots=True)
class SmtpTarget:
    """Where and how to connect, parsed from `THOTIS_SMTP_URL`."""

    host: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool
    start_tls: bool | None  # None: when offered

    @classmethod
    def parse(cls, url: str) -> SmtpTarget:
        """Raises:
        ConfigurationError: not an smtp:// or smtps:// URL with a host.
        """
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ConfigurationError("THOTIS_SMTP_URL must look like smtp://user:password@host:port")
        mode = parse_qs(parts.query).get("starttls", [""])[0].lower()
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if parts.scheme == "smtps" else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=parts.scheme == "smtps",
            start_tls=True if mode == "require" else False if mode in ("off", "false", "0") else None,
        )


class MailConnection:
    """An open SMTP session: send messages one by one, each accepted or refused on its own."""

    def __init__(self, client: aiosmtplib.SMTP) -> None:
        self._client = client

    async def send(self, message: EmailMessage) -> None:
        """Raises:
        PermanentMailError: refused with a 5xx (recipient or message);
        TransientMailError: anything else that kept it from being accepted.
        """
        try:
            await self._client.send_message(message)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [error.code for error in exc.recipients]
            if codes and all(500 <= code < 600 for code in codes):
                raise PermanentMailError(f"recipient refused: {exc.recipients[0].message}") from exc
            raise TransientMailError(str(exc)) from exc
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600:
                raise PermanentMailError(f"{exc.code} {exc.message}") from exc
            raise TransientMailError(f"{exc.code} {exc.message}") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise TransientMailError(str(exc) or type(exc).__name__) from exc


class SmtpMailer:
    """Opens SMTP connections to one server."""

    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        self.target = SmtpTarget.parse(url)
        self.timeout = timeout

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[MailConnection]:
        """Raises:
        TransientMailError: the server cannot be reached or refuses the login.
        """
        target = self.target
        client = aiosmtplib.SMTP(
            hostname=target.host,
            port=target.port,
            username=target.username,
            password=target.password,
            use_tls=target.use_tls,
            start_tls=target.start_tls,
            timeout=self.timeout,
        )
        try:
            await client.connect()
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise TransientMailError(f"cannot reach the SMTP server: {exc}") from exc
        try:
            yield MailConnection(client)
        finally:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                client.close()
