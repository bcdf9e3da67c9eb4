"""Delivering queued Thotis events to their endpoints, at least once, never lost (R10.4).

A pass claims due deliveries by moving their next attempt a lease ahead (short transaction,
SKIP LOCKED, so several workers share the work), sends them without holding a transaction, then
records each attempt. A worker that dies mid-send leaves its claims to expire and be sent again
with the same `webhook-id`, which receivers de-duplicate. Retries come after 1 s, 2 s and 4 s,
then on a slow jittered schedule of about a day, then the delivery is dead (redeliverable by an
admin). 410 Gone disables the endpoint; `Retry-After` is honoured; redirects are not followed.

The endpoint's host is resolved again before each attempt and the request goes to the address
just checked (the `Host` header and TLS name stay the endpoint's): a DNS answer that changed
since the endpoint was saved (DNS rebinding) cannot turn an event into a request to a private
address.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select, update

from core.crypto import SecretBox
from core.database import Database
from webhooks_out import signing
from webhooks_out.endpoints import InvalidWebhookUrl, UrlPolicy, allowed_addresses
from webhooks_out.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookMessage

log = logging.getLogger(__name__)

#: Seconds to wait after the 1st, 2nd, … failed attempt; after the last one the delivery is dead.
FAST_RETRIES = (1, 2, 4)
#: The default slow schedule (THOTIS_WEBHOOK_RETRY_SCHEDULE_SECONDS): ≈ 23 h in all, jittered ±20 %.
SLOW_RETRIES = (60, 300, 1800, 3600, 7200, 14_400, 28_800, 28_800)
MAX_RETRY_AFTER = timedelta(hours=6)
EXCERPT_BYTES = 2048


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    timeout_seconds: float = 10.0
    batch: int = 100
    concurrency: int = 20
    #: How long a claimed delivery is reserved for the worker that claimed it; if that worker
    #: dies, the delivery is sent again (same webhook-id) once the lease runs out.
    lease: timedelta = timedelta(seconds=60)
    slow_retries: tuple[int, ...] = SLOW_RETRIES
    #: Which addresses an attempt may reach (production: https and public addresses only).
    url_policy: UrlPolicy = field(default_factory=lambda: UrlPolicy(production=False))


def retry_delay(
    failed_attempts: int, slow: tuple[int, ...] = SLOW_RETRIES, rng: random.Random | None = None
) -> timedelta | None:
    """How long to wait after `failed_attempts` failures; None when it is time to give up."""
    schedule = FAST_RETRIES + slow
    if failed_attempts < 1 or failed_attempts > len(schedule):
        return None
    seconds = float(schedule[failed_attempts - 1])
    if failed_attempts > len(FAST_RETRIES):
        seconds *= (rng or random).uniform(0.8, 1.2)
    return timedelta(seconds=seconds)


@dataclass(frozen=True, slots=True)
class _Claim:
    delivery_id: int
    message_id: str
    payload: bytes
    url: str
    secrets: list[str]


async def deliver_due(
    database: Database, http: httpx.AsyncClient, box: SecretBox, now: datetime, config: DeliveryConfig | None = None
) -> int:
    """Send every delivery due at `now` (up to a batch); returns how many were attempted."""
    config = config or DeliveryConfig()
    claims = await _claim(database, box, now, config)
    gate = asyncio.Semaphore(config.concurrency)

    async def one(claim: _Claim) -> None:
        async with gate:
            await _send(database, http, claim, now, config)

    await asyncio.gather(*(one(claim) for claim in claims))
    return len(claims)


async def _claim(database: Database, box: SecretBox, now: datetime, config: DeliveryConfig) -> list[_Claim]:
    async with database.session() as session:
        rows = (
            await session.execute(
                select(WebhookDelivery, WebhookMessage.payload, WebhookEndpoint)
                .join(WebhookMessage, WebhookMessage.id == WebhookDelivery.message_id)
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .where(
                    WebhookDelivery.status == "pending",
                    WebhookDelivery.next_attempt_at <= now,
                    WebhookEndpoint.disabled_at.is_(None),
                )
                .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                .limit(config.batch)
                .with_for_update(of=WebhookDelivery, skip_locked=True)
            )
        ).all()
        claims = []
        for delivery, payload, endpoint in rows:
            delivery.next_attempt_at = now + config.lease
            in_use = [box.decrypt(endpoint.secret_encrypted)]
            if endpoint.previous_secret_encrypted and (endpoint.previous_secret_until or now) > now:
                in_use.append(box.decrypt(endpoint.previous_secret_encrypted))
            claims.append(_Claim(delivery.id, delivery.message_id, payload, endpoint.url, in_use))
        return claims


async def _send(
    database: Database, http: httpx.AsyncClient, claim: _Claim, now: datetime, config: DeliveryConfig
) -> None:
    timestamp = int(time.time())
    headers = signing.headers(claim.secrets, claim.message_id, timestamp, claim.payload)
    started = time.perf_counter()
    status: int | None = None
    excerpt: str | None = None
    error: str | None = None
    retry_after: timedelta | None = None
    try:
        url, host, extensions = await pinned_target(claim.url, config.url_policy)
        response = await http.post(
            url,
            content=claim.payload,
            headers={**headers, "Host": host},
            timeout=config.timeout_seconds,
            follow_redirects=False,
            extensions=extensions,
        )
        status = response.status_code
        excerpt = response.content[:EXCERPT_BYTES].decode("utf-8", "replace")
        retry_after = _retry_after(response.headers.get("retry-after"))
    except InvalidWebhookUrl as exc:
        error = f"Refused: {exc.message}"[:500]
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    duration_ms = int((time.perf_counter() - started) * 1000)
    await _record(database, claim, now, status, duration_ms, excerpt, error, retry_after, config.slow_retries)


async def pinned_target(url: str, policy: UrlPolicy) -> tuple[httpx.URL, str, dict[str, Any]]:
    """Where to connect for `url` now: its host resolved and checked, the URL rewritten to that
    address, with the `Host` header and the TLS server name to send.

    Raises:
        InvalidWebhookUrl: the host resolves to an address the sidecar must not call, or the URL
            reads differently to the checker and to the HTTP client.
    """
    addresses = await allowed_addresses(url, policy)
    parsed = httpx.URL(url)
    if parsed.host.lower() != (urlsplit(url).hostname or "").lower():
        raise InvalidWebhookUrl("The URL's host is ambiguous.")
    extensions: dict[str, Any] = {"sni_hostname": parsed.raw_host.decode("ascii")} if parsed.scheme == "https" else {}
    return parsed.copy_with(host=str(addresses[0])), parsed.netloc.decode("ascii"), extensions


async def _record(
    database: Database,
    claim: _Claim,
    now: datetime,
    status: int | None,
    duration_ms: int,
    excerpt: str | None,
    error: str | None,
    retry_after: timedelta | None,
    slow_retries: tuple[int, ...],
) -> None:
    async with database.session() as session:
        delivery = await session.get(WebhookDelivery, claim.delivery_id, with_for_update=True)
        if delivery is None or delivery.status != "pending":
            return
        session.add(
            WebhookAttempt(
                delivery_id=delivery.id,
                attempted_at=now,
                status_code=status,
                duration_ms=duration_ms,
                response_excerpt=excerpt,
                error=error,
            )
        )
        delivery.attempts += 1
        delivery.last_status_code = status
        if status is not None and 200 <= status < 300:
            delivery.status, delivery.delivered_at = "delivered", now
            return
        if status == 410:
            delivery.status = "dead"
            await session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == delivery.endpoint_id, WebhookEndpoint.disabled_at.is_(None))
                .values(disabled_at=now, disabled_reason="The receiver answered 410 Gone.")
            )
            log.warning("webhook endpoint %s answered 410 Gone: disabled", delivery.endpoint_id)
            return
        delay = retry_delay(delivery.attempts, slow_retries)
        if delay is None:
            delivery.status = "dead"
            log.warning("webhook delivery %s dead after %d attempts", delivery.id, delivery.attempts)
            return
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
        delivery.next_attempt_at = now + delay


def _retry_after(value: str | None) -> timedelta | None:
    """`Retry-After` in seconds (the HTTP-date form is rare from webhook receivers; ignored)."""
    if value is None or not value.strip().isdigit():
        return None
    return timedelta(seconds=int(value.strip()))


class DeliveryLoop:
    """Runs `deliver_due` every `interval_seconds` in the app's event loop until stopped.

    Several processes may run it: SKIP LOCKED shares the due deliveries between them.
    """

    def __init__(
        self,
        database: Database,
        box: SecretBox,
        now: Callable[[], datetime],
        interval_seconds: float,
        config: DeliveryConfig | None = None,
    ) -> None:
        self._database = database
        self._box = box
        self._now = now
        self._interval = interval_seconds
        self._config = config or DeliveryConfig()
        self._stopping = False

    def stop(self) -> None:
        self._stopping = True

    async def run(self) -> None:
        limits = httpx.Limits(max_connections=50, max_keepalive_connections=20)
        async with httpx.AsyncClient(limits=limits, follow_redirects=False) as http:
            while not self._stopping:
                try:
                    sent = await deliver_due(self._database, http, self._box, self._now(), self._config)
                except Exception:  # a database hiccup must not end delivery for good
                    log.exception("webhook delivery pass failed")
                    sent = 0
                if not sent:
                    await asyncio.sleep(self._interval)
