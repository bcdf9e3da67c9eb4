"""Fixtures of the API tests that talk to the Cal.com simulator behind the app."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from adapter.services import Services
from calcom_client.simulator import CalcomSimulator
from core.clock import FixedClock

#: A Monday, 08:00 UTC: the default simulator schedule is Mon–Fri 09:00–18:00 Europe/Paris.
NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


@pytest.fixture
def simulator(services: Services) -> Iterator[CalcomSimulator]:
    """The simulator behind the app, with both clocks pinned to NOW."""
    sim = services.calcom.simulator
    assert sim is not None
    real_clock = services.clock
    sim.now = NOW
    services.clock = FixedClock(NOW)
    yield sim
    services.clock = real_clock
    sim.knobs.faults.clear()  # injected failures must not leak into the next test
