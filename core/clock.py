"""Time: always timezone-aware UTC inside the service; rules take `now` explicitly."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Something that tells the current UTC time (a fixed one in tests)."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that stands still until moved; for tests and reproducible runs."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self.at = at

    def now(self) -> datetime:
        return self.at


class ScaledClock:
    """A clock that runs `speed` times faster than the real one from `origin` (demo only), so a
    person can watch a day of reminders and feedback requests happen in minutes."""

    def __init__(self, speed: float, origin: datetime | None = None) -> None:
        if speed < 1:
            raise ValueError("speed must be at least 1")
        self.speed = speed
        self.origin = origin or datetime.now(UTC)

    def now(self) -> datetime:
        real = datetime.now(UTC)
        return self.origin + (real - self.origin) * self.speed
