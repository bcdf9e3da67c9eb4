"""The `calcom` phase: availability and booking against Cal.com, as production runs them.

`python -m benchmarks.run --phases calcom [--calcom-delay-ms 50] [--calcom-rates 500,200,20]`.
Starts `thotis simulator` (the Cal.com simulator as its own server, adding a fixed delay to every
answer, sending its webhooks to the sidecar), links the sample mentors to it (`thotis seed
--link`) in a fresh database, starts `thotis serve --workers N` pointed at it by URL, then
measures with N users, each on its own keep-alive connection, at a fixed total rate (open loop,
SPEC.md §8; rate 0 = closed loop, as fast as they go): availability served from the cache,
availability that misses it (a new range per request), and booking (a distinct free slot per
request). Targets: hit p99 ≤ 50 ms, miss p99 ≤ delay + 20 ms, booking p99 ≤ delay + 30 ms.
Writes `results/calcom.md`. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import json
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import httpx

from benchmarks.closedloop import RECONNECT_PAUSE_S, read_response
from benchmarks.cpu import CpuSnapshot, tree_cpu_seconds
from benchmarks.recording import Recorder
from benchmarks.report import MIN_ACHIEVED_SHARE, P99_TARGET_MS, Phase, latency_cells, samples
from benchmarks.run import _cleanup, log_problems
from benchmarks.stack import (
    ROOT,
    Names,
    Server,
    app_server,
    create_database,
    database_url,
    migrate_and_seed,
    service_token,
)
from calcom_client.inputs import utc_iso
from calcom_client.transport import BOOKINGS_VERSION, EVENT_TYPES_VERSION, SLOTS_VERSION
from core.local_servers import clean_env, free_port
from core.settings import DEMO_CALCOM_WEBHOOK_SECRET
from thotis_ext.seed import demo_api_key

#: SPEC.md §8: what the sidecar may add to Cal.com's own latency (p99).
MISS_EXTRA_TARGET_MS = 20.0
BOOKING_EXTRA_TARGET_MS = 30.0
#: Sample mentors per field (10 fields), `demo-mentor-01…`, each a user of the simulator.
DEMO_PER_FIELD = 3
FIELDS = 10
#: The miss ranges start this far ahead (past the 2 h booking notice) and last a day.
MISS_OFFSET = dt.timedelta(hours=3)
MISS_SPAN = dt.timedelta(days=1)
MISS_MINUTES = 28 * 24 * 60  # distinct start minutes per mentor that stay inside the 30-day window
#: Extra time a measurement gets beyond warm-up + duration before its connections are cancelled.
GRACE_S = 30.0
#: Bound on one request (slot fetch before booking).
REQUEST_TIMEOUT_S = 30.0

RequestFactory = Callable[[], bytes | None]


@dataclass(frozen=True, slots=True)
class CalcomOptions:
    postgres_url: str
    redis_url: str
    delay_ms: float
    users: int
    workers: int
    #: Total req/s of the hit, miss and booking measurements (0: closed loop).
    rates: tuple[float, float, float]
    warmup: float
    duration: float
    out: Path
    command: str


@dataclass(slots=True)
class Measured:
    """One measurement: the usual Phase, plus every HTTP status seen (409s are not errors)."""

    phase: Phase
    statuses: Counter[int] = field(default_factory=Counter)
    note: str = ""
    simulator_cores: float = 0.0
    #: The same load sent to Cal.com directly: its own latency at that rate.
    calcom: Measured | None = None


@dataclass(slots=True)
class Stack:
    """The processes under test: the sidecar (`thotis serve`) and Cal.com (`thotis simulator`)."""

    sidecar: Server
    simulator: Server


def mentor_ids() -> list[str]:
    return [f"demo-mentor-{i:02d}" for i in range(1, DEMO_PER_FIELD * FIELDS + 1)]


def simulator_server(*, delay_ms: float, webhook_url: str, log_path: Path) -> Server:
    """`thotis simulator`: Cal.com as its own process, the sample mentors' users, webhooks to the sidecar."""
    port = free_port()
    env = clean_env(
        {
            "THOTIS_ENV": "test",
            "THOTIS_CALCOM_SIMULATOR_DELAY_MS": f"{delay_ms:g}",
            "THOTIS_CALCOM_WEBHOOK_SECRET": DEMO_CALCOM_WEBHOOK_SECRET,
        }
    )
    argv = [
        sys.executable, "-m", "adapter.cli", "simulator", "--port", str(port),
        "--per-field", str(DEMO_PER_FIELD), "--webhook-url", webhook_url,
    ]  # fmt: skip
    first = mentor_ids()[0]
    auth = {"Authorization": f"Bearer {demo_api_key(first)}"}
    return Server("calcom-simulator", argv, env, port, log_path, "/v2/me", auth)


