"""Which Cal.com the sidecar talks to: a real one by URL, or the in-process simulator.

Without THOTIS_CALCOM_API_URL (demo and tests; production refuses to start without it) the
sidecar talks to `calcom_client.simulator` through an in-process ASGI transport, so the whole
product works on one machine with nothing else installed.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from calcom_client import CalcomClient
from calcom_client.retry import RetryPolicy
from calcom_client.simulator import CalcomSimulator
from calcom_client.transport import DEFAULT_TIMEOUT
from core.settings import Settings

SIMULATOR_URL = "http://calcom.simulator"


@dataclass(slots=True)
class CalcomConnection:
    """The client, the HTTP pool it owns, and the simulator behind it when there is one."""

    client: CalcomClient
    http: httpx.AsyncClient
    simulator: CalcomSimulator | None = None

    async def close(self) -> None:
        await self.http.aclose()
        if self.simulator is not None:
            await self.simulator.aclose()


def connect_calcom(settings: Settings, *, simulator: CalcomSimulator | None = None) -> CalcomConnection:
    """A client for the configured Cal.com, or for `simulator` (a fresh one if not given)."""
    if settings.calcom_api_url and simulator is None:
        http = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20), follow_redirects=False
        )
        budget = settings.calcom_retry_budget_seconds
        policy = RetryPolicy(budget=budget, max_server_wait=min(RetryPolicy().max_server_wait, budget))
        wait = settings.calcom_timeout_seconds
        timeout = httpx.Timeout(
            connect=min(DEFAULT_TIMEOUT.connect or wait, wait), read=wait, write=wait, pool=DEFAULT_TIMEOUT.pool
        )
        return CalcomConnection(CalcomClient(http, settings.calcom_api_url, policy=policy, timeout=timeout), http)
    simulator = simulator or CalcomSimulator(delay_seconds=settings.calcom_simulator_delay_ms / 1000)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=simulator.app), base_url=SIMULATOR_URL)
    return CalcomConnection(CalcomClient(http, SIMULATOR_URL), http, simulator)
