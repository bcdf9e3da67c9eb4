"""`CalcomSimulator`: the Python face of the simulator (seeding, clock, latency, webhooks).

Typical use in a test::

    sim = CalcomSimulator(webhook_client=httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver)))
    sim.now = datetime(2050, 9, 5, 6, 0, tzinfo=UTC)
    mentor = sim.add_user("alice", "alice@example.com")           # mentor.api_key is a cal_… key
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim.app), base_url="http://calcom.test") as c:
        ...                                                       # call /v2/... exactly as on Cal.com
    await sim.drain_webhooks()                                    # wait for webhook deliveries
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx

from calcom_client.simulator.app import Fault, Knobs, SimulatorApp
from calcom_client.simulator.errors import not_found
from calcom_client.simulator.service import CalcomService
from calcom_client.simulator.state import (
    DEFAULT_WEEKLY_SCHEDULE,
    Attendee,
    Booking,
    Clock,
    Delivery,
    EventType,
    Store,
    Subscription,
    User,
    WeeklySchedule,
    hash_api_key,
)
from calcom_client.simulator.timefmt import load_zone
from calcom_client.simulator.webhooks import MeetingShape, WebhookDispatcher

GOOGLE_MEET_LOCATION = {"type": "integration", "integration": "google-meet"}


class CalcomSimulator:
    """An in-process stand-in for a self-hosted Cal.com API v2, including the webhooks it sends.

    Args:
        webhook_client: the client used to POST webhooks (route it in-process with
            `httpx.ASGITransport`); by default the simulator makes and closes its own.
        clock: source of the current time (default: real UTC); `sim.now = …` pins it.
        delay_seconds: latency added to every API response (benchmarks).
        seed: seed for uids, keys and Meet links, for reproducible runs.
        web_url: the Cal.com web app URL used in `bookerUrl` and Cal Video links.
        keep_meet_link_on_reschedule: Cal.com's reschedule updates the same Google event and keeps
            its Meet link; set False to model a new link.
        send_webhook_version_header: add `X-Cal-Webhook-Version: 2021-10-20` as later Cal.com does.
        meeting_webhook_shape: `"flat"` (the pinned version's MEETING_* body) or `"envelope"` (later).
    """

    def __init__(
        self,
        *,
        webhook_client: httpx.AsyncClient | None = None,
        clock: Callable[[], datetime] | None = None,
        delay_seconds: float = 0.0,
        seed: int | None = None,
        web_url: str = "https://cal.simulator",
        keep_meet_link_on_reschedule: bool = True,
        send_webhook_version_header: bool = False,
        meeting_webhook_shape: MeetingShape = "flat",
        webhook_timeout: float = 10.0,
    ) -> None:
        self.store = Store(rng=random.Random(seed))
        self.clock = Clock(clock)
        self.dispatcher = WebhookDispatcher(
            self.store,
            self.clock,
            client=webhook_client,
            timeout=webhook_timeout,
            send_version_header=send_webhook_version_header,
            meeting_shape=meeting_webhook_shape,
        )
        self.service = CalcomService(
            self.store, self.clock, self.dispatcher, web_url=web_url, keep_meet_link=keep_meet_link_on_reschedule
        )
        self.knobs = Knobs(delay_seconds=delay_seconds)
        self.app = SimulatorApp(self.service, self.knobs)

    # Clock and knobs

    @property
    def now(self) -> datetime:
        """The simulator's current time (UTC)."""
        return self.clock.now()

    @now.setter
    def now(self, moment: datetime) -> None:
        self.clock.pin(moment)

    def advance(self, delta: timedelta) -> None:
        """Move the (pinned) clock forward."""
        self.clock.advance(delta)

    @property
    def delay_seconds(self) -> float:
        """Latency added to every API response."""
        return self.knobs.delay_seconds

    @delay_seconds.setter
    def delay_seconds(self, value: float) -> None:
        self.knobs.delay_seconds = value

    @property
    def license_valid(self) -> bool:
        """False makes every API-key request a 401, as a self-host without CALCOM_LICENSE_KEY."""
        return self.knobs.license_valid

    @license_valid.setter
    def license_valid(self, value: bool) -> None:
        self.knobs.license_valid = value

    def fail_next(
        self, status: int = 503, *, times: int = 1, method: str | None = None, path_prefix: str | None = None
    ) -> None:
        """Answer the next `times` matching requests with `status` (429, 500, 502, 503, 504…)."""
        self.knobs.faults.append(Fault(status, times, method, path_prefix))

    # Seeding

    def continue_ids_after(self, kind: str, last: int) -> None:
        """Make the next id of `kind` ("booking", "user", "event_type"…) follow `last`.

        A simulator restarts its sequences; a sidecar that kept ids from an earlier run uses this
        so new ids never collide with stored ones, as a real Cal.com's never do.
        """
        self.store._counters[kind] = max(self.store._counters.get(kind, 0), last)

    def add_user(
        self,
        username: str,
        email: str,
        *,
        name: str | None = None,
        time_zone: str = "Europe/Paris",
        api_key: str | None = None,
        weekly_schedule: WeeklySchedule | None = None,
        google_meet: bool = True,
        time_format: int = 24,
    ) -> User:
        """Create a user with an API key (`user.api_key`) and a weekly schedule (default Mon–Fri 9–18).

        `google_meet=False` models a user without Google Calendar/Meet connected.
        """
        if load_zone(time_zone) is None:
            raise ValueError(f"unknown time zone {time_zone!r}")
        key = api_key or self.store.new_api_key()
        user = User(
            id=self.store.next_id("user"),
            username=username,
            email=email,
            name=name or username,
            time_zone=time_zone,
            api_key=key,
            weekly_schedule=dict(weekly_schedule or DEFAULT_WEEKLY_SCHEDULE),
            google_meet=google_meet,
            time_format=time_format,
        )
        user.default_schedule_id = user.id
        self.store.users[user.id] = user
        self.store.api_keys[hash_api_key(key)] = user.id
        return user

    def add_busy(self, user: User | int, start: datetime, end: datetime) -> None:
        """Mark [start, end) busy for `user`, as an event in their external calendar."""
        owner = self._user(user)
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("busy intervals need timezone-aware datetimes")
        owner.busy.append((start, end))

    def add_event_type(
        self,
        user: User | int,
        *,
        title: str,
        slug: str,
        length: int = 15,
        locations: list[dict[str, Any]] | None = None,
        minimum_booking_notice: int = 120,
        slot_interval: int | None = None,
        description: str = "",
        booking_fields: list[dict[str, Any]] | None = None,
    ) -> EventType:
        """Create an event type directly (as the user would in Cal.com's web app); Meet by default."""
        return self.service.create_event_type(
            self._user(user),
            title=title,
            slug=slug,
            length=length,
            locations=[dict(loc) for loc in locations] if locations is not None else [dict(GOOGLE_MEET_LOCATION)],
            minimum_booking_notice=minimum_booking_notice,
            slot_interval=slot_interval,
            description=description,
            booking_fields=list(booking_fields or []),
        )

    def subscribe(
        self,
        url: str,
        triggers: Iterable[str],
        *,
        user: User | int | None = None,
        event_type: EventType | int | None = None,
        secret: str | None = None,
        active: bool = True,
    ) -> Subscription:
        """Register a webhook subscription directly (user level or event-type level)."""
        event_type_id = event_type.id if isinstance(event_type, EventType) else event_type
        sub = Subscription(
            id=self.store.new_uuid(),
            subscriber_url=url,
            triggers=list(triggers),
            active=active,
            secret=secret,
            payload_template=None,
            user_id=self._user(user).id if user is not None else None,
            event_type_id=event_type_id,
        )
        self.store.subscriptions[sub.id] = sub
        return sub

    # Acting directly in Cal.com (booking page, mentor's dashboard)

    def book(
        self,
        event_type: EventType | int,
        start: datetime,
        *,
        name: str,
        email: str,
        time_zone: str = "Europe/Paris",
        notes: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        fields: Mapping[str, Any] | None = None,
    ) -> Booking:
        """Book as an attendee would on Cal.com's booking page (same rules, same webhooks)."""
        et = self._event_type(event_type)
        extra = dict(fields or {})
        if notes is not None:
            extra["notes"] = notes
        attendee = Attendee(name=name, email=email, time_zone=time_zone)
        return self.service.create_booking(
            et, start=start, attendee=attendee, fields=extra, metadata=dict(metadata or {})
        )

    def cancel(self, uid: str, reason: str | None = None, *, by: str | None = None) -> Booking:
        """Cancel a booking from Cal.com itself (sends BOOKING_CANCELLED)."""
        return self.service.cancel_booking(uid, reason=reason, cancelled_by=by)

    def reschedule(self, uid: str, start: datetime, *, by: str | None = None, reason: str | None = None) -> Booking:
        """Reschedule from Cal.com itself: new booking, old one cancelled (sends BOOKING_RESCHEDULED)."""
        return self.service.reschedule_booking(uid, start=start, rescheduled_by=by, reason=reason)

    def booking(self, uid: str) -> Booking:
        """The stored booking `uid`.

        Raises:
            CalcomError: 404 when unknown.
        """
        found = self.store.bookings.get(uid)
        if found is None:
            raise not_found(f"Booking with uid={uid} was not found in the database")
        return found

    # Webhooks

    @property
    def deliveries(self) -> list[Delivery]:
        """Every webhook delivery attempted so far, with its outcome."""
        return self.dispatcher.deliveries

    def start_meeting(self, uid: str) -> int:
        """Send the booking's pending MEETING_STARTED jobs now; returns how many were sent."""
        return self.dispatcher.fire_meeting_jobs(uid, "MEETING_STARTED")

    def end_meeting(self, uid: str) -> int:
        """Send the booking's pending MEETING_ENDED jobs now; returns how many were sent.

        Jobs are created at booking time for the subscriptions existing then, and deleted by a
        cancellation or reschedule, as Cal.com's scheduled webhook triggers are.
        """
        return self.dispatcher.fire_meeting_jobs(uid, "MEETING_ENDED")

    def run_webhook_cron(self) -> int:
        """What Cal.com's `/api/cron/webhookTriggers` does at `sim.now`: send every due MEETING_* job."""
        return self.dispatcher.run_due_jobs(self.clock.now())

    def use_webhook_client(self, client: httpx.AsyncClient) -> None:
        """Send webhooks through `client` from now on (e.g. an ASGI transport to the app under test)."""
        self.dispatcher.use_client(client)

    async def drain_webhooks(self) -> None:
        """Wait until every scheduled webhook delivery has finished."""
        await self.dispatcher.drain()

    async def aclose(self) -> None:
        """Finish deliveries and release the webhook client if the simulator created it."""
        await self.dispatcher.aclose()

    async def __aenter__(self) -> CalcomSimulator:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # Helpers

    def _user(self, user: User | int) -> User:
        user_id = user.id if isinstance(user, User) else user
        found = self.store.users.get(user_id)
        if found is None:
            raise KeyError(f"no simulator user {user_id}")
        return found

    def _event_type(self, event_type: EventType | int) -> EventType:
        event_type_id = event_type.id if isinstance(event_type, EventType) else event_type
        found = self.store.event_types.get(event_type_id)
        if found is None:
            raise KeyError(f"no simulator event type {event_type_id}")
        return found


def create_simulator(**options: Any) -> CalcomSimulator:
    """A new simulator (see `CalcomSimulator` for the options)."""
    return CalcomSimulator(**options)
