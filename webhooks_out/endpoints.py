"""The admin's outbound webhook endpoints: create, list, delete, rotate the secret, read the
delivery log, redeliver (R10).

An endpoint URL must be https in production and may never point at a private, link-local,
multicast or reserved address (outside production, loopback is allowed so local receivers work).
Each endpoint gets its own `whsec_` secret, shown once; a rotation keeps the old one valid for a
day, during which both signatures are sent.
"""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock
from core.crypto import SecretBox
from core.errors import InvalidInput, NotFound
from webhooks_out import signing
from webhooks_out.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from webhooks_out.outbox import EVENT_TYPES

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
ROTATION_OVERLAP = timedelta(hours=24)
MAX_ENDPOINTS = 50


class EndpointNotFound(NotFound):
    code = "WEBHOOK_NOT_FOUND"
    default_message = "No such webhook endpoint."


class DeliveryNotFound(NotFound):
    code = "DELIVERY_NOT_FOUND"
    default_message = "No such delivery of this endpoint."


class InvalidWebhookUrl(InvalidInput):
    code = "INVALID_WEBHOOK_URL"
    default_message = "The webhook URL is not allowed."


@dataclass(frozen=True, slots=True)
class UrlPolicy:
    """Production: https only, and loopback refused too."""

    production: bool


async def check_url(url: str, policy: UrlPolicy) -> None:
    """Raises:
    InvalidWebhookUrl: not http(s), credentials in it, https missing in production, or a host
        that is (or resolves to) an address the sidecar must not call.
    """
    await allowed_addresses(url, policy)


