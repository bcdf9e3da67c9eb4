"""The deferred-job queue: domain code asks for a job by name; it is sent after the commit.

Jobs here are nudges, never the only record of work: what a job does (an email to send, a
delivery to make) is a row written in the same transaction, and a scheduled sweep finds any row
whose nudge was lost. So sending is best effort: a process without a sender (a test, a CLI
tool) or a broker that is down loses nothing but a little latency.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from core.database import after_commit

log = logging.getLogger(__name__)


class JobSender(Protocol):
    """Something that hands a job (task name and keyword arguments) to the workers."""

    async def send(self, name: str, kwargs: Mapping[str, Any]) -> None: ...


_sender: JobSender | None = None


def install_sender(sender: JobSender | None) -> None:
    """Set (or clear, with None) the process's sender; called once by the process's start-up."""
    global _sender
    _sender = sender


def defer(session: AsyncSession, name: str, **kwargs: str | int) -> None:
    """Send job `name` once `session` commits; twice the same request before a commit sends once."""
    if _sender is None:
        return
    sender = _sender

    async def send() -> None:
        try:
            await sender.send(name, kwargs)
        except Exception as exc:  # a lost nudge only delays the work until the next sweep
            log.warning("could not send job %s: %s", name, exc)

    after_commit(session, send, key=("job", name, tuple(sorted(kwargs.items()))))
