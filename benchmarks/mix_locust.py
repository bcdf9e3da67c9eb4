"""The load generator of the `mix` phase: locust users sending a realistic mix of requests.

One process, started by `benchmarks.mix_bench` (never inside the server): 100 users at a fixed
total rate (`constant_throughput`), each request drawn by weight from the routes people and
Cal.com actually call — the mentor directory, profiles, availability, bookings and Cal.com's
webhooks. Every answer is recorded with its status; the figures go out as JSON.

    python -m benchmarks.mix_locust --host http://127.0.0.1:8000 --plan plan.json \
        --users 100 --rate 500 --warmup 5 --duration 30 --server-pid 1234 --out result.json

`plan.json` (written by mix_bench) holds the mentors, the free slots bookings take one by one,
the webhook secret and the weights; the bearer token comes in $BENCH_TOKEN.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import itertools
import json
import os
import random
import time
from collections import Counter
from typing import Any
from urllib.parse import urlencode

import gevent
from locust import FastHttpUser, constant_throughput, task

from benchmarks.loadgen import drive
from benchmarks.recording import TOKEN_ENV, Recorder
from benchmarks.routes import MIX_WEIGHTS
from calcom_client.transport import BOOKINGS_VERSION

#: Weights of extra requests sent straight to Cal.com (the simulator), not to the sidecar, beside
#: the mix's (`routes.MIX_WEIGHTS`): Cal.com's own latency under the same load, which SPEC.md §8
#: measures the sidecar's calls against. `calcom` is the slots call an availability miss makes;
#: `calcom-booking` is the booking call the sidecar's booking makes, on a free slot of its own
#: (Cal.com then sends the sidecar its webhook, as for any booking made in Cal.com directly), a
#: third as often as the mix's bookings so that a heavier `booking` weight gets a sharper reference.
CALCOM_SLOTS_WEIGHT = 2
#: Answers that are the expected outcome of a request rather than an error (a slot someone else
#: took first is a 409 SLOT_UNAVAILABLE).
EXPECTED = {"booking": {201, 409}, "webhook": {200, 202}}


class Plan:
    """What the users share: mentors, free slots handed out once each, the webhook secret."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.mentors: list[str] = data["mentors"]
        self.fields: list[str] = data["fields"]
        # gevent: one thread, so a shared iterator hands each slot once; earlier runs took the first ones.
        self.slots = iter(data["slots"][int(data.get("slots_taken", 0)) :])
        self.secret: bytes = data["webhook_secret"].encode()
        self.weights: dict[str, int] = {k: w for k, w in (data.get("weights") or MIX_WEIGHTS).items() if w > 0}
        self.webhooks = itertools.count()
        self.bookings = itertools.count()
        self.calcom_url: str | None = data.get("calcom_url")
        #: Mentor → their Cal.com event type id and API key (the probes call Cal.com as the sidecar does).
        self.event_types: dict[str, int] = data.get("event_types") or {}
        self.api_keys: dict[str, str] = data.get("api_keys") or {}
        self.calcom_slots = iter(data.get("calcom_slots", [])[int(data.get("calcom_slots_taken", 0)) :])
        self.calcom_bookings = itertools.count()

    def probes(self) -> dict[str, int]:
        """The Cal.com probes this plan sends, with their weights (see CALCOM_SLOTS_WEIGHT)."""
        if not (self.calcom_url and self.event_types):
            return {}
        probes = {"calcom": CALCOM_SLOTS_WEIGHT}
        if self.api_keys and (booking := self.weights.get("booking", 0)):
            probes["calcom-booking"] = max(1, round(booking / 3))
        return probes


def signed_webhook(secret: bytes, n: int) -> tuple[bytes, str]:
    """A Cal.com BOOKING_CREATED for an event type that is not a mentor's (stored, then ignored)."""
    sent = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    start = (dt.datetime(2031, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=15 * n)).strftime("%Y-%m-%dT%H:%M:%SZ")
    payload = {
        "type": "other-15", "startTime": start, "endTime": start, "uid": f"mix{os.getpid()}x{n:012d}",
        "bookingId": n + 1, "eventTypeId": 888_888, "metadata": {}, "status": "ACCEPTED",
        "attendees": [{"email": f"mix-{n}@example.org", "name": "Mix", "timeZone": "UTC"}],
        "organizer": {"email": "someone@example.org"},
    }  # fmt: skip
    body = json.dumps({"triggerEvent": "BOOKING_CREATED", "createdAt": sent, "payload": payload}).encode()
    return body, hmac.new(secret, body, hashlib.sha256).hexdigest()


