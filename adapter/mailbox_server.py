"""The demo's local mail server: an aiosmtpd SMTP server that keeps every email in a Maildir.

`thotis demo` points THOTIS_SMTP_URL at it, so emails take the same SMTP path as in production
and can be read at /admin/mailbox. aiosmtpd comes with the `embedded` dependency group.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.local_servers import free_port


class MailboxServer:
    """An SMTP server on loopback that stores what it receives in `directory` (a Maildir)."""

    def __init__(self, directory: Path, *, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.directory = directory
        self.host = host
        self.port = port or free_port(host)
        self._controller: Any = None

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def start(self) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.handlers import Mailbox

        for sub in ("tmp", "new", "cur"):  # a Maildir, even before the first email
            (self.directory / sub).mkdir(parents=True, exist_ok=True)
        self._controller = Controller(Mailbox(self.directory), hostname=self.host, port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