def raw_request(server: Server, method: str, path: str, token: str, body: bytes = b"", **headers: str) -> bytes:
    """The bytes of one HTTP/1.1 request (keep-alive) with a Bearer token and extra headers."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}", f"Authorization: Bearer {token}"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _get(server: Server, token: str, path: str) -> bytes:
    return raw_request(server, "GET", path, token)


def _post(server: Server, token: str, path: str, body: bytes) -> bytes:
    return raw_request(server, "POST", path, token, body)


def availability_path(mentor: str, start: dt.datetime | None = None, end: dt.datetime | None = None) -> str:
    query = {"timeZone": "UTC"}
    if start is not None and end is not None:
        query |= {"start": start.isoformat(), "end": end.isoformat()}
    return f"/api/v2/students/{mentor}/availability?{urlencode(query)}"


async def _connection(
    port: int,
    route: str,
    next_request: RequestFactory,
    ok_status: int,
    recorder: Recorder,
    statuses: Counter[int],
    interval: float,
) -> None:
    """One user on one keep-alive connection, sending whatever `next_request` gives until it gives
    None or time is up: a request every `interval` s (constant throughput, as locust's; at once
    when the last one took longer), or back to back when `interval` is 0."""
    next_at = time.perf_counter() + random.uniform(0, interval)  # spread the users' phases
    while not recorder.stop:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError as exc:
            recorder.error(route, type(exc).__name__, repr(exc))
            await asyncio.sleep(RECONNECT_PAUSE_S)
            continue
        try:
            while not recorder.stop:
                if interval:
                    await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
                    next_at = max(next_at + interval, time.perf_counter())
                    if recorder.stop:
                        return
                request = next_request()
                if request is None:
                    return
                started = time.perf_counter()
                writer.write(request)
                status, body, keep_alive = await read_response(reader)
                elapsed_ms = (time.perf_counter() - started) * 1000
                if recorder.measuring:
                    statuses[status] += 1
                if status == ok_status:
                    recorder.ok(route, elapsed_ms)
                elif status != 409:  # SLOT_UNAVAILABLE is an answer, counted in `statuses`
                    recorder.error(route, f"HTTP {status}", body.decode("utf-8", "replace"))
                if not keep_alive:
                    break
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            recorder.error(route, type(exc).__name__, repr(exc))
            await asyncio.sleep(RECONNECT_PAUSE_S)
        finally:
            writer.close()


async def run_load(
    label: str,
    stack: Stack,
    next_request: RequestFactory,
    ok_status: int,
    rate: float,
    opts: CalcomOptions,
    *,
    target: Server | None = None,
) -> Measured:
    """`opts.users` users at `rate` req/s in all (0: as fast as they go) on `target` (the sidecar
    unless given): warm-up, then `opts.duration` s (less if requests run out)."""
    recorder, statuses = Recorder(), Counter[int]()
    interval = opts.users / rate if rate > 0 else 0.0
    port = (target or stack.sidecar).port
    tasks = [
        asyncio.create_task(_connection(port, label, next_request, ok_status, recorder, statuses, interval))
        for _ in range(opts.users)
    ]
    try:
        _, pending = await asyncio.wait(tasks, timeout=opts.warmup)
        start, simulator_start = CpuSnapshot.take(stack.sidecar.pid), tree_cpu_seconds(stack.simulator.pid)
        recorder.start()
        if pending:
            await asyncio.wait(pending, timeout=opts.duration)
        recorder.finish()
        cpu = CpuSnapshot.take(stack.sidecar.pid).cores_since(start)
        simulator_cores = (tree_cpu_seconds(stack.simulator.pid) - simulator_start) / cpu["window_s"]
    finally:
        # No new request from here; let the ones in flight finish (bounded) rather than hang up on
        # them, which the server would log as a 500 "client disconnected prematurely".
        recorder.stop = True
        await asyncio.wait(tasks, timeout=GRACE_S)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    result = {
        **recorder.as_json([label]),
        "target_rate": rate,
        "users": opts.users,
        "users_running": opts.users,
        **cpu,
    }
    measured = Measured(Phase.from_result(label, result), statuses, simulator_cores=simulator_cores)
    t = measured.phase.total
    print(
        f"  {label}: {t.rps:.0f} req/s, p50 {t.p50:.1f} / p95 {t.p95:.1f} / p99 {t.p99:.1f} ms, "
        f"{t.errors} errors, statuses {dict(statuses)}",
        flush=True,
    )
    return measured


def _counter_factory(build: Callable[[int], bytes | None]) -> RequestFactory:
    """Requests built from 0, 1, 2, … (one shared counter: each index goes to one connection only)."""
    counter = itertools.count()
    return lambda: build(next(counter))


def event_type_ids(simulator: Server, mentors: list[str]) -> list[int]:
    """The Thotis event type id of each mentor, from the simulator's public event-type list."""
    ids = []
    with httpx.Client(base_url=simulator.base_url, timeout=10) as client:
        for mentor in mentors:
            response = client.get(
                "/v2/event-types", params={"username": mentor}, headers={"cal-api-version": EVENT_TYPES_VERSION}
            )
            if response.status_code != 200:
                raise RuntimeError(f"event types of {mentor} answered {response.status_code}: {response.text[:300]}")
            ids.append(int(response.json()["data"][0]["id"]))
    return ids


