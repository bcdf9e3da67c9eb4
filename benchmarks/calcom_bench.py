"""The `calcom` phase: availability and booking against `thotis demo` and its Cal.com simulator.

`python -m benchmarks.run --phases calcom [--calcom-delay-ms 50]`. Starts `thotis demo` on a free
port against a fresh database (the local PostgreSQL and Redis), with the simulator adding a fixed
delay to every Cal.com answer, then measures at N keep-alive connections (closed loop, bounded in
time): availability served from the cache, availability that misses it (a new range per request),
and booking (a distinct free slot per request). SPEC.md §8 targets: hit p99 ≤ 50 ms, miss
p99 ≤ delay + 20 ms, booking p99 ≤ delay + 30 ms. Writes `results/calcom.md`. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import httpx

from benchmarks.closedloop import RECONNECT_PAUSE_S, read_response
from benchmarks.cpu import CpuSnapshot
from benchmarks.recording import Recorder
from benchmarks.report import P99_TARGET_MS, Phase, _latency_cells, _samples
from benchmarks.run import _cleanup, log_problems
from benchmarks.stack import (
    ROOT,
    Names,
    Server,
    create_database,
    database_url,
    free_port,
    service_token,
    sidecar_env,
)

#: SPEC.md §8: what the sidecar may add to Cal.com's own latency (p99).
MISS_EXTRA_TARGET_MS = 20.0
BOOKING_EXTRA_TARGET_MS = 30.0
#: `thotis demo` seeds this many mentors per field (10 fields), `demo-mentor-01…`.
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


def mentor_ids() -> list[str]:
    return [f"demo-mentor-{i:02d}" for i in range(1, DEMO_PER_FIELD * FIELDS + 1)]


def demo_server(*, db_url: str, redis_url: str, prefix: str, delay_ms: float, log_path: Path, token: str) -> Server:
    """`thotis demo` (one in-process uvicorn worker, Cal.com simulator) on the local PostgreSQL and Redis."""
    port = free_port()
    env = sidecar_env(
        env="demo",
        db_url=db_url,
        redis_url=redis_url,
        prefix=prefix,
        port=port,
        THOTIS_CALCOM_SIMULATOR_DELAY_MS=f"{delay_ms:g}",
    )
    argv = [sys.executable, "-m", "adapter.cli", "demo", "--per-field", str(DEMO_PER_FIELD)]
    return Server("demo", argv, env, port, log_path, "/health/ready", {"Authorization": f"Bearer {token}"})


def _get(server: Server, token: str, path: str) -> bytes:
    head = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nAuthorization: Bearer {token}\r\n\r\n"
    return head.encode("latin-1")


def _post(server: Server, token: str, path: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def availability_path(mentor: str, start: dt.datetime | None = None, end: dt.datetime | None = None) -> str:
    query = {"timeZone": "UTC"}
    if start is not None and end is not None:
        query |= {"start": start.isoformat(), "end": end.isoformat()}
    return f"/api/v2/students/{mentor}/availability?{urlencode(query)}"


async def _connection(
    port: int, route: str, next_request: RequestFactory, ok_status: int, recorder: Recorder, statuses: Counter[int]
) -> None:
    """One keep-alive connection sending whatever `next_request` gives, until it gives None or time is up."""
    while not recorder.stop:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError as exc:
            recorder.error(route, type(exc).__name__, repr(exc))
            await asyncio.sleep(RECONNECT_PAUSE_S)
            continue
        try:
            while not recorder.stop:
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


async def _closed_loop(
    label: str, server: Server, next_request: RequestFactory, ok_status: int, opts: CalcomOptions
) -> Measured:
    """`opts.users` connections as fast as they go: warm-up, then `opts.duration` s (less if requests run out)."""
    recorder, statuses = Recorder(), Counter[int]()
    tasks = [
        asyncio.create_task(_connection(server.port, label, next_request, ok_status, recorder, statuses))
        for _ in range(opts.users)
    ]
    try:
        _, pending = await asyncio.wait(tasks, timeout=opts.warmup)
        start = CpuSnapshot.take(server.pid)
        recorder.start()
        if pending:
            await asyncio.wait(pending, timeout=opts.duration)
        recorder.finish()
        cpu = CpuSnapshot.take(server.pid).cores_since(start)
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
        "target_rate": 0,
        "users": opts.users,
        "users_running": opts.users,
        **cpu,
    }
    measured = Measured(Phase.from_result(label, result), statuses)
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


async def measure(server: Server, token: str, opts: CalcomOptions) -> tuple[list[Measured], int]:
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
    print(f"· availability hit — {opts.users} connections, {opts.warmup:.0f}+{opts.duration:.0f} s", flush=True)
    results.append(await _closed_loop("availability hit", server, lambda: hit, 200, opts))

    # Cache miss: (mentor, start minute) distinct per request, so every cache key is new.
    def miss(i: int) -> bytes | None:
        minute, mentor = divmod(i, len(mentors))
        if minute >= MISS_MINUTES:
            return None
        start = base + dt.timedelta(minutes=1 + minute)
        return _get(server, token, availability_path(mentors[mentor], start, start + MISS_SPAN))

    print(f"· availability miss — {opts.users} connections, {opts.warmup:.0f}+{opts.duration:.0f} s", flush=True)
    results.append(await _closed_loop("availability miss", server, _counter_factory(miss), 200, opts))

    # Booking: a distinct free slot per request, until they run out.
    slots = await asyncio.to_thread(free_slots, server, token, mentors)
    print(f"· booking — {len(slots)} free slots of {len(mentors)} mentors, {opts.users} connections", flush=True)

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

    booking = await _closed_loop("booking", server, _counter_factory(book), 201, opts)
    if booking.phase.window_s < opts.duration - 0.5:
        booking.note = f"stopped after {booking.phase.window_s:.1f} s: the {len(slots)} free slots ran out"
    results.append(booking)
    return results, len(slots)


def markdown(opts: CalcomOptions, results: list[Measured], slots: int, logs: tuple[list[str], int]) -> str:
    delay = opts.delay_ms
    lines = [
        "# Thotis sidecar — availability and booking against Cal.com (SPEC.md §8)",
        "",
        f"- **date**: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- **command**: `{opts.command}`",
        f"- **cores (os.cpu_count())**: {os.cpu_count()}",
        "- **server**: `thotis demo` (one in-process uvicorn worker, in-process Cal.com simulator), local "
        "PostgreSQL and Redis, fresh database, rate limit raised to 100000000/min",
        f"- **Cal.com delay**: {delay:g} ms added by the simulator to every Cal.com answer (its own latency)",
        f"- **load**: {opts.users} keep-alive connections, closed loop, {opts.warmup:g} s warm-up + "
        f"{opts.duration:g} s measured per row; generator in the orchestrator process (asyncio)",
        "",
        "Hit: one mentor and range (cached 2 min). Miss: a new (mentor, start minute) per request, so every "
        "request asks Cal.com. Booking: a distinct free slot per request (taken from the availability of all "
        f"demo mentors, {slots} slots); 409 SLOT_UNAVAILABLE is counted apart, not as an error. "
        "Closed-loop latencies include queueing at this concurrency (p50 ≈ connections / req/s).",
        "",
        "| measurement | req/s | p50 ms | p95 ms | p99 ms | max ms | errors | statuses "
        "| p99 − delay ms | target | met |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | --- | --- |",
    ]
    targets = {
        "availability hit": (None, f"p99 ≤ {P99_TARGET_MS:.0f} ms"),
        "availability miss": (MISS_EXTRA_TARGET_MS, f"p99 − delay ≤ {MISS_EXTRA_TARGET_MS:.0f} ms"),
        "booking": (BOOKING_EXTRA_TARGET_MS, f"p99 − delay ≤ {BOOKING_EXTRA_TARGET_MS:.0f} ms"),
    }
    for item in results:
        t = item.phase.total
        extra_target, target_text = targets[item.phase.label]
        if extra_target is None:
            extra, met = "–", t.p99 <= P99_TARGET_MS
        else:
            extra, met = f"{t.p99 - delay:.1f}", t.p99 - delay <= extra_target
        met = met and t.errors == 0 and t.ok > 0
        statuses = ", ".join(f"{code} ×{count}" for code, count in sorted(item.statuses.items()))
        cells = _latency_cells(t).removeprefix("| ").removesuffix(" |")
        lines.append(
            f"| {item.phase.label} | {t.rps:.0f} | {cells} | {statuses} | {extra} | {target_text} "
            f"| {'yes' if met else '**no**'} |"
        )
    lines.append("")
    lines += [f"- {item.phase.label}: {item.note}" for item in results if item.note]
    lines += [
        "- CPU server / generator / machine (cores): "
        + "; ".join(
            f"{m.phase.label} {m.phase.server_cores:.2f} / {m.phase.generator_cores:.2f} / "
            f"{m.phase.machine_busy_cores:.2f}"
            for m in results
        ),
        "",
    ]
    for item in results:
        lines += _samples(item.phase)
    log_lines, log_total = logs
    lines += ["## Server log", ""]
    if log_total:
        lines += [f"{log_total} warning/error/traceback line(s); the first ones:", "", "```", *log_lines, "```", ""]
    else:
        lines += ["No warning, error or traceback in the server log.", ""]
    return "\n".join(lines).rstrip() + "\n"


def run_calcom(opts: CalcomOptions) -> int:
    """Create, start, measure, report, and remove everything — also on Ctrl-C, SIGTERM or an error."""
    names = Names.fresh()
    db_url = database_url(opts.postgres_url, names.database)
    log_path = ROOT / "benchmarks" / "results" / "demo.log"
    server: Server | None = None
    database_created = False
    try:
        print(f"· calcom phase: database {names.database}, Redis prefix {names.redis_prefix!r}", flush=True)
        asyncio.run(create_database(opts.postgres_url, names.database))
        database_created = True
        token = service_token(ttl_seconds=6 * 3600)
        server = demo_server(
            db_url=db_url, redis_url=opts.redis_url, prefix=names.redis_prefix, delay_ms=opts.delay_ms,
            log_path=log_path, token=token,
        )  # fmt: skip
        server.start()
        server.wait_ready()
        print(f"· thotis demo on {server.base_url}, Cal.com delay {opts.delay_ms:g} ms", flush=True)
        budget = 3 * (opts.warmup + opts.duration + GRACE_S) + 120
        results, slots = asyncio.run(asyncio.wait_for(measure(server, token, opts), budget))
        server.stop()
        text = markdown(opts, results, slots, log_problems([log_path]))
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
        if server is not None:
            server.stop()
        _cleanup(argparse.Namespace(postgres_url=opts.postgres_url, redis_url=opts.redis_url), names, database_created)
