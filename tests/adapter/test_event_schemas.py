"""Every Thotis event payload validates against its checked-in JSON Schema (webhooks_out/schemas)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from jsonschema import Draft202012Validator
from sqlalchemy import text

from adapter.services import Services
from calcom_client.simulator import CalcomSimulator
from core.clock import FixedClock
from tests.adapter.conftest import NOW
from tests.adapter.helpers import ADMIN, SERVICE
from tests.adapter.test_availability import linked_mentor
from tests.adapter.test_bookings import SLOT, book, booking
from tests.adapter.test_calcom_webhooks import URL as CALCOM_URL
from tests.adapter.test_calcom_webhooks import signed
from tests.webhooks_in import payloads
from webhooks_out.outbox import EVENT_TYPES

SCHEMAS = Path(__file__).resolve().parents[2] / "webhooks_out" / "schemas"


def validator(event_type: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{event_type}.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


class TestEventSchemas:
    def test_one_valid_schema_per_event_type(self) -> None:
        assert sorted(path.stem for path in SCHEMAS.glob("*.json")) == sorted(EVENT_TYPES)
        for event_type in EVENT_TYPES:
            validator(event_type)

    async def test_every_event_of_a_full_lifecycle_validates(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator
    ) -> None:
        await linked_mentor(api, simulator)
        first = (await book(api, booking())).json()["data"]
        moved = await api.patch(
            f"/api/v2/bookings/{first['uid']}/reschedule",
            json={"start": (SLOT + timedelta(hours=1)).isoformat(), "reason": "Exams"},
            headers=SERVICE,
        )
        assert (await api.delete(f"/api/v2/bookings/{moved.json()['data']['uid']}", headers=SERVICE)).status_code == 200
        calcom = (await api.get("/api/v2/students/m1", headers=ADMIN)).json()["data"]["calcom"]
        made = payloads.Booking("calcomPageBooking0002", 778, int(calcom["eventTypeId"]), SLOT + timedelta(hours=2))
        for body in (payloads.created(made, NOW), payloads.meeting_ended(made), payloads.no_show(made, NOW)):
            await api.post(CALCOM_URL, content=body, headers=signed(body))
        rated = (await book(api, booking(SLOT + timedelta(hours=3)))).json()["data"]["uid"]
        services.clock = FixedClock(SLOT + timedelta(hours=4))
        await api.post(f"/api/v2/bookings/{rated}/rating", json={"rating": 1, "feedback": "Absent"}, headers=SERVICE)
        async with services.database.engine.connect() as connection:
            rows = (await connection.execute(text("SELECT event_type, payload FROM thotis.webhook_messages"))).all()
        seen: set[str] = set()
        for event_type, payload in rows:
            document: dict[str, Any] = json.loads(payload)
            errors = sorted(validator(event_type).iter_errors(document), key=str)
            assert not errors, (event_type, [e.message for e in errors])
            seen.add(event_type)
        assert seen == set(EVENT_TYPES)