def free_slots(server: Server, token: str, mentors: list[str]) -> list[tuple[str, str]]:
    """Every free (mentor, start) of the demo mentors, interleaved across mentors."""
    per_mentor: list[list[tuple[str, str]]] = []
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
        for mentor in mentors:
            response = client.get(availability_path(mentor))
            if response.status_code != 200:
                raise RuntimeError(f"availability of {mentor} answered {response.status_code}: {response.text[:300]}")
            per_mentor.append([(mentor, slot["start"]) for slot in response.json()["data"]])
    return [pair for group in itertools.zip_longest(*per_mentor) for pair in group if pair is not None]


async def measure(stack: Stack, token: str, opts: CalcomOptions) -> tuple[list[Measured], int]:
    server, (hit_rate, miss_rate, booking_rate) = stack.sidecar, opts.rates
    mentors = mentor_ids()
    results: list[Measured] = []

    # Cache hit: one mentor and range, warmed by one request first.
    base = (dt.datetime.now(dt.UTC) + MISS_OFFSET).replace(second=0, microsecond=0)
    hit = _get(server, token, availability_path(mentors[0], base, base + MISS_SPAN))
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT_S) as client:
        warm = await client.get(
            server.base_url + availability_path(mentors[0], base, base + MISS_SPAN),
            headers={"Authorization": f"Bearer {token}"},
        )
    if warm.status_code != 200 or not warm.json().get("data"):
        raise RuntimeError(f"availability warm-up answered {warm.status_code}: {warm.text[:300]}")
    print(f"· availability hit — {_load_text(hit_rate, opts)}", flush=True)
    results.append(await run_load("availability hit", stack, lambda: hit, 200, hit_rate, opts))

    # Cache miss: (mentor, start minute) distinct per request, so every cache key is new.
    def miss(i: int) -> bytes | None:
        minute, mentor = divmod(i, len(mentors))
        if minute >= MISS_MINUTES:
            return None
        start = base + dt.timedelta(minutes=1 + minute)
        return _get(server, token, availability_path(mentors[mentor], start, start + MISS_SPAN))

    # Cal.com's own latency at the same rate and shape: the simulator's /v2/slots asked directly.
    event_types = await asyncio.to_thread(event_type_ids, stack.simulator, mentors)

    def calcom_slots(i: int) -> bytes | None:
        minute, mentor = divmod(i, len(mentors))
        if minute >= MISS_MINUTES:
            return None
        start = base + dt.timedelta(minutes=1 + minute)
        query = {
            "eventTypeId": event_types[mentor], "start": utc_iso(start), "end": utc_iso(start + MISS_SPAN),
            "timeZone": "UTC", "format": "range",
        }  # fmt: skip
        path = f"/v2/slots?{urlencode(query)}"
        return raw_request(stack.simulator, "GET", path, demo_api_key(mentors[mentor]), cal_api_version=SLOTS_VERSION)

    print(f"· Cal.com alone: slots — {_load_text(miss_rate, opts)}", flush=True)
    calcom_miss = await run_load(
        "Cal.com alone: slots", stack, _counter_factory(calcom_slots), 200, miss_rate, opts, target=stack.simulator
    )
    print(f"· availability miss — {_load_text(miss_rate, opts)}", flush=True)
    miss_result = await run_load("availability miss", stack, _counter_factory(miss), 200, miss_rate, opts)
    miss_result.calcom = calcom_miss
    results.append(miss_result)

    # Booking: a distinct free slot per request, until they run out.
    slots = await asyncio.to_thread(free_slots, server, token, mentors)
    load = _load_text(booking_rate, opts)
    print(f"· booking — {len(slots)} free slots of {len(mentors)} mentors, {load}", flush=True)

    def book(i: int) -> bytes | None:
        if i >= len(slots):
            return None
        mentor, start = slots[i]
        body = {
            "mentorId": mentor,
            "start": start,
            "consent": True,
            "prospectiveStudent": {
                "name": f"Bench Student {i}",
                "email": f"bench-{i}@example.com",
                "timeZone": "Europe/Paris",
                "language": "fr",
            },
        }
        return _post(server, token, "/api/v2/bookings", json.dumps(body).encode())

    # Cal.com's own booking latency at the same rate, on other free slots (taken from the end).
    def calcom_book(i: int) -> bytes | None:
        if 2 * i >= len(slots):
            return None
        mentor, start = slots[-1 - i]
        body = {
            "start": start.replace("+00:00", "Z"),
            "eventTypeId": event_types[mentors.index(mentor)],
            "attendee": {"name": f"Bench Student {i}", "email": f"bench-cal-{i}@example.com", "timeZone": "UTC"},
        }
        return raw_request(
            stack.simulator, "POST", "/v2/bookings", demo_api_key(mentor), json.dumps(body).encode(),
            cal_api_version=BOOKINGS_VERSION,
        )  # fmt: skip

    print(f"· Cal.com alone: bookings — {load}", flush=True)
    calcom_booking = await run_load(
        "Cal.com alone: bookings", stack, _counter_factory(calcom_book), 201, booking_rate, opts, target=stack.simulator
    )
    booking = await run_load("booking", stack, _counter_factory(book), 201, booking_rate, opts)
    booking.calcom = calcom_booking
    if booking.phase.window_s < opts.duration - 0.5:
        booking.note = f"stopped after {booking.phase.window_s:.1f} s: the {len(slots)} free slots ran out"
    results.append(booking)
    return results, len(slots)


