"""The deferred-job queue: domain code asks for a job by name; it is sent after the commit.

Jobs here are nudges, never the only record of work: what a job does (an email to send, a
delivery to make) is a row written in the same transaction, and a scheduled sweep finds any row
whose nudge was lost. So sending is best effort: a process without a sender (a test, a CLI
tool) or a broker that is down loses nothing but a little latency.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from core.database import after_commit, pending_after_commit

log = logging.getLogger(__name__)


class JobSender(Protocol):
    """Something that hands a job (task name and keyword arguments) to the workers."""

    async def send(self, name: str, kwargs: Mapping[str, Any]) -> None: ...


_sender: JobSender | None = None


def install_sender(sender: JobSender | None) -> None:
    """Set (or clear, with None) the process's sender; called once by the process's start-up."""
    global _sender
    _sender = sender


def defer_batched(session: AsyncSession, name: str, argument: str, item: str | int) -> None:
    """Send job `name` once `session` commits, with every `item` deferred before the commit
    gathered in the list argument `argument` (one message for the emails of one change)."""
    if _sender is None:
        return
    batch = pending_after_commit(session, ("jobs", name))
    if not isinstance(batch, _Batch):
        batch = _Batch(_sender, name, argument)
        after_commit(session, batch, key=("jobs", name))
    if item not in batch.items:
        batch.items.append(item)


class _Batch:
    """The after-commit callback of a batched job: the items gathered so far, sent as one job."""

    def __init__(self, sender: JobSender, name: str, argument: str) -> None:
        self.items: list[str | int] = []
        self._send = _sending(sender, name, {argument: self.items})

    async def __call__(self) -> None:
        await self._send()


def _sending(sender: JobSender, name: str, kwargs: Mapping[str, Any]) -> Callable[[], Awaitable[None]]:
    async def send() -> None:
        # In the background: the request that asked has committed and need not wait for Redis.
        task = asyncio.get_running_loop().create_task(_send(sender, name, kwargs))
        _in_flight.add(task)
        task.add_done_callback(_in_flight.discard)

    return send


async def _send(sender: JobSender, name: str, kwargs: Mapping[str, Any]) -> None:
    try:
        await sender.send(name, kwargs)
    except Exception as exc:  # a lost nudge only delays the work until the next sweep
        log.warning("could not send job %s: %s", name, exc)


async def drain() -> None:
    """Wait for the jobs still being handed to the broker (at shutdown, and in tests)."""
    while _in_flight:
        await asyncio.gather(*list(_in_flight), return_exceptions=True)


#: Sends under way: kept referenced so the event loop does not drop them half done.
_in_flight: set[asyncio.Task[None]] = set()
