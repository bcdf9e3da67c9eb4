"""The retry policy for Cal.com calls, as pure functions so it can be property-tested.

Nothing here sleeps, reads a clock or draws random numbers: the transport passes the attempt number,
the time already spent, the response headers and a jitter draw in [0, 1], and gets back either the
delay before the next attempt or ``None`` (give up now).

What is retried (anthropic-sdk / httpx practice, narrowed by what Cal.com may have done already):

- a request that provably never left (connection refused, connect or pool timeout): always, even a
  booking creation, because Cal.com cannot have acted on it;
- a timeout or a dropped connection after the request was sent, 408, 429 and 5xx: only for idempotent
  calls. ``POST /v2/bookings`` (and the other creating POSTs) are never retried on these, because the
  first attempt may have created the booking and a second one would double-book or fail confusingly;
- never anything else (4xx, notably 409).

Delays are exponential with full jitter (AWS "Exponential Backoff and Jitter"), but never shorter than
what Cal.com asked for: ``Retry-After`` (seconds or an HTTP date) or, as Cal.com's throttler sends no
``Retry-After`` (contract §7), its ``X-RateLimit-Reset-<name>`` seconds when the matching
``X-RateLimit-Remaining-<name>`` is 0. A hint longer than ``max_server_wait`` or a delay that would
overrun the overall time budget ends the retries at once, so the caller sees the failure while it can
still answer its own client.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

RETRY_AFTER = "retry-after"
RATE_LIMIT_REMAINING = "x-ratelimit-remaining-"
RATE_LIMIT_RESET = "x-ratelimit-reset-"
# A reset value above this is an epoch timestamp rather than a number of seconds to wait.
_EPOCH_THRESHOLD = 1_000_000_000


class FailureKind(enum.Enum):
    """How a request failed when no HTTP response came back."""

    NOT_SENT = "not_sent"
    """Connect error, connect timeout or pool timeout: the request never reached Cal.com."""
    TIMEOUT = "timeout"
    """Read or write timeout: Cal.com may have received and acted on the request."""
    NETWORK = "network"
    """The connection broke mid-exchange: Cal.com may have received and acted on the request."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Numbers of the retry policy; the defaults suit an interactive request (SPEC §4, §8).

    ``max_attempts`` counts the first attempt; ``budget`` is the overall wall time in seconds for all
    attempts and waits together; ``max_server_wait`` is the longest ``Retry-After`` we will sit out.
    """

    max_attempts: int = 3
    base_delay: float = 0.25
    max_delay: float = 4.0
    budget: float = 15.0
    max_server_wait: float = 10.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0 <= self.base_delay <= self.max_delay:
            raise ValueError("need 0 <= base_delay <= max_delay")
        if self.budget <= 0 or self.max_server_wait < 0:
            raise ValueError("budget must be positive and max_server_wait non-negative")


NO_RETRY = RetryPolicy(max_attempts=1)


def is_retryable_status(status: int) -> bool:
    """408, 429 and 5xx are transient; every other status is an answer."""
    return status in (408, 429) or 500 <= status <= 599


def is_retryable(*, status: int | None, failure: FailureKind | None, idempotent: bool) -> bool:
    """Whether this outcome may be retried at all (before looking at attempts, budget or delays)."""
    if failure is not None:
        return failure is FailureKind.NOT_SENT or idempotent
    if status is None or not idempotent:
        return False
    return is_retryable_status(status)


def backoff_delay(policy: RetryPolicy, attempt: int, jitter: float) -> float:
    """Full-jitter exponential backoff after ``attempt`` (1-based) failed attempts; ``jitter`` in [0, 1]."""
    exponent = min(max(attempt - 1, 0), 62)
    ceiling = min(policy.max_delay, policy.base_delay * float(2**exponent))
    return min(max(jitter, 0.0), 1.0) * ceiling


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def server_wait(headers: Mapping[str, str], now: datetime) -> float | None:
    """Seconds Cal.com asked us to wait, from ``Retry-After`` or its rate-limit headers, else ``None``.

    ``now`` (aware) converts an HTTP-date ``Retry-After`` or an epoch reset into a delay.
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    retry_after = lowered.get(RETRY_AFTER)
    if retry_after is not None:
        seconds = _number(retry_after)
        if seconds is None:
            try:
                when = parsedate_to_datetime(retry_after)
            except (TypeError, ValueError, IndexError):
                when = None
            if when is not None:
                if when.tzinfo is None:
                    when = when.replace(tzinfo=UTC)
                seconds = (when - now).total_seconds()
        if seconds is not None:
            return max(seconds, 0.0)
    # Cal.com names each limit (``Default`` unless per-key limits exist) and a key passes if any limit
    # has room, so the soonest reset among the exhausted limits is when a retry can succeed.
    resets: list[float] = []
    for key, value in lowered.items():
        if not key.startswith(RATE_LIMIT_RESET):
            continue
        name = key[len(RATE_LIMIT_RESET) :]
        remaining = _number(lowered.get(RATE_LIMIT_REMAINING + name))
        if remaining is not None and remaining > 0:
            continue
        reset = _number(value)
        if reset is None:
            continue
        if reset > _EPOCH_THRESHOLD:
            reset -= now.timestamp()
        resets.append(max(reset, 0.0))
    return min(resets) if resets else None


def next_delay(
    policy: RetryPolicy,
    *,
    attempt: int,
    elapsed: float,
    retryable: bool,
    wait_hint: float | None,
    jitter: float,
) -> float | None:
    """Seconds to wait before attempt ``attempt + 1``, or ``None`` to give up now.

    ``attempt`` is the number of attempts already made (1 after the first), ``elapsed`` the seconds
    spent since the first attempt started, ``wait_hint`` the result of :func:`server_wait`.
    The returned delay is never below ``wait_hint`` and never takes ``elapsed`` past the budget.
    """
    if not retryable or attempt >= policy.max_attempts:
        return None
    delay = backoff_delay(policy, attempt, jitter)
    if wait_hint is not None:
        if wait_hint > policy.max_server_wait:
            return None
        delay = max(delay, wait_hint)
    if elapsed + delay >= policy.budget:
        return None
    return delay
