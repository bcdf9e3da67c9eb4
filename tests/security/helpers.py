"""What several security tests set up: a linked mentor with a booked session."""

from __future__ import annotations

from datetime import timedelta

import httpx

from calcom_client.simulator import CalcomSimulator
from tests.adapter.conftest import NOW
from tests.adapter.helpers import SERVICE
from tests.adapter.test_availability import linked_mentor

SLOT = NOW + timedelta(days=1, hours=1)  # Tuesday 10:00 Paris, inside the simulator's schedule


def booking_body(mentor: str = "m1", start_offset_minutes: int = 0, **student: str) -> dict[str, object]:
    prospective = {"name": "Léa Martin", "email": "lea@example.org", "timeZone": "Europe/Paris", "language": "fr"}
    prospective.update(student)
    return {
        "mentorId": mentor,
        "start": (SLOT + timedelta(minutes=start_offset_minutes)).isoformat(),
        "consent": True,
        "prospectiveStudent": prospective,
    }


async def booked_session(
    api: httpx.AsyncClient, simulator: CalcomSimulator, mentor: str = "m1", offset_minutes: int = 0, **student: str
) -> str:
    """Link `mentor` to a new Cal.com user and book one session with them; returns its uid."""
    await linked_mentor(api, simulator, mentor)
    response = await api.post("/api/v2/bookings", json=booking_body(mentor, offset_minutes, **student), headers=SERVICE)
    assert response.status_code == 201, response.text
    uid: str = response.json()["data"]["uid"]
    return uid
