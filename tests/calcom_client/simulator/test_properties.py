"""Property tests of slots and bookings (numbers are the matching properties of PROPERTIES.md).

Each example builds a fresh simulator and talks to it through its ASGI handler synchronously
(`support.call`), validating every exchange against the OpenAPI document.
"""

from __future__ import annotations

import contextlib
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from calcom_client.simulator import CalcomSimulator, User
from calcom_client.simulator.errors import CalcomError
from calcom_client.simulator.service import OUT_OF_BOUNDS, UNAVAILABLE
from calcom_client.simulator.state import EventType
from tests.calcom_client.simulator.support import BOOKINGS, NOW, SLOTS, auth, booking_body, call

ZONES = ["Europe/Paris", "America/New_York", "Asia/Kolkata", "Pacific/Auckland", "UTC", "America/St_Johns"]
PAST = "Attempting to book a meeting in the past."


@st.composite
def day_windows(draw: st.DrawFn) -> tuple[tuple[time, time], ...]:
    """0–2 disjoint working windows on a quarter-hour grid within one day."""
    marks = sorted(draw(st.sets(st.integers(0, 95), max_size=4)))
    if len(marks) % 2:
        marks = marks[:-1]
    pairs = zip(marks[::2], marks[1::2], strict=True)
    return tuple((time(a // 4, a % 4 * 15), time(b // 4, b % 4 * 15)) for a, b in pairs)


@dataclass
class Scenario:
    """A mentor, their event type, busy times and existing bookings, and a slots query."""

    zone: str
    schedule: dict[int, tuple[tuple[time, time], ...]]
    length: int
    interval: int | None
    notice: int
    buffers: tuple[int, int]
    busy: list[tuple[datetime, datetime]]
    bookings: list[datetime]
    query_start: datetime
    query_end: datetime
    query_zone: str
    made: list[Any] = field(default_factory=list)


def instants(max_days: int = 4) -> st.SearchStrategy[datetime]:
    """Instants in the next few days on a 5-minute grid."""
    return st.integers(0, max_days * 24 * 12).map(lambda n: NOW + timedelta(minutes=5 * n))


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    busy_starts = draw(st.lists(instants(), max_size=4))
    start = NOW + timedelta(hours=draw(st.integers(-24, 72)))
    return Scenario(
        zone=draw(st.sampled_from(ZONES)),
        schedule={day: draw(day_windows()) for day in range(7)},
        length=draw(st.sampled_from([15, 30, 45, 60])),
        interval=draw(st.sampled_from([None, 10, 15, 30])),
        notice=draw(st.sampled_from([0, 30, 120, 600])),
        buffers=(draw(st.sampled_from([0, 5, 15])), draw(st.sampled_from([0, 10]))),
        busy=[(b, b + timedelta(minutes=draw(st.integers(1, 180)))) for b in busy_starts],
        bookings=draw(st.lists(instants(), max_size=5)),
        query_start=start,
        query_end=start + timedelta(hours=draw(st.integers(1, 72))),
        query_zone=draw(st.sampled_from(ZONES)),
    )


def build(scenario: Scenario) -> tuple[CalcomSimulator, User, EventType]:
    sim = CalcomSimulator(seed=1)
    sim.now = NOW
    user = sim.add_user("mentor", "mentor@example.com", time_zone=scenario.zone, weekly_schedule=scenario.schedule)
    event_type = sim.add_event_type(
        user,
        title="Session",
        slug="session",
        length=scenario.length,
        slot_interval=scenario.interval,
        minimum_booking_notice=scenario.notice,
    )
    event_type.before_event_buffer, event_type.after_event_buffer = scenario.buffers
    for busy_start, busy_end in scenario.busy:
        sim.add_busy(user, busy_start, busy_end)
    for start in scenario.bookings:
        with contextlib.suppress(CalcomError):  # most random starts are not bookable; keep those that are
            scenario.made.append(sim.book(event_type, start, name="Student", email="s@example.org"))
    return sim, user, event_type


def query_slots(sim: CalcomSimulator, event_type: EventType, scenario: Scenario, zone: str) -> dict[str, Any]:
    params = {
        "eventTypeId": event_type.id,
        "start": scenario.query_start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end": scenario.query_end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "timeZone": zone,
    }
    response = call(sim, "GET", "/v2/slots", params=params, headers=SLOTS)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def inside_schedule(scenario: Scenario, start: datetime, end: datetime) -> bool:
    """[start, end) lies in one working window of the local day it starts on (user's wall clock)."""
    zone = ZoneInfo(scenario.zone)
    for day in {start.astimezone(zone).date(), (start.astimezone(zone) - timedelta(days=1)).date()}:
        for opens, closes in scenario.schedule[day.weekday()]:
            window_start = datetime.combine(day, opens, tzinfo=zone).astimezone(UTC)
            window_end = datetime.combine(day, closes, tzinfo=zone).astimezone(UTC)
            if window_start <= start and end <= window_end:
                return True
    return False


def overlaps(start: datetime, end: datetime, intervals: list[tuple[datetime, datetime]]) -> bool:
    return any(start < other_end and other_start < end for other_start, other_end in intervals)


class TestSlotProperties:
    @given(scenario=scenarios(), data=st.data())
    def test_property_06_slots_lie_in_the_schedule_and_never_meet_busy_or_booked_time(
        self, scenario: Scenario, data: st.DataObject
    ) -> None:
        sim, _, event_type = build(scenario)
        length = timedelta(minutes=scenario.length)
        before, after = (timedelta(minutes=m) for m in scenario.buffers)
        taken = scenario.busy + [(b.start, b.end) for b in scenario.made]

        days = query_slots(sim, event_type, scenario, "UTC")
        starts = [datetime.fromisoformat(slot["start"]) for day in days.values() for slot in day]

        end = scenario.query_end
        if end.time() == time(0):  # Cal.com reads an `end` at midnight as 23:59:59 of that day
            end = end.replace(hour=23, minute=59, second=59)
        for start in starts:
            assert start >= NOW + timedelta(minutes=scenario.notice)
            assert scenario.query_start <= start and start + length <= end
            assert inside_schedule(scenario, start, start + length)
            assert not overlaps(start - before, start + length + after, taken)
        assert starts == sorted(set(starts))
        if starts:
            chosen = data.draw(st.sampled_from(starts))
            booked = sim.book(event_type, chosen, name="Next", email="next@example.org")
            assert booked.start == chosen  # every offered slot can be booked

    @given(scenario=scenarios())
    def test_property_05_slots_are_the_same_instants_in_any_zone(self, scenario: Scenario) -> None:
        sim, _, event_type = build(scenario)

        in_utc = query_slots(sim, event_type, scenario, "UTC")
        local = query_slots(sim, event_type, scenario, scenario.query_zone)

        zone = ZoneInfo(scenario.query_zone)
        local_starts = [(day, datetime.fromisoformat(s["start"])) for day, slots in local.items() for s in slots]
        assert sorted(s for _, s in local_starts) == [
            datetime.fromisoformat(s["start"]) for slots in in_utc.values() for s in slots
        ]
        for day, start in local_starts:
            assert start.utcoffset() == start.astimezone(zone).utcoffset()
            assert start.astimezone(zone).date().isoformat() == day


@st.composite
def operations(draw: st.DrawFn) -> list[tuple[str, int, datetime]]:
    """A sequence of book / cancel / reschedule requests (index picks an earlier booking)."""
    kind = st.sampled_from(["book", "book", "cancel", "reschedule"])
    return draw(st.lists(st.tuples(kind, st.integers(0, 10), instants(3)), min_size=1, max_size=8))


class TestBookingProperties:
    @given(zone=st.sampled_from(ZONES), steps=operations())
    def test_property_07_30_active_bookings_never_overlap_nor_share_a_meet_link(
        self, zone: str, steps: list[tuple[str, int, datetime]]
    ) -> None:
        sim = CalcomSimulator(seed=3)
        sim.now = NOW
        user = sim.add_user("mentor", "mentor@example.com", time_zone=zone)
        event_type = sim.add_event_type(user, title="Session", slug="session", length=15, minimum_booking_notice=120)
        uids: list[str] = []

        for kind, index, start in steps:
            when = start.strftime("%Y-%m-%dT%H:%M:%SZ")
            target = uids[index % len(uids)] if uids else None
            if target is None:
                kind = "book"
            if kind == "book":
                response = call(
                    sim, "POST", "/v2/bookings", headers=BOOKINGS, json_body=booking_body(event_type.id, when)
                )
            elif kind == "cancel":
                response = call(
                    sim,
                    "POST",
                    f"/v2/bookings/{target}/cancel",
                    headers=auth(user, **BOOKINGS),
                    json_body={"cancellationReason": "x"},
                )
            else:
                response = call(
                    sim, "POST", f"/v2/bookings/{target}/reschedule", headers=BOOKINGS, json_body={"start": when}
                )
            if response.is_success:
                data = response.json()["data"]
                uids.append(data["uid"])
                if kind == "reschedule":
                    old = call(sim, "GET", f"/v2/bookings/{target}", headers=BOOKINGS).json()["data"]
                    assert (old["status"], old["rescheduledToUid"]) == ("cancelled", data["uid"])
                    assert data["rescheduledFromUid"] == target
            else:
                message = response.json()["error"]["message"]
                assert response.status_code in (400, 404), message
                if message == UNAVAILABLE and kind == "book":
                    active = [(b.start, b.end) for b in sim.store.bookings.values() if b.active]
                    end = start + timedelta(minutes=15)
                    assert overlaps(start, end, active) or not _in_default_hours(zone, start, end)
                else:
                    assert message in (UNAVAILABLE, OUT_OF_BOUNDS, PAST) or "cancelled" in message

            active = sorted((b for b in sim.store.bookings.values() if b.active), key=lambda b: b.start)
            assert all(a.end <= b.start for a, b in itertools.pairwise(active))
            links = [b.metadata["videoCallUrl"] for b in active]
            assert len(links) == len(set(links))


def _in_default_hours(zone: str, start: datetime, end: datetime) -> bool:
    local_start, local_end = start.astimezone(ZoneInfo(zone)), end.astimezone(ZoneInfo(zone))
    return (
        local_start.weekday() < 5
        and local_start.date() == local_end.date()
        and time(9) <= local_start.time()
        and local_end.time() <= time(18)
    )
