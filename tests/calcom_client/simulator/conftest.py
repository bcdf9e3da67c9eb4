"""Fixtures: a simulator with a pinned clock, validating API clients, a webhook receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from calcom_client.simulator import CalcomSimulator, User
from tests.calcom_client.simulator.support import BASE_URL, NOW, Receiver, validating_client


@pytest.fixture
def receiver() -> Receiver:
    """Where the simulator's webhooks go (in-process, through `httpx.ASGITransport`)."""
    return Receiver()


@pytest.fixture
async def sim(receiver: Receiver) -> AsyncIterator[CalcomSimulator]:
    """A simulator pinned at Monday 2050-09-05 08:00 Paris time, webhooks routed to `receiver`."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver)) as webhook_client:
        simulator = CalcomSimulator(webhook_client=webhook_client, seed=7)
        simulator.now = NOW
        yield simulator
        await simulator.aclose()


@pytest.fixture
async def api(sim: CalcomSimulator) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose every success is validated against the OpenAPI document, every error against the envelope."""
    async with validating_client(sim) as client:
        yield client


@pytest.fixture
async def raw(sim: CalcomSimulator) -> AsyncIterator[httpx.AsyncClient]:
    """A client without validation, for answers deliberately outside the document (old controllers)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim.app), base_url=BASE_URL) as client:
        yield client


@pytest.fixture
def mentor(sim: CalcomSimulator) -> User:
    """A mentor in Paris, Mon–Fri 09:00–18:00, with Google Meet connected."""
    return sim.add_user("alice", "alice@example.com", name="Alice Mentor")
