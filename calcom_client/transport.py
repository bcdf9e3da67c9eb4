"""The one place that sends requests to Cal.com API v2.

Every call goes through :meth:`CalcomTransport.request`, which adds the headers Cal.com routes and
authenticates on, applies timeouts inside the overall time budget, runs the retry policy of
:mod:`calcom_client.retry` and turns every failure into a :class:`~calcom_client.errors.CalcomError`.
The ``httpx.AsyncClient`` is injected, so the application owns its pool and tests swap in respx or
an ``httpx.MockTransport``; nothing here is created at import time.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec

from calcom_client.errors import (
    CalcomError,
    CalcomInvalidResponse,
    CalcomTimeout,
    CalcomUnavailable,
    error_from_response,
)
from calcom_client.retry import FailureKind, RetryPolicy, is_retryable, next_delay, server_wait

logger = logging.getLogger("calcom_client")

API_VERSION_HEADER = "cal-api-version"
EVENT_TYPES_VERSION = "2024-06-14"
SLOTS_VERSION = "2024-09-04"
BOOKINGS_VERSION = "2024-08-13"

DEFAULT_TIMEOUT = httpx.Timeout(connect=3.0, read=10.0, write=10.0, pool=3.0)
"""Per attempt; each phase is further capped by what is left of the retry budget."""

QueryValue = str | int | float | bool
Params = Mapping[str, QueryValue]


def api_version_for(path: str) -> str | None:
    """The ``cal-api-version`` a ``/v2/...`` path needs (contract §1.2), or ``None`` for none.

    A missing or wrong value is not rejected by Cal.com: it silently reaches an older, undocumented
    controller, so the value is derived from the path here rather than chosen by each caller.
    Event-type *webhooks* live under ``/v2/event-types`` but take no version header.

    Raises:
        ValueError: the path is not under ``/v2/``.
    """
    segments = path.split("?", 1)[0].strip("/").split("/")
    if len(segments) < 2 or segments[0] != "v2":
        raise ValueError(f"Cal.com API v2 paths start with /v2/: {path!r}")
    resource = segments[1]
    if resource == "event-types":
        return None if "webhooks" in segments[2:] else EVENT_TYPES_VERSION
    if resource == "bookings":
        return BOOKINGS_VERSION
    if resource == "slots":
        return SLOTS_VERSION
    return None


def normalise_base_url(base_url: str) -> str:
    """``https://api.cal.com`` from the configured URL; a trailing ``/v2`` (a common slip) is dropped."""
    url = base_url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"Cal.com API URL must be http(s): {base_url!r}")
    if url.endswith("/v2"):
        url = url[: -len("/v2")]
    return url


def _classify(exc: httpx.TransportError) -> FailureKind:
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return FailureKind.NOT_SENT
    if isinstance(exc, httpx.TimeoutException):
        return FailureKind.TIMEOUT
    return FailureKind.NETWORK


def _capped(timeout: httpx.Timeout, remaining: float) -> httpx.Timeout:
    def cap(value: float | None) -> float:
        return remaining if value is None else min(value, remaining)

    return httpx.Timeout(
        connect=cap(timeout.connect), read=cap(timeout.read), write=cap(timeout.write), pool=cap(timeout.pool)
    )


