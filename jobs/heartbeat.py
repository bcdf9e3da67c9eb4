"""Heartbeat files of `thotis worker` and `thotis scheduler`, read by `thotis health` (container health checks).

A process writes `<dir>/<role>.json` every few seconds while its loop runs and Redis (its broker)
answers; it removes the file when it stops. A file per container rather than a Redis key: the
health check asks about this process, not whether some worker somewhere is alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("thotis.jobs")

ROLES = ("worker", "scheduler")
#: A heartbeat older than this many intervals means the process is stuck or cannot reach Redis.
STALE_AFTER_BEATS = 3


def heartbeat_path(directory: Path, role: str) -> Path:
    return directory / f"{role}.json"


@dataclass(slots=True)
class Heartbeat:
    """Writes `role`'s heartbeat every `interval` seconds while `alive()` holds, until `finish` is set."""

    directory: Path
    role: str
    interval: float
    alive: Callable[[], Awaitable[bool]]

    async def run(self, finish: asyncio.Event) -> None:
        path = heartbeat_path(self.directory, self.role)
        try:
            while not finish.is_set():
                if await self.alive():
                    self._write(path)
                else:
                    log.warning("heartbeat of %s skipped: Redis does not answer", self.role, extra={"role": self.role})
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(finish.wait(), self.interval)
        finally:
            path.unlink(missing_ok=True)  # stopped: no longer healthy

    def _write(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f".{path.name}.{os.getpid()}")
            temporary.write_text(json.dumps({"role": self.role, "pid": os.getpid(), "at": time.time()}))
            temporary.replace(path)  # atomic: a reader never sees half a file
        except OSError as exc:
            log.warning("heartbeat of %s not written: %s", self.role, exc, extra={"role": self.role})


def check_heartbeat(directory: Path, role: str, interval: float, now: float | None = None) -> str | None:
    """Why `role` is unhealthy (no heartbeat, unreadable, too old), or None when it is healthy."""
    path = heartbeat_path(directory, role)
    try:
        beat = json.loads(path.read_text())
        at = float(beat["at"])
    except FileNotFoundError:
        return f"no heartbeat at {path}: the {role} is not running (or not yet started)"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"unreadable heartbeat at {path}: {exc}"
    age = (time.time() if now is None else now) - at
    limit = STALE_AFTER_BEATS * interval
    if age > limit:
        return f"last heartbeat {age:.0f} s ago (limit {limit:.0f} s): the {role} is stuck or Redis is unreachable"
    return None
