"""Sending webhooks the way Cal.com does: signed raw JSON, one POST per subscription, no retries.

Each delivery runs as its own asyncio task so an API response never waits for a subscriber: the
subscriber may be an ASGI app on the same event loop that calls back into the simulator, and
awaiting it inline would deadlock. `drain()` lets tests wait for every pending delivery. Failures
(network errors, non-2xx) are recorded in `deliveries`, never raised, as Cal.com only logs them.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal

import httpx

from calcom_client.simulator.state import Booking, Clock, Delivery, ScheduledTrigger, Store, Subscription
from calcom_client.simulator.timefmt import js_iso

NO_SECRET_SIGNATURE = "no-secret-provided"
WEBHOOK_VERSION = "2021-10-20"
MEETING_TRIGGERS = ("MEETING_STARTED", "MEETING_ENDED")
MeetingShape = Literal["flat", "envelope"]


def sign(body: bytes, secret: str | None) -> str:
    """`X-Cal-Signature-256`: lowercase hex HMAC-SHA256 of the exact body, or the no-secret literal."""
    if not secret:
        return NO_SECRET_SIGNATURE
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def encode(document: dict[str, Any]) -> bytes:
    """`JSON.stringify`: no whitespace, non-ASCII characters left as UTF-8."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


class WebhookDispatcher:
    """Find the subscriptions a booking event concerns and deliver to each of them once."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        client: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
        send_version_header: bool = False,
        meeting_shape: MeetingShape = "flat",
    ) -> None:
        self._store = store
        self._clock = clock
        self._client = client
        self._owns_client = client is None
        self._timeout = timeout
        self.send_version_header = send_version_header
        self.meeting_shape: MeetingShape = meeting_shape
        self.deliveries: list[Delivery] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._unstarted: list[tuple[Subscription, str, dict[str, Any], bool]] = []

    def use_client(self, client: httpx.AsyncClient) -> None:
        """Deliver through `client` (owned by the caller) from now on."""
        self._client, self._owns_client = client, False

    def matching(self, trigger: str, *, owner_id: int, event_type_id: int) -> list[Subscription]:
        """Active subscriptions of the booking's organizer or event type that listen to `trigger`."""
        return [
            sub
            for sub in self._store.subscriptions.values()
            if sub.active
            and trigger in sub.triggers
            and (sub.user_id == owner_id or sub.event_type_id == event_type_id)
        ]

    def emit(self, trigger: str, payload: dict[str, Any], *, owner_id: int, event_type_id: int) -> int:
        """Schedule one delivery of `{triggerEvent, createdAt, payload}` per matching subscription."""
        subscriptions = self.matching(trigger, owner_id=owner_id, event_type_id=event_type_id)
        for sub in subscriptions:
            self._spawn(sub, trigger, payload, flat=False)
        return len(subscriptions)

    def schedule_meeting_jobs(self, booking: Booking, snapshot: dict[str, Any]) -> None:
        """Record MEETING_STARTED/ENDED jobs for the subscriptions that exist now, as Cal.com does."""
        for trigger in MEETING_TRIGGERS:
            start_after = booking.start if trigger == "MEETING_STARTED" else booking.end
            for sub in self.matching(trigger, owner_id=booking.owner_id, event_type_id=booking.event_type_id):
                job = ScheduledTrigger(booking.uid, sub.id, trigger, start_after, snapshot)
                self._store.scheduled.append(job)

    def drop_meeting_jobs(self, booking_uid: str) -> None:
        """Cancelling or rescheduling a booking deletes its pending meeting jobs."""
        self._store.scheduled = [job for job in self._store.scheduled if job.booking_uid != booking_uid]

    def fire_meeting_jobs(self, booking_uid: str, trigger: str) -> int:
        """Send now the pending `trigger` jobs of one booking; each job is deleted after one attempt."""
        return self._fire(lambda job: job.booking_uid == booking_uid and job.trigger == trigger)

    def run_due_jobs(self, now: datetime) -> int:
        """What Cal.com's `/api/cron/webhookTriggers` does: send due jobs, drop those over a day old."""
        stale = now - timedelta(days=1)
        self._store.scheduled = [job for job in self._store.scheduled if job.start_after >= stale]
        return self._fire(lambda job: job.start_after <= now)

    def _fire(self, selected: Callable[[ScheduledTrigger], bool]) -> int:
        due = [job for job in self._store.scheduled if selected(job)]
        self._store.scheduled = [job for job in self._store.scheduled if job not in due]
        for job in due:
            sub = self._store.subscriptions.get(job.subscription_id)
            if sub is not None and sub.active:
                self._spawn(sub, job.trigger, job.snapshot, flat=self.meeting_shape == "flat")
        return len(due)

    def _spawn(self, sub: Subscription, trigger: str, payload: dict[str, Any], *, flat: bool) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            # Called from synchronous code (e.g. `sim.book` outside an event loop): send at the next drain.
            self._unstarted.append((sub, trigger, payload, flat))
            return
        task = loop.create_task(self._deliver(sub, trigger, payload, flat=flat))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, sub: Subscription, trigger: str, payload: dict[str, Any], *, flat: bool) -> None:
        now = self._clock.now()
        if flat:
            # At the pinned Cal.com version MEETING_* bodies are the flat booking row, no envelope.
            document: dict[str, Any] = {"triggerEvent": trigger, **payload}
        else:
            document = {"triggerEvent": trigger, "createdAt": js_iso(now), "payload": payload}
        body = encode(document)
        headers = {"Content-Type": "application/json", "X-Cal-Signature-256": sign(body, sub.secret)}
        if self.send_version_header:
            headers["X-Cal-Webhook-Version"] = WEBHOOK_VERSION
        delivery = Delivery(sub.id, sub.subscriber_url, trigger, body, headers, now)
        self.deliveries.append(delivery)
        try:
            response = await self._http().post(
                sub.subscriber_url, content=body, headers=headers, follow_redirects=False
            )
            delivery.status_code = response.status_code
        except Exception as exc:  # any failure is only logged by Cal.com, never retried
            delivery.error = f"{type(exc).__name__}: {exc}"

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout)
        return self._client

    @property
    def pending(self) -> int:
        """Deliveries scheduled but not finished."""
        return len(self._tasks) + len(self._unstarted)

    async def drain(self) -> None:
        """Wait until every scheduled delivery (including ones they trigger) has finished."""
        while self._tasks or self._unstarted:
            unstarted, self._unstarted = self._unstarted, []
            for sub, trigger, payload, flat in unstarted:
                self._spawn(sub, trigger, payload, flat=flat)
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        """Finish pending deliveries and close the HTTP client if the dispatcher created it."""
        await self.drain()
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None