def _load_text(rate: float, opts: CalcomOptions) -> str:
    pace = f"{rate:g} req/s in all (open loop)" if rate > 0 else "as fast as they go (closed loop)"
    return f"{opts.users} users, {pace}, {opts.warmup:g}+{opts.duration:g} s"


def markdown(opts: CalcomOptions, results: list[Measured], slots: int, logs: tuple[list[str], int]) -> str:
    delay = opts.delay_ms
    lines = [
        "# Thotis sidecar — availability and booking against Cal.com (SPEC.md §8)",
        "",
        f"- **date**: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- **command**: `{opts.command}`",
        f"- **cores (os.cpu_count())**: {os.cpu_count()}",
        f"- **sidecar**: `thotis serve --workers {opts.workers}` (THOTIS_ENV=test), local PostgreSQL and Redis, "
        "fresh database, rate limit raised to 100000000/min",
        f"- **Cal.com**: `thotis simulator` in its own process (one uvicorn worker, {DEMO_PER_FIELD * FIELDS} "
        "sample mentors linked with `thotis seed --link`), reached over HTTP by URL as a real Cal.com is; its "
        "webhooks go to the sidecar's /webhooks/calcom",
        f"- **Cal.com delay**: {delay:g} ms added by the simulator to every Cal.com answer (its own latency)",
        f"- **load**: {opts.users} users, each on its own keep-alive connection, at a fixed total rate per row "
        "(open loop: each user sends every users/rate s, at once when its last answer came later; rate 0 = "
        f"closed loop); {opts.warmup:g} s warm-up + {opts.duration:g} s measured per row; generator in the "
        "orchestrator process (asyncio)",
        "",
        "Hit: one mentor and range (cached 2 min). Miss: a new (mentor, start minute) per request, so every "
        "request asks Cal.com. Booking: a distinct free slot per request (taken from the availability of all "
        f"demo mentors, {slots} slots); 409 SLOT_UNAVAILABLE is counted apart, not as an error. "
        "Latency is measured from sending a request to its last byte. Each Cal.com-bound row is preceded by "
        "the same load sent to the simulator directly (*Cal.com alone*): Cal.com's own latency at that rate, "
        "delay and simulator work included. *Added* = the row's p99 − Cal.com's own p99, which SPEC.md §8 "
        "bounds; p99 − delay is shown too.",
        "",
        "| measurement | rate | req/s | p50 ms | p95 ms | p99 ms | max ms | errors | statuses "
        "| added p99 ms | p99 − delay ms | target | met |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: | --- | --- |",
    ]
    targets = {
        "availability hit": (None, f"p99 ≤ {P99_TARGET_MS:.0f} ms"),
        "availability miss": (MISS_EXTRA_TARGET_MS, f"added ≤ {MISS_EXTRA_TARGET_MS:.0f} ms"),
        "booking": (BOOKING_EXTRA_TARGET_MS, f"added ≤ {BOOKING_EXTRA_TARGET_MS:.0f} ms"),
    }
    for item in results:
        if item.calcom is not None:
            lines.append(_row(item.calcom, f"↳ {item.calcom.phase.label}", "–", "–", "–", None))
        t = item.phase.total
        extra_target, target_text = targets[item.phase.label]
        if extra_target is None or item.calcom is None:
            added, met = "–", t.p99 <= P99_TARGET_MS
        else:
            extra = t.p99 - item.calcom.phase.total.p99
            added, met = f"{extra:.1f}", extra <= extra_target
        delivered = t.rps >= MIN_ACHIEVED_SHARE * item.phase.target_rate  # 0 for closed loop
        met = met and delivered and t.errors == 0 and t.ok > 0
        over_delay = f"{t.p99 - delay:.1f}" if extra_target is not None else "–"
        lines.append(_row(item, item.phase.label, added, over_delay, target_text, met))
    lines.append("")
    lines += [f"- {item.phase.label}: {item.note}" for item in results if item.note]
    lines += [
        "- CPU sidecar / simulator / generator / machine (cores): "
        + "; ".join(
            f"{m.phase.label} {m.phase.server_cores:.2f} / {m.simulator_cores:.2f} / {m.phase.generator_cores:.2f} / "
            f"{m.phase.machine_busy_cores:.2f}"
            for m in _with_baselines(results)
        ),
        "",
    ]
    for item in _with_baselines(results):
        lines += samples(item.phase)
    log_lines, log_total = logs
    lines += ["## Server log", ""]
    if log_total:
        lines += [f"{log_total} warning/error/traceback line(s); the first ones:", "", "```", *log_lines, "```", ""]
    else:
        lines += ["No warning, error or traceback in the server log.", ""]
    return "\n".join(lines).rstrip() + "\n"