def _decode(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text


class CalcomTransport:
    """Sends requests to one Cal.com deployment through an injected ``httpx.AsyncClient``.

    ``sleep``, ``clock`` (monotonic seconds), ``now`` (aware wall time, for HTTP-date ``Retry-After``)
    and ``jitter`` (a draw in [0, 1]) are injectable so tests run the retry loop without waiting.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        *,
        policy: RetryPolicy | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.http = http
        self.base_url = normalise_base_url(base_url)
        self.policy = policy or RetryPolicy()
        self.timeout = timeout
        self._sleep = sleep
        self._clock = clock
        self._now = now
        self._jitter = jitter

    def build_request(
        self,
        method: str,
        path: str,
        *,
        api_key: str | None,
        params: Params | None = None,
        json: Any = None,
        timeout: httpx.Timeout | None = None,
    ) -> httpx.Request:
        """The exact request sent for one attempt (exposed so tests can validate it against the document)."""
        headers = {"Accept": "application/json"}
        version = api_version_for(path)
        if version is not None:
            headers[API_VERSION_HEADER] = version
        if api_key is not None:
            if not api_key.strip():
                raise ValueError("empty Cal.com API key")
            headers["Authorization"] = f"Bearer {api_key.strip()}"
        request = self.http.build_request(
            method,
            self.base_url + path,
            params=dict(params) if params else None,
            json=json,
            headers=headers,
            timeout=timeout or self.timeout,
        )
        # An Origin header makes Cal.com check it against OAuth redirect URIs (contract §2); the
        # injected client might carry one as a default header, so strip it here, on every request.
        request.headers.pop("Origin", None)
        return request

    async def request(
        self,
        method: str,
        path: str,
        *,
        api_key: str | None = None,
        params: Params | None = None,
        json: Any = None,
        idempotent: bool | None = None,
    ) -> Any:
        """Send one call, retrying as the policy allows, and return the decoded JSON body of the 2xx.

        ``idempotent`` defaults to ``method != "POST"``; creating POSTs must leave it false so they are
        retried only when the request never left.

        Raises:
            CalcomError: the subclass for the final status, ``CalcomTimeout``/``CalcomUnavailable`` when
                no answer came, ``CalcomInvalidResponse`` for a 2xx whose body is not JSON.
        """
        method = method.upper()
        safe = (method != "POST") if idempotent is None else idempotent
        started = self._clock()
        attempt = 0
        error: CalcomError | None = None
        while True:
            attempt += 1
            remaining = self.policy.budget - (self._clock() - started)
            if error is not None and remaining <= 0:
                raise error  # the sleep overran the budget: no time left for another attempt
            request = self.build_request(
                method, path, api_key=api_key, params=params, json=json, timeout=_capped(self.timeout, remaining)
            )
            status: int | None = None
            failure: FailureKind | None = None
            wait_hint: float | None = None
            try:
                response = await self.http.send(request)
            except httpx.TransportError as exc:
                failure = _classify(exc)
                error = self._transport_error(exc, failure, method, path)
            else:
                if response.is_success:
                    return self._success_body(response, method, path)
                status = response.status_code
                wait_hint = server_wait(response.headers, self._now())
                error = error_from_response(
                    status,
                    _decode(response),
                    method=method,
                    path=path,
                    reason=response.reason_phrase,
                    request_id=response.headers.get("x-request-id"),
                    retry_after=wait_hint,
                )
            delay = next_delay(
                self.policy,
                attempt=attempt,
                elapsed=self._clock() - started,
                retryable=is_retryable(status=status, failure=failure, idempotent=safe),
                wait_hint=wait_hint,
                jitter=self._jitter(),
            )
            if delay is None:
                raise error
            logger.warning(
                "calcom.retry",
                extra={
                    "calcom_method": method,
                    "calcom_path": path,
                    "calcom_status": status,
                    "calcom_failure": failure.value if failure else None,
                    "calcom_attempt": attempt,
                    "calcom_delay": round(delay, 3),
                },
            )
            await self._sleep(delay)

    @staticmethod
    def _transport_error(exc: httpx.TransportError, failure: FailureKind, method: str, path: str) -> CalcomError:
        cls = CalcomTimeout if isinstance(exc, httpx.TimeoutException) else CalcomUnavailable
        # The exception text never contains headers, so the API key cannot leak through it.
        return cls(
            f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__,
            details={"failure": failure.value},
            method=method,
            path=path,
        )

    @staticmethod
    def _success_body(response: httpx.Response, method: str, path: str) -> Any:
        if not response.content:
            return None
        try:
            # msgspec, not `response.json()`: the same values, decoded in a fifth of the time (a
            # month of slots is some 700 objects).
            return msgspec.json.decode(response.content)
        except msgspec.DecodeError as exc:
            raise CalcomInvalidResponse(
                "Cal.com answered with a body that is not JSON",
                status=response.status_code,
                method=method,
                path=path,
                request_id=response.headers.get("x-request-id"),
            ) from exc
