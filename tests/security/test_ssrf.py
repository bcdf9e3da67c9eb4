"""Server-side request forgery through outbound webhook URLs.

An admin (or whoever steals an admin token) chooses where the sidecar POSTs events. Production
must refuse every way of naming an internal address: numeric IP spellings, IPv6 forms that carry
an IPv4 one, cloud metadata, userinfo tricks, other schemes, names that resolve privately; and
the delivery must check the address again when it connects (DNS rebinding) and not follow
redirects.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from adapter.services import Services
from tests.adapter.helpers import ADMIN, assert_error
from webhooks_out.delivery import DeliveryConfig, deliver_due
from webhooks_out.endpoints import EndpointService, InvalidWebhookUrl, UrlPolicy, check_url
from webhooks_out.outbox import emit

PRODUCTION = UrlPolicy(production=True)
DEVELOPMENT = UrlPolicy(production=False)

#: Loopback, however it is spelled: refused in production, allowed elsewhere for local receivers.
LOOPBACK = [
    "https://127.0.0.1/hook",
    "https://2130706433/hook",  # decimal
    "https://0x7f000001/hook",  # hex
    "https://0x7f.1/hook",  # hex, short form
    "https://017700000001/hook",  # octal
    "https://0177.0.0.1/hook",  # octal first byte
    "https://127.1/hook",  # short form
    "https://127.255.255.254/hook",
    "https://[::1]/hook",
    "https://localhost/hook",
    "https://[2002:7f00:1::1]/hook",  # 6to4 of loopback
]
#: Never callable, in any environment.
INTERNAL = [
    "https://0.0.0.0/hook",
    "https://0/hook",
    "https://[::]/hook",
    "https://169.254.169.254/latest/meta-data/",  # cloud metadata
    "https://[fd00:ec2::254]/latest/meta-data/",  # AWS metadata over IPv6
    "https://10.0.0.1/hook",
    "https://172.16.0.1/hook",
    "https://192.168.1.1/hook",
    "https://100.64.0.1/hook",  # carrier-grade NAT
    "https://198.18.0.1/hook",  # benchmarking
    "https://192.0.0.1/hook",  # IETF protocol assignments
    "https://224.0.0.1/hook",  # multicast
    "https://240.0.0.1/hook",  # reserved
    "https://255.255.255.255/hook",
    "https://[fe80::1]/hook",
    "https://[fc00::1]/hook",
    "https://[ff02::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",  # IPv4-mapped loopback
    "https://[::ffff:7f00:1]/hook",
    "https://[::ffff:169.254.169.254]/hook",
    "https://[::ffff:10.0.0.1]/hook",
    "https://[64:ff9b::a9fe:a9fe]/hook",  # NAT64 of the metadata address
    "https://[64:ff9b::7f00:1]/hook",  # NAT64 of loopback
    "https://[2002:a9fe:a9fe::1]/hook",  # 6to4 of the metadata address
    "https://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/hook",  # Teredo whose client is 10.0.0.1
]
#: Not an http(s) URL to a host, or one hiding another host.
MALFORMED = [
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_FLUSHALL",
    "dict://127.0.0.1:11211/stats",
    "ftp://example.org/x",
    "ldap://127.0.0.1/",
    "javascript:alert(1)",
    "https://good.example@127.0.0.1/hook",
    "https://good.example:pass@127.0.0.1/hook",
    "https://127.0.0.1\\@good.example/hook",
    "https:///hook",
    "https://:443/hook",
    "//127.0.0.1/hook",
    "https://127.0.0.1:0x1bb/hook",
    "https://127.0.0.1:99999/hook",
    "",
]


def fake_dns(mapping: dict[str, list[str]]) -> Callable[..., list[Any]]:
    """A getaddrinfo that answers `mapping` and resolves IP literals as the real one does."""
    real = socket.getaddrinfo

    def resolve(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host in mapping:
            return [
                (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in mapping[host]
            ]
        return real(host, port, *args, **kwargs)

    return resolve


class TestProductionPolicy:
    @pytest.mark.parametrize("url", LOOPBACK + INTERNAL + MALFORMED)
    async def test_refuses_every_internal_or_malformed_url(self, url: str) -> None:
        with pytest.raises(InvalidWebhookUrl):
            await check_url(url, PRODUCTION)

    @pytest.mark.parametrize("url", INTERNAL + MALFORMED)
    async def test_development_refuses_them_too_except_plain_loopback(self, url: str) -> None:
        with pytest.raises(InvalidWebhookUrl):
            await check_url(url, DEVELOPMENT)

    @pytest.mark.parametrize("url", LOOPBACK)
    async def test_development_allows_loopback_for_local_receivers(self, url: str) -> None:
        await check_url(url, DEVELOPMENT)

    async def test_plain_http_is_refused_in_production(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(socket, "getaddrinfo", fake_dns({"hooks.example": ["93.184.216.34"]}))
        with pytest.raises(InvalidWebhookUrl):
            await check_url("http://hooks.example/x", PRODUCTION)
        await check_url("https://hooks.example/x", PRODUCTION)

    @pytest.mark.parametrize(
        "answers",
        [["10.0.0.7"], ["169.254.169.254"], ["93.184.216.34", "127.0.0.1"], ["::ffff:192.168.0.1"], ["fd12::1"]],
    )
    async def test_a_name_resolving_to_any_private_address_is_refused(
        self, monkeypatch: pytest.MonkeyPatch, answers: list[str]
    ) -> None:
        monkeypatch.setattr(socket, "getaddrinfo", fake_dns({"innocent.example": answers}))
        with pytest.raises(InvalidWebhookUrl):
            await check_url("https://innocent.example/hook", PRODUCTION)

    async def test_the_api_refuses_with_a_stable_code(self, api: httpx.AsyncClient) -> None:
        for url in ("https://169.254.169.254/latest/meta-data/", "https://[::ffff:10.0.0.1]/", "gopher://x/"):
            response = await api.post("/api/v2/webhooks", json={"url": url}, headers=ADMIN)
            assert_error(response, 400, "INVALID_WEBHOOK_URL")


class Recorder:
    """An HTTP transport that records what the delivery sends and answers `status`."""

    def __init__(self, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.status = status
        self.headers = headers or {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, headers=self.headers)


async def _endpoint_and_event(services: Services, url: str) -> None:
    """An endpoint saved (outside production) with the DNS answers of that moment, and one event for it."""
    async with services.database.session() as session:
        await EndpointService(session, services.box, services.clock, DEVELOPMENT).create(url, [], "rebinding")
        await emit(session, "rating.submitted", {"rating": 5}, subject=None, occurred_at=datetime.now(UTC))
        await session.commit()


async def _attempts(services: Services) -> list[dict[str, Any]]:
    async with services.database.engine.connect() as connection:
        rows = await connection.execute(text("SELECT status_code, error FROM thotis.webhook_attempts ORDER BY id"))
        return [dict(row._mapping) for row in rows]


class TestDeliveryTimeChecks:
    async def test_dns_rebinding_to_a_private_address_is_not_called(
        self, api: httpx.AsyncClient, services: Services, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(socket, "getaddrinfo", fake_dns({"rebind.example": ["93.184.216.34"]}))
        await _endpoint_and_event(services, "https://rebind.example/hook")
        # The name now answers with the metadata address: the delivery must not connect to it.
        monkeypatch.setattr(socket, "getaddrinfo", fake_dns({"rebind.example": ["169.254.169.254"]}))
        recorder = Recorder()
        async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as http:
            attempted = await deliver_due(services.database, http, services.box, datetime.now(UTC), DeliveryConfig())
        assert attempted == 1 and recorder.requests == []
        (attempt,) = await _attempts(services)
        assert attempt["status_code"] is None and attempt["error"].startswith("Refused:")

    async def test_the_connection_goes_to_the_address_that_was_checked(
        self, api: httpx.AsyncClient, services: Services, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The HTTP client never resolves the name itself: it gets the checked address, the name
        travels in `Host` and as the TLS server name (so the certificate is still verified)."""
        monkeypatch.setattr(socket, "getaddrinfo", fake_dns({"hooks.example": ["93.184.216.34"]}))
        await _endpoint_and_event(services, "https://hooks.example:8443/in?x=1")
        recorder = Recorder()
        config = DeliveryConfig(url_policy=PRODUCTION)
        async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as http:
            assert await deliver_due(services.database, http, services.box, datetime.now(UTC), config) == 1
        (request,) = recorder.requests
        assert str(request.url) == "https://93.184.216.34:8443/in?x=1"
        assert request.headers["host"] == "hooks.example:8443"
        assert request.extensions["sni_hostname"] == "hooks.example"

    async def test_production_delivery_refuses_loopback_saved_elsewhere(
        self, api: httpx.AsyncClient, services: Services
    ) -> None:
        """An endpoint saved outside production (loopback allowed) is not called once in production."""
        await _endpoint_and_event(services, "http://127.0.0.1:9/hook")
        recorder = Recorder()
        config = DeliveryConfig(url_policy=PRODUCTION)
        async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as http:
            await deliver_due(services.database, http, services.box, datetime.now(UTC), config)
        assert recorder.requests == []
        assert (await _attempts(services))[0]["error"].startswith("Refused:")

    async def test_a_redirect_to_a_private_address_is_not_followed(
        self, api: httpx.AsyncClient, services: Services, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(socket, "getaddrinfo", fake_dns({"hooks.example": ["93.184.216.34"]}))
        await _endpoint_and_event(services, "https://hooks.example/in")
        recorder = Recorder(status=307, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
        async with httpx.AsyncClient(transport=httpx.MockTransport(recorder), follow_redirects=True) as http:
            await deliver_due(services.database, http, services.box, datetime.now(UTC), DeliveryConfig())
        assert [r.url.host for r in recorder.requests] == ["93.184.216.34"]
        assert (await _attempts(services))[0]["status_code"] == 307  # a failure, retried later, never followed
