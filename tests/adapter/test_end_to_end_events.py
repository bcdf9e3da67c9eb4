"""Done-when of the webhooks issue, end to end through the simulator: book, reschedule, end, rate;
Cal.com's webhooks flow into the sidecar; the website's receiver gets every Thotis event once per
`webhook-id`, each verifying; statistics and trends match what happened."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import httpx
from litestar import Litestar
from standardwebhooks import Webhook

from adapter.services import Services
from calcom_client.simulator import CalcomSimulator
from core.clock import FixedClock
from tests.adapter.helpers import ADMIN, SERVICE, inbox_deps
from tests.adapter.test_availability import linked_mentor
from tests.adapter.test_bookings import SLOT, book, booking
from tests.adapter.test_outbound_webhooks import add_endpoint, deliver
from tests.calcom_client.simulator.support import Receiver
from tests.conftest import WEBHOOK_SECRET
from webhooks_in import inbox

TRIGGERS = ["BOOKING_CREATED", "BOOKING_CANCELLED", "BOOKING_RESCHEDULED", "MEETING_ENDED", "BOOKING_NO_SHOW_UPDATED"]


class TestEndToEnd:
    async def test_book_reschedule_end_rate_reach_the_website_once_each(
        self, api: httpx.AsyncClient, app: Litestar, services: Services, simulator: CalcomSimulator
    ) -> None:
        endpoint = await add_endpoint(api)
        user = await linked_mentor(api, simulator)
        before = (await api.get("/api/v2/students/m1", headers=SERVICE)).json()["data"]  # now cached
        assert before["stats"]["scheduledSessions"] == 0 and before["totalRatings"] == 0
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sidecar") as to_app:
            simulator.use_webhook_client(to_app)
            simulator.subscribe("http://sidecar/webhooks/calcom", TRIGGERS, user=user, secret=WEBHOOK_SECRET)
            first = (await book(api, booking())).json()["data"]
            moved = await api.patch(
                f"/api/v2/bookings/{first['uid']}/reschedule",
                json={"start": (SLOT + timedelta(hours=1)).isoformat()},
                headers=SERVICE,
            )
            session = moved.json()["data"]
            other = (await book(api, booking(SLOT + timedelta(hours=2)))).json()["data"]
            await simulator.drain_webhooks()
            assert simulator.end_meeting(session["uid"]) == 1
            await simulator.drain_webhooks()
            assert [d.status_code for d in simulator.deliveries] == [200] * len(simulator.deliveries)
            sent = Counter(d.trigger for d in simulator.deliveries)
            assert sent == Counter({"BOOKING_CREATED": 3, "BOOKING_CANCELLED": 1, "MEETING_ENDED": 1})
        after = SLOT + timedelta(hours=1, minutes=30)
        services.clock = FixedClock(after)
        await inbox.process_pending(inbox_deps(services))
        link = await api.post(f"/api/v2/bookings/{session['uid']}/rating-link", headers=SERVICE)
        token = link.json()["data"]["token"]
        rated = await api.post(
            f"/api/v2/bookings/{session['uid']}/rating",
            json={"rating": 4, "feedback": "Clair et utile"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert rated.status_code == 201, rated.text

        receiver = Receiver()
        await deliver(services, receiver, after)
        await deliver(services, receiver, after + timedelta(minutes=1))  # nothing is sent twice
        verifier = Webhook(endpoint["secret"])
        ids = [item.headers["webhook-id"] for item in receiver.received]
        assert len(ids) == len(set(ids))
        for item in receiver.received:
            verifier.verify(item.body, item.headers)
        assert Counter(event["type"] for event in receiver.payloads()) == Counter(
            {"booking.created": 2, "booking.rescheduled": 1, "booking.completed": 1, "rating.submitted": 1}
        )

        stats = (await api.get("/api/v2/students/m1/stats", headers=SERVICE)).json()["data"]
        assert (stats["completedSessions"], stats["scheduledSessions"], stats["cancelledSessions"]) == (1, 1, 0)
        assert (stats["averageRating"], stats["totalRatings"]) == (4.0, 1)
        # Property 22 after a real history: the public profile (cached before it) shows the same.
        public = (await api.get("/api/v2/students/m1", headers=SERVICE)).json()["data"]
        assert public["stats"] == stats
        assert (public["averageRating"], public["totalRatings"]) == (4.0, 1)
        day = SLOT.date().isoformat()
        trends = await api.get(
            "/api/v2/platform/stats", params={"granularity": "day", "from": day, "to": day}, headers=ADMIN
        )
        [bucket] = trends.json()["data"]["trends"]
        assert bucket == {"period": day, "booked": 3, "completed": 1, "cancelled": 1, "noShow": 0}
        assert other["status"] == "scheduled"