def _with_baselines(results: list[Measured]) -> list[Measured]:
    return [m for item in results for m in ((item.calcom,) if item.calcom else ()) + (item,)]


def _row(item: Measured, label: str, added: str, over_delay: str, target: str, met: bool | None) -> str:
    t = item.phase.total
    statuses = ", ".join(f"{code} ×{count}" for code, count in sorted(item.statuses.items()))
    cells = latency_cells(t).removeprefix("| ").removesuffix(" |")
    verdict = "–" if met is None else "yes" if met else "**no**"
    return (
        f"| {label} | {_rate_cell(item)} | {t.rps:.0f} | {cells} | {statuses} | {added} | {over_delay} "
        f"| {target} | {verdict} |"
    )


def _rate_cell(item: Measured) -> str:
    rate = item.phase.target_rate
    return f"{rate:g}/s" if rate else "closed"


def run_calcom(opts: CalcomOptions) -> int:
    """Create, start, measure, report, and remove everything — also on Ctrl-C, SIGTERM or an error."""
    names = Names.fresh()
    db_url = database_url(opts.postgres_url, names.database)
    results_dir = ROOT / "benchmarks" / "results"
    log_paths = [results_dir / "calcom-sidecar.log", results_dir / "calcom-simulator.log"]
    stack: Stack | None = None
    database_created = False
    try:
        print(f"· calcom phase: database {names.database}, Redis prefix {names.redis_prefix!r}", flush=True)
        asyncio.run(create_database(opts.postgres_url, names.database))
        database_created = True
        token = service_token(ttl_seconds=6 * 3600)
        sidecar = app_server(
            db_url=db_url, redis_url=opts.redis_url, prefix=names.redis_prefix, workers=opts.workers,
            log_path=log_paths[0], token=token, THOTIS_CALCOM_WEBHOOK_SECRET=DEMO_CALCOM_WEBHOOK_SECRET,
        )  # fmt: skip
        simulator = simulator_server(
            delay_ms=opts.delay_ms, webhook_url=f"{sidecar.base_url}/webhooks/calcom", log_path=log_paths[1]
        )
        sidecar.env["THOTIS_CALCOM_API_URL"] = simulator.base_url
        stack = Stack(sidecar, simulator)
        simulator.start()
        simulator.wait_ready()
        created = migrate_and_seed(
            db_url, opts.redis_url, names.redis_prefix, DEMO_PER_FIELD, calcom_api_url=simulator.base_url
        )
        print(f"· thotis simulator on {simulator.base_url}, {created} mentors linked to it", flush=True)
        sidecar.start()
        sidecar.wait_ready()
        print(f"· thotis serve on {sidecar.base_url}, Cal.com delay {opts.delay_ms:g} ms", flush=True)
        budget = 3 * (opts.warmup + opts.duration + GRACE_S) + 120
        results, slots = asyncio.run(asyncio.wait_for(measure(stack, token, opts), budget))
        sidecar.stop()
        simulator.stop()
        text = markdown(opts, results, slots, log_problems(log_paths))
        opts.out.parent.mkdir(parents=True, exist_ok=True)
        opts.out.write_text(text, encoding="utf-8")
        print("\n" + text)
        print(f"· written to {opts.out}", flush=True)
        return 0
    except KeyboardInterrupt:
        print("\n· interrupted, cleaning up", file=sys.stderr, flush=True)
        return 130
    except (RuntimeError, TimeoutError) as exc:
        print(f"\n· calcom phase failed: {exc!r}", file=sys.stderr, flush=True)
        return 1
    finally:
        if stack is not None:
            stack.sidecar.stop()
            stack.simulator.stop()
        _cleanup(argparse.Namespace(postgres_url=opts.postgres_url, redis_url=opts.redis_url), names, database_created)