class MixUser(FastHttpUser):
    """One visitor or integration on its own keep-alive connection; see routes.MIX_WEIGHTS."""

    abstract = True
    plan: Plan
    token = ""
    per_user_rate = 1.0
    network_timeout = 30.0
    connection_timeout = 5.0

    def on_start(self) -> None:
        self._auth = {"Authorization": f"Bearer {self.token}"}
        weights = {**self.plan.weights, **self.plan.probes()}
        self._names, self._weights = list(weights), list(weights.values())
        # Spread the users' phases, then re-anchor locust's pacing (see locustfile.Reader.on_start).
        gevent.sleep(random.uniform(0, 1 / self.per_user_rate))
        self._cp_last_run = time.perf_counter()
        self._cp_last_wait_time = 0

    @task
    def one(self) -> None:
        route = random.choices(self._names, self._weights)[0]
        getattr(self, "_" + route.replace("-", "_"))()

    def _list(self) -> None:
        field = random.choice(self.plan.fields)
        self.client.get(f"/api/v2/students/by-field/{field}", headers=self._auth, name="list")

    def _profile(self) -> None:
        self.client.get(f"/api/v2/students/{random.choice(self.plan.mentors)}", headers=self._auth, name="profile")

    def _availability(self) -> None:
        mentor = random.choice(self.plan.mentors)
        query = urlencode({"timeZone": "Europe/Paris"})
        self.client.get(f"/api/v2/students/{mentor}/availability?{query}", headers=self._auth, name="availability")

    def _calcom(self) -> None:
        """Cal.com's own answer to the call an availability miss makes (default range, UTC)."""
        now = dt.datetime.now(dt.UTC)
        query = urlencode(
            {
                "eventTypeId": random.choice(list(self.plan.event_types.values())),
                "start": (now + dt.timedelta(hours=2)).isoformat(),
                "end": (now + dt.timedelta(days=30)).isoformat(),
                "timeZone": "UTC",
                "format": "range",
            }
        )
        headers = {"cal-api-version": "2024-09-04"}
        self.client.get(f"{self.plan.calcom_url}/v2/slots?{query}", headers=headers, name="calcom")

    def _calcom_booking(self) -> None:
        """Cal.com's own answer to the booking call the sidecar's booking makes, on another free slot."""
        slot = next(self.plan.calcom_slots, None)
        if slot is None:
            self._no_slot_left("calcom-booking")
            return
        mentor, start = slot
        n = next(self.plan.calcom_bookings)
        body = {
            "start": start.replace("+00:00", "Z"), "eventTypeId": self.plan.event_types[mentor],
            "attendee": {"name": f"Mix Visitor {n}", "email": f"mix-cal-{n}@example.com", "timeZone": "UTC"},
        }  # fmt: skip
        headers = {"cal-api-version": BOOKINGS_VERSION, "Authorization": f"Bearer {self.plan.api_keys[mentor]}"}
        self.client.post(f"{self.plan.calcom_url}/v2/bookings", json=body, headers=headers, name="calcom-booking")

    def _no_slot_left(self, route: str) -> None:
        """Every free slot of this route's pool is taken: record it, so the report says so."""
        self.environment.events.request.fire(
            request_type="SKIP", name=route, response_time=0, response_length=0,
            exception=RuntimeError("no free slot left"), response=None, context={},
        )  # fmt: skip

    def _booking(self) -> None:
        slot = next(self.plan.slots, None)
        if slot is None:
            self._no_slot_left("booking")
            return
        mentor, start = slot
        n = next(self.plan.bookings)
        body = {
            "mentorId": mentor, "start": start, "consent": True,
            "prospectiveStudent": {
                "name": f"Mix Student {n}", "email": f"mix-{n}@example.com", "timeZone": "Europe/Paris",
                "language": random.choice(("fr", "en")),
            },
        }  # fmt: skip
        with self.client.post(
            "/api/v2/bookings", json=body, headers=self._auth, name="booking", catch_response=True
        ) as response:
            if response.status_code in EXPECTED["booking"]:
                response.success()

    def _webhook(self) -> None:
        body, signature = signed_webhook(self.plan.secret, next(self.plan.webhooks))
        headers = {"Content-Type": "application/json", "X-Cal-Signature-256": signature}
        with self.client.post(
            "/webhooks/calcom", data=body, headers=headers, name="webhook", catch_response=True
        ) as response:
            if response.status_code in EXPECTED["webhook"]:
                response.success()


def run(args: argparse.Namespace) -> dict[str, Any]:
    with open(args.plan, encoding="utf-8") as source:
        plan = Plan(json.load(source))
    per_user_rate = args.rate / args.users
    user_class = type(
        "Mix",
        (MixUser,),
        {
            "abstract": False, "host": args.host, "plan": plan, "token": args.token,
            "per_user_rate": per_user_rate, "wait_time": constant_throughput(per_user_rate),
        },
    )  # fmt: skip
    recorder, statuses = Recorder(), Counter[str]()
    figures = drive(user_class, args, recorder, statuses)
    return {
        **recorder.as_json([*plan.weights, *plan.probes()]),
        "statuses": dict(statuses),
        "bookings_sent": next(plan.bookings),
        "calcom_bookings_sent": next(plan.calcom_bookings),
        "target_rate": args.rate,
        "users": args.users,
        **figures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Locust generator of the mix phase (see benchmarks/README.md).")
    parser.add_argument("--host", required=True)
    parser.add_argument("--plan", required=True, help="JSON written by benchmarks.mix_bench")
    parser.add_argument("--token", default=os.environ.get(TOKEN_ENV, ""))
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--rate", type=float, default=500.0, help="Total req/s (open loop)")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--server-pid", type=int, default=None)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.users < 1 or args.rate <= 0 or args.duration <= 0 or args.warmup < 0:
        parser.error("--users ≥ 1, --rate > 0, --duration > 0, --warmup ≥ 0")
    with open(args.out, "w", encoding="utf-8") as out:
        json.dump(run(args), out)


if __name__ == "__main__":
    main()
