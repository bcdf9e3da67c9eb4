"""No N+1: the SQL statements a listing sends do not grow with the number of items it lists.

Each route is read with the caches emptied (so it reaches the database), once with 2 mentors and
again with 12 (each with sessions and ratings); the statements sent must be the same in number.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import event

from adapter.auth import Role
from adapter.services import Services
from calcom_client.simulator import CalcomSimulator
from core import write_batch
from tests.adapter.conftest import NOW
from tests.adapter.helpers import SERVICE, auth, create_profile
from tests.adapter.test_admin_page import signed_in
from tests.adapter.test_availability import linked_mentor
from tests.adapter.test_bookings import SLOT, book, booking
from tests.conftest import empty_caches
from tests.factories import STUDENT_EMAIL, insert_sessions, valid_body

ADMIN = auth(Role.ADMIN, "admin")
#: Listings, with the headers they are read with.
ROUTES: dict[str, dict[str, str]] = {
    "/api/v2/students/by-field/LAW?pageSize=50": SERVICE,
    "/api/v2/students?q=droit&pageSize=50": SERVICE,
    "/api/v2/platform/mentors?pageSize=50": ADMIN,
    "/api/v2/platform/reviews": ADMIN,
    "/api/v2/students/m00/ratings": ADMIN,
    f"/api/v2/privacy/export?email={STUDENT_EMAIL}": ADMIN,
    "/mentors": {},
    "/admin": {},
}


@contextmanager
def counting(services: Services) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = services.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def add_mentors(api: httpx.AsyncClient, services: Services, first: int, last: int) -> None:
    """Mentors m<first>..m<last-1> in law, each with completed sessions rated (one flagged) and one to come."""
    past = datetime.now(UTC) - timedelta(days=3)
    for n in range(first, last):
        mentor = f"m{n:02d}"
        await create_profile(api, mentor, valid_body(field="LAW"))
        uids = await insert_sessions(
            services.database.engine,
            mentor,
            [(past + timedelta(hours=i), "completed") for i in range(3)]
            + [(datetime.now(UTC) + timedelta(days=2), "scheduled")],
        )
        for uid, (stars, words) in zip(uids, ((5, "Super"), (4, None), (1, "Pas venu du tout")), strict=False):
            rated = await api.post(
                f"/api/v2/bookings/{uid}/rating", json={"rating": stars, "feedback": words}, headers=SERVICE
            )
            assert rated.status_code == 201, rated.text


async def statements_per_route(api: httpx.AsyncClient, services: Services) -> dict[str, int]:
    counts = {}
    for path, headers in ROUTES.items():
        await empty_caches(services)
        with counting(services) as statements:
            response = await api.get(path, headers=headers)
        assert response.status_code == 200, (path, response.text[:300])
        counts[path] = len(statements)
    return counts


class TestNoNPlusOne:
    async def test_listings_send_as_many_statements_for_12_mentors_as_for_2(
        self, api: httpx.AsyncClient, services: Services
    ) -> None:
        await signed_in(api)  # the admin dashboard reads with the session cookie
        await add_mentors(api, services, 0, 2)
        few = await statements_per_route(api, services)
        await add_mentors(api, services, 2, 12)
        many = await statements_per_route(api, services)
        assert many == few
        assert all(count >= 1 for count in few.values()), few  # each listing did reach the database


class TestBookingRoundTrips:
    """Each statement of a booking is a round trip; under load each is one more wait for a busy
    database or core, so their number is held here."""

    async def test_a_booking_sends_two_statements_whatever_the_endpoints_and_the_start(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator
    ) -> None:
        await linked_mentor(api, simulator)

        async def statements_of_a_booking(start: datetime) -> list[str]:
            with counting(services) as statements:
                response = await book(api, booking(start))
            assert response.status_code == 201, response.text
            return [s.split()[0] for s in statements]

        # The mentor's booking target (cached from then on); the mentor's row, read while Cal.com
        # books; then one write batch with the session, its emails, event, deliveries, analytics
        # and counters (core/write_batch.py).
        first = await statements_of_a_booking(NOW + timedelta(hours=4))  # no endpoint; no reminder to come
        assert first == ["SELECT", "SELECT", "WITH"], first
        counts = [len(await statements_of_a_booking(NOW + timedelta(hours=4, minutes=15)))]
        for _ in range(2):
            created = await api.post("/api/v2/webhooks", json={"url": "http://127.0.0.1:9/h"}, headers=ADMIN)
            assert created.status_code == 201, created.text
        assert await statements_of_a_booking(NOW + timedelta(hours=5)) == ["SELECT", "WITH"]  # two endpoints
        counts.append(len(await statements_of_a_booking(SLOT)))  # two endpoints; a reminder to come
        assert counts == [2, 2], counts

    async def test_a_bookings_write_batch_is_built_once_and_compiled_once(
        self, api: httpx.AsyncClient, services: Services, simulator: CalcomSimulator
    ) -> None:
        """The batch's statement is kept per sequence of shapes, and SQLAlchemy reuses its compiled
        form only when it has a cache key: a write it cannot cache (a multi-row INSERT, say) would
        cost a compile at every booking."""
        await linked_mentor(api, simulator)
        write_batch._TEMPLATES.clear()
        for minutes in (0, 15, 30):
            response = await book(api, booking(SLOT + timedelta(minutes=minutes)))
            assert response.status_code == 201, response.text
        assert len(write_batch._TEMPLATES) == 1  # three bookings, one statement built
        [statement] = write_batch._TEMPLATES.values()
        assert statement._generate_cache_key() is not None