async def allowed_addresses(url: str, policy: UrlPolicy) -> list[IpAddress]:
    """The addresses `url`'s host resolves to now, all of them ones the sidecar may call.

    Raises:
        InvalidWebhookUrl: as `check_url`.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.username or parts.password:
        raise InvalidWebhookUrl("The URL must be http(s)://host/… without credentials.")
    if policy.production and parts.scheme != "https":
        raise InvalidWebhookUrl("Webhook URLs must use https.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise InvalidWebhookUrl("The URL's port is not a number from 1 to 65535.") from None
    try:
        infos = await asyncio.to_thread(socket.getaddrinfo, parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise InvalidWebhookUrl(f"The host {parts.hostname!r} does not resolve.") from None
    addresses: list[IpAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if is_forbidden(address, policy):
            raise InvalidWebhookUrl(f"The host {parts.hostname!r} is a private or reserved address.")
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise InvalidWebhookUrl(f"The host {parts.hostname!r} does not resolve.")
    return addresses


def is_forbidden(address: IpAddress, policy: UrlPolicy) -> bool:
    """True for any address that is not a public unicast one (loopback is allowed outside
    production); an IPv6 address that carries an IPv4 one (mapped, 6to4, NAT64) is judged by both."""
    for candidate in (address, *_embedded_ipv4(address)):
        if candidate.is_loopback:
            if policy.production:
                return True
            continue
        if (
            candidate.is_private
            or candidate.is_link_local
            or candidate.is_multicast
            or candidate.is_reserved
            or candidate.is_unspecified
            or not candidate.is_global
        ):
            return True
    return False


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _embedded_ipv4(address: IpAddress) -> list[ipaddress.IPv4Address]:
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    found = [a for a in (address.ipv4_mapped, address.sixtofour) if a is not None]
    if address.teredo is not None:
        found.append(address.teredo[1])
    if address in _NAT64:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def endpoint_view(row: WebhookEndpoint, *, secret: str | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": row.id,
        "url": row.url,
        "events": list(row.events),
        "description": row.description,
        "disabled": row.disabled_at is not None,
        "disabledReason": row.disabled_reason,
        "createdAt": row.created_at.isoformat() if row.created_at else None,
    }
    if secret is not None:
        view["secret"] = secret
    return view


class EndpointService:
    """Endpoints and their delivery log, over one database session."""

    def __init__(self, session: AsyncSession, box: SecretBox, clock: Clock, policy: UrlPolicy) -> None:
        self.session = session
        self.box = box
        self.clock = clock
        self.policy = policy

    async def create(self, url: str, events: list[str], description: str | None) -> dict[str, Any]:
        """Raises:
        InvalidWebhookUrl, InvalidInput (UNKNOWN_EVENT_TYPE, TOO_MANY_WEBHOOKS)
        """
        unknown = sorted(set(events) - set(EVENT_TYPES))
        if unknown:
            raise InvalidInput(
                f"Unknown event type(s): {', '.join(unknown)}.",
                code="UNKNOWN_EVENT_TYPE",
                details={"known": list(EVENT_TYPES)},
            )
        await check_url(url, self.policy)
        count = await self.session.scalar(select(func.count()).select_from(WebhookEndpoint))
        if (count or 0) >= MAX_ENDPOINTS:
            raise InvalidInput(f"At most {MAX_ENDPOINTS} endpoints.", code="TOO_MANY_WEBHOOKS")
        secret = signing.new_secret()
        row = WebhookEndpoint(
            id="ep_" + secrets.token_hex(12),
            url=url,
            events=sorted(set(events)),
            description=description,
            secret_encrypted=self.box.encrypt(secret),
            created_at=self.clock.now(),
        )
        self.session.add(row)
        await self.session.flush()
        return endpoint_view(row, secret=secret)

    async def all(self) -> list[dict[str, Any]]:
        rows = await self.session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.created_at))
        return [endpoint_view(row) for row in rows]

    async def delete(self, endpoint_id: str) -> None:
        """Raises:
        EndpointNotFound
        """
        result = await self.session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id))
        if not result.rowcount:  # type: ignore[attr-defined]
            raise EndpointNotFound()

    async def rotate_secret(self, endpoint_id: str) -> dict[str, Any]:
        """A new secret (shown once); the old one keeps signing for `ROTATION_OVERLAP`.

        Raises:
            EndpointNotFound
        """
        row = await self._endpoint(endpoint_id, for_update=True)
        secret = signing.new_secret()
        row.previous_secret_encrypted = row.secret_encrypted
        row.previous_secret_until = self.clock.now() + ROTATION_OVERLAP
        row.secret_encrypted = self.box.encrypt(secret)
        await self.session.flush()
        return endpoint_view(row, secret=secret)

    async def deliveries(self, endpoint_id: str, *, limit: int = 100) -> list[dict[str, Any]]:
        """The newest deliveries of an endpoint with their attempts (status, duration, excerpt).

        Raises:
            EndpointNotFound
        """
        await self._endpoint(endpoint_id)
        rows = (
            await self.session.scalars(
                select(WebhookDelivery)
                .where(WebhookDelivery.endpoint_id == endpoint_id)
                .order_by(WebhookDelivery.id.desc())
                .limit(limit)
            )
        ).all()
        attempts: dict[int, list[dict[str, Any]]] = {row.id: [] for row in rows}
        if rows:
            for attempt in await self.session.scalars(
                select(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(attempts)).order_by(WebhookAttempt.id)
            ):
                attempts[attempt.delivery_id].append(
                    {
                        "at": attempt.attempted_at.isoformat(),
                        "statusCode": attempt.status_code,
                        "durationMs": attempt.duration_ms,
                        "response": attempt.response_excerpt,
                        "error": attempt.error,
                    }
                )
        return [
            {
                "id": row.id,
                "messageId": row.message_id,
                "status": row.status,
                "attempts": attempts[row.id],
                "nextAttemptAt": row.next_attempt_at.isoformat() if row.status == "pending" else None,
                "deliveredAt": _iso(row.delivered_at),
            }
            for row in rows
        ]

    async def redeliver(self, endpoint_id: str, delivery_id: int) -> dict[str, Any]:
        """Send a delivery again now, with the same `webhook-id`; re-enables nothing else.

        Raises:
            EndpointNotFound, DeliveryNotFound
        """
        await self._endpoint(endpoint_id)
        row = await self.session.get(WebhookDelivery, delivery_id, with_for_update=True) if delivery_id > 0 else None
        if row is None or row.endpoint_id != endpoint_id:
            raise DeliveryNotFound()
        row.status, row.attempts, row.next_attempt_at = "pending", 0, self.clock.now()
        await self.session.flush()
        return {"id": row.id, "messageId": row.message_id, "status": row.status}

    async def _endpoint(self, endpoint_id: str, *, for_update: bool = False) -> WebhookEndpoint:
        row = (
            await self.session.get(WebhookEndpoint, endpoint_id, with_for_update=for_update)
            if 0 < len(endpoint_id) <= 32
            else None
        )
        if row is None:
            raise EndpointNotFound()
        return row


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
