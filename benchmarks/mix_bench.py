"""The `mix` phase: the sidecar as production runs it, under a realistic mix, against its ceiling.

`python -m benchmarks.run --phases mix` (`make bench-mix`). Starts, each in its own process on
this machine: `thotis simulator` as Cal.com (adding `--calcom-delay-ms` to every answer and
sending its webhooks to the sidecar), `thotis serve --workers N`, `thotis worker` and `thotis
scheduler` (the jobs: emails, Cal.com inbox, outbound webhooks), a local receiver subscribed to
every Thotis event, and the ceiling app (bare Litestar returning one Redis value). Then:

1. **Mix (open loop, locust)**: `--users` users at `--rate` req/s in all (`mix_locust.py`):
   directory lists, profiles, availability, bookings on distinct free slots, signed Cal.com
   webhooks; p50/p95/p99, req/s, errors and statuses per route. Afterwards: sessions booked,
   Cal.com webhooks applied, Thotis events produced vs delivered to the receiver.
2. **Capacity (closed loop, wrk)**: 100 keep-alive connections as fast as they go on the ceiling,
   the cached reads (list, profile, availability on a cache hit), then the ceiling again; each
   route's req/s as a share of the ceiling's (SPEC.md §8: ≥ 0.7).

Writes `results/load.md`. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from adapter.auth import Role, mint_token
from benchmarks.calcom_bench import (
    DEMO_PER_FIELD,
    availability_path,
    free_slots,
    mentor_ids,
    simulator_server,
)
from benchmarks.cpu import CpuSnapshot, tree_cpu_seconds
from benchmarks.recording import TOKEN_ENV
from benchmarks.report import (
    CEILING_RATIO_TARGET,
    MIN_ACHIEVED_SHARE,
    P99_TARGET_MS,
    Phase,
    RouteStats,
    latency_cells,
    samples,
)
from benchmarks.routes import MIX_WEIGHTS
from benchmarks.run import _cleanup, log_problems
from benchmarks.stack import (
    ROOT,
    Names,
    Server,
    app_server,
    ceiling_server,
    create_database,
    database_url,
    migrate_and_seed,
    service_token,
    set_value,
    stop_group,
)
from benchmarks.webhooks_bench import receiver_server
from core.settings import DEMO_CALCOM_WEBHOOK_SECRET, DEMO_JWT_SECRET
from thotis_ext.enums import AcademicField
from thotis_ext.seed import demo_api_key

#: SPEC.md §8: what the sidecar may add to Cal.com's latency on an availability miss and a booking.
MISS_EXTRA_MS = 20.0
BOOKING_EXTRA_MS = 30.0
#: The range capacity reads from the cache: weeks ahead, past what the mix's bookings took (they take
#: each mentor's soonest slots), and three days long, so a weekend never leaves it empty.
HIT_OFFSET = dt.timedelta(days=20)
HIT_SPAN = dt.timedelta(days=3)
STEP_ROUTES = ("list", "profile", "availability", "webhook", "booking")
CLOSED_ORDER = ("ceiling", "list", "profile", "availability hit", "ceiling")
#: Extra time the generator gets beyond warm-up + duration before it is killed.
GRACE_S = 60.0
#: How long the jobs get, after the load, to apply every webhook and deliver every event.
DRAIN_TIMEOUT_S = 120.0
WRK_REPORT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\n{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,'
    .. '"p50":%.3f,"p95":%.3f,"p99":%.3f,"max":%.3f}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
end
"""


@dataclass(frozen=True, slots=True)
class MixOptions:
    postgres_url: str
    redis_url: str
    users: int
    workers: int
    rate: float
    warmup: float
    duration: float
    closed_duration: float
    delay_ms: float
    out: Path
    command: str
    #: Mix rates tried first, ascending, `step_duration` s each: the highest met is the mix's
    #: sustainable rate.
    steps: tuple[float, ...] = ()
    step_duration: float = 30.0
    #: Route → share of the mix's requests (`routes.MIX_WEIGHTS` unless `--mix-weights`).
    weights: dict[str, int] = field(default_factory=lambda: dict(MIX_WEIGHTS))
    #: The scheduler's `THOTIS_SYNC_INTERVAL_SECONDS` (None: its default, 300 s): a short one runs
    #: the Cal.com sync through the measurement, as it runs beside production traffic.
    sync_interval: int | None = None


@dataclass(slots=True)
class Closed:
    """One wrk run: figures, the server's CPU, and the share of the ceiling."""

    label: str
    stats: RouteStats
    server_cores: float
    machine_cores: float
    ratio: float = math.nan


@dataclass(slots=True)
class Outcome:
    """What the load left behind, counted in the database and at the receiver once the jobs drained."""

    bookings_ok: int = 0
    calcom_bookings_ok: int = 0  # made in Cal.com directly (the booking probe): the sidecar adopts them
    sessions: int = 0
    inbox_applied: int = 0
    inbox_pending: int = 0
    events_produced: int = 0
    events_delivered: int = 0
    events_received: int = 0
    drained_s: float = math.nan
    notes: list[str] = field(default_factory=list)


def wrk_binary() -> str:
    """Debian's wrk; installed with apt-get when missing and this is root, else a clear error."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("· installing wrk (apt-get install -y wrk) …", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False, capture_output=True)
        found = shutil.which("wrk")
    if not found:
        raise RuntimeError("the closed loop needs wrk: apt-get install wrk")
    return found


def run_wrk(
    wrk: str, label: str, url: str, token: str, server_pid: int | None, *, users: int, warmup: float, duration: float
) -> Closed:
    """Warm up, then one measured wrk run of `duration` s; its JSON line and the server's CPU."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_REPORT)
    threads = str(min(2, os.cpu_count() or 1))
    base = [wrk, "-t", threads, "-c", str(users), "--timeout", "10s", "-H", f"Authorization: Bearer {token}"]
    try:
        if warmup > 0:
            subprocess.run([*base, "-d", f"{warmup:g}s", url], check=True, capture_output=True, timeout=warmup + 30)
        start = CpuSnapshot.take(server_pid)
        done = subprocess.run(
            [*base, "-d", f"{duration:g}s", "-s", script.name, url],
            check=True, capture_output=True, text=True, timeout=duration + 30,
        )  # fmt: skip
        cpu = CpuSnapshot.take(server_pid).cores_since(start)
    finally:
        os.unlink(script.name)
    figures = json.loads([line for line in done.stdout.splitlines() if line.startswith("{")][-1])
    window = figures["duration_us"] / 1e6
    kinds = {k: figures[k] for k in ("connect", "read", "write", "timeout") if figures[k]}
    if figures["status"]:
        kinds["non-2xx"] = figures["status"]
    errors = sum(kinds.values())
    stats = RouteStats(
        route=label, ok=figures["requests"] - figures["status"], errors=errors, error_kinds=kinds,
        rps=figures["requests"] / window, p50=figures["p50"], p95=figures["p95"], p99=figures["p99"],
        max=figures["max"],
    )  # fmt: skip
    print(f"  {label}: {stats.rps:.0f} req/s, p99 {stats.p99:.1f} ms, {errors} errors", flush=True)
    return Closed(label, stats, cpu["server_cores"], cpu["machine_busy_cores"])


@dataclass(slots=True)
class MixRun:
    """One locust run of the mix: the sidecar's routes, and Cal.com's own answers beside them
    (`calcom`: its slots call; `calcom_booking`: its booking call)."""

    phase: Phase
    calcom: RouteStats | None
    calcom_booking: RouteStats | None
    raw: dict


def run_mix_load(
    sidecar: Server, token: str, plan: Path, opts: MixOptions, work: Path, *, rate: float, duration: float
) -> MixRun:
    out = work / "mix.json"
    argv = [
        sys.executable, "-m", "benchmarks.mix_locust", "--host", sidecar.base_url, "--plan", str(plan),
        "--users", str(opts.users), "--rate", str(rate), "--warmup", str(opts.warmup),
        "--duration", str(duration), "--server-pid", str(sidecar.pid), "--out", str(out),
    ]  # fmt: skip
    print(f"· mix: {opts.users} users, {rate:g} req/s, {opts.warmup:g}+{duration:g} s (locust)", flush=True)
    process = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, TOKEN_ENV: token}, start_new_session=True)
    try:
        code = process.wait(timeout=opts.warmup + duration + GRACE_S)
    except subprocess.TimeoutExpired:
        raise RuntimeError("the mix generator did not finish in time") from None
    finally:
        stop_group(process, 5.0)
    if code != 0:
        raise RuntimeError(f"the mix generator exited with {code}")
    result = json.loads(out.read_text(encoding="utf-8"))
    window = float(result["window_s"])
    probes = {
        name: RouteStats.from_raw(name, raw["latencies_ms"], raw["errors"], window)
        for name in ("calcom", "calcom-booking")
        if (raw := result["routes"].pop(name, None)) is not None
    }
    phase = Phase.from_result("mix", result)
    t = phase.total
    own = "".join(f"; Cal.com's own {_PROBE_TEXT[name]} p99 {stats.p99:.1f} ms" for name, stats in probes.items())
    print(f"  {t.rps:.0f} req/s, p99 {t.p99:.1f} ms, {t.errors} errors{own}", flush=True)
    return MixRun(phase, probes.get("calcom"), probes.get("calcom-booking"), result)


_PROBE_TEXT = {"calcom": "slots", "calcom-booking": "booking"}


def _hand_on_slots(plan: Path, run: MixRun) -> None:
    """Let the next run start after the free slots this one's bookings (and Cal.com's) took."""
    data = json.loads(plan.read_text(encoding="utf-8"))
    data["slots_taken"] = int(data.get("slots_taken", 0)) + int(run.raw["bookings_sent"])
    data["calcom_slots_taken"] = int(data.get("calcom_slots_taken", 0)) + int(run.raw.get("calcom_bookings_sent", 0))
    plan.write_text(json.dumps(data), encoding="utf-8")


def targets(delay_ms: float, slots: RouteStats | None, booking: RouteStats | None) -> dict[str, tuple[float, str]]:
    """Each route's p99 bound and how it reads (SPEC.md §8): an availability miss over Cal.com's own
    p99 for the slots call it makes, a booking over Cal.com's own p99 for a booking, both measured in
    the same run; over the injected delay alone when that reference is missing."""

    def over(reference: RouteStats | None, what: str, extra: float) -> tuple[float, str]:
        measured = reference is not None and reference.ok
        base, name = (reference.p99, f"Cal.com {what} p99") if reference and measured else (delay_ms, "delay")
        return base + extra, f"p99 ≤ {name} + {extra:.0f} = {base + extra:.0f}"

    return {
        "list": (P99_TARGET_MS, f"p99 ≤ {P99_TARGET_MS:.0f}"),
        "profile": (P99_TARGET_MS, f"p99 ≤ {P99_TARGET_MS:.0f}"),
        "webhook": (P99_TARGET_MS, f"p99 ≤ {P99_TARGET_MS:.0f}"),
        "availability": over(slots, "slots", MISS_EXTRA_MS),
        "booking": over(booking, "booking", BOOKING_EXTRA_MS),
    }


def route_met(stats: RouteStats, bound: float) -> bool:
    return stats.errors == 0 and stats.ok > 0 and stats.p99 <= bound


def mix_met(run: MixRun, delay_ms: float) -> bool:
    """Every route within its target, no error, and the rate delivered."""
    bounds = targets(delay_ms, run.calcom, run.calcom_booking)
    phase = run.phase
    delivered = phase.total.rps >= MIN_ACHIEVED_SHARE * phase.target_rate
    return delivered and all(route_met(stats, bounds[stats.route][0]) for stats in phase.routes)


async def _event_types(db_url: str) -> dict[str, int]:
    """Each linked mentor's Cal.com event type id."""
    connection = await asyncpg.connect(db_url.replace("postgresql+asyncpg://", "postgresql://"), timeout=10)
    try:
        rows = await connection.fetch(
            "SELECT user_id, calcom_event_type_id FROM thotis.student_profiles WHERE calcom_event_type_id IS NOT NULL"
        )
    finally:
        await connection.close()
    return {str(row[0]): int(row[1]) for row in rows}


async def _count(db_url: str, query: str) -> int:
    connection = await asyncpg.connect(db_url.replace("postgresql+asyncpg://", "postgresql://"), timeout=10)
    try:
        return int(await connection.fetchval(query) or 0)
    finally:
        await connection.close()


async def drain(db_url: str, receiver: Server, outcome: Outcome) -> None:
    """Wait (bounded) until the jobs applied every Cal.com webhook and delivered every event."""
    pending_inbox = "SELECT count(*) FROM thotis.calcom_webhook_events WHERE status = 'pending'"
    undelivered = "SELECT count(*) FROM thotis.webhook_deliveries WHERE status <> 'delivered'"
    started = time.monotonic()
    while time.monotonic() - started < DRAIN_TIMEOUT_S:
        if await _count(db_url, pending_inbox) == 0 and await _count(db_url, undelivered) == 0:
            outcome.drained_s = time.monotonic() - started
            break
        await asyncio.sleep(0.5)
    else:
        outcome.notes.append(f"the jobs had not drained everything {DRAIN_TIMEOUT_S:.0f} s after the load")
    outcome.sessions = await _count(db_url, "SELECT count(*) FROM thotis.sessions")
    outcome.inbox_applied = await _count(
        db_url, "SELECT count(*) FROM thotis.calcom_webhook_events WHERE status <> 'pending'"
    )
    outcome.inbox_pending = await _count(db_url, pending_inbox)
    outcome.events_produced = await _count(db_url, "SELECT count(*) FROM thotis.webhook_deliveries")
    outcome.events_delivered = await _count(
        db_url, "SELECT count(*) FROM thotis.webhook_deliveries WHERE status = 'delivered'"
    )
    async with httpx.AsyncClient(timeout=10) as client:
        stats = await client.get(f"{receiver.base_url}/stats")
    if stats.status_code == 200:
        outcome.events_received = int(stats.json().get("distinct", 0))


def _subscribe(sidecar: Server, receiver: Server) -> None:
    admin = mint_token(DEMO_JWT_SECRET, "thotis", role=Role.ADMIN, sub="bench-admin", ttl_seconds=3600)
    with httpx.Client(base_url=sidecar.base_url, headers={"Authorization": f"Bearer {admin}"}, timeout=10) as client:
        created = client.post("/api/v2/webhooks", json={"url": f"{receiver.base_url}/hooks"})
    if created.status_code != 201:
        raise RuntimeError(f"endpoint creation answered {created.status_code}: {created.text[:300]}")


def _warm(sidecar: Server, token: str, paths: list[str]) -> bytes:
    """Every path answers 200 with data (which fills the caches); the first body."""
    bodies = []
    with httpx.Client(base_url=sidecar.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        for path in paths:
            response = client.get(path)
            if response.status_code != 200 or not response.json().get("data"):
                raise RuntimeError(f"{path} answered {response.status_code}: {response.text[:300]}")
            bodies.append(response.content)
    return bodies[0]


def markdown(opts: MixOptions, run: MixRun, steps: list[MixRun], closed: list[Closed], outcome: Outcome,
             cpu_jobs: float, logs: tuple[list[str], int]) -> str:  # fmt: skip
    delay = opts.delay_ms
    phase, statuses = run.phase, run.raw["statuses"]
    bounds = targets(delay, run.calcom, run.calcom_booking)
    lines = [
        "# Thotis sidecar — load under a realistic mix, and capacity against the ceiling (SPEC.md §8)",
        "",
        f"- **date**: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- **command**: `{opts.command}`",
        f"- **cores (os.cpu_count())**: {os.cpu_count()}; the generators share them with every server",
        f"- **stack**: `thotis serve --workers {opts.workers}` (its own delivery loops off), `thotis worker`, "
        "`thotis scheduler`"
        + (f" (Cal.com sync every {opts.sync_interval} s, `--mix-sync-interval`)" if opts.sync_interval else "")
        + ", local PostgreSQL and Redis, fresh database with "
        f"{DEMO_PER_FIELD * len(AcademicField)} sample mentors linked to `thotis simulator` (Cal.com, "
        f"{delay:g} ms added to each answer, its webhooks sent to the sidecar), a local receiver subscribed to "
        "every Thotis event; THOTIS_ENV=test, rate limit raised to 100000000/min",
        f"- **mix (open loop)**: locust, {opts.users} users, {opts.rate:g} req/s in all "
        f"(`constant_throughput`), {opts.warmup:g} s warm-up + {opts.duration:g} s measured; routes drawn by "
        f"weight{'' if opts.weights == MIX_WEIGHTS else ' (`--mix-weights`)'}: "
        + "; ".join(
            f"{name} {_percent(opts.weights, name)} ({ROUTE_TEXT[name]})" for name in opts.weights if opts.weights[name]
        )
        + "; besides, more requests go straight to Cal.com, so misses and bookings are measured against "
        "Cal.com's own p99 for the same call under the same load, as SPEC.md §8 asks: the slots call a miss "
        "makes (weight 2) and a booking on another free slot (a third of the booking weight; Cal.com then sends "
        "the sidecar its webhook, as for any booking made in Cal.com directly), 3 % more requests with the "
        "default weights",
        f"- **capacity (closed loop)**: wrk, {opts.users} keep-alive connections as fast as they go, "
        f"{opts.closed_duration:g} s per route after 3 s of warm-up",
        "",
        f"## Mix: {opts.users} users, {opts.rate:g} req/s",
        "",
        f"CPU sidecar / generator / machine: {phase.server_cores:.2f} / {phase.generator_cores:.2f} / "
        f"{phase.machine_busy_cores:.2f} cores; worker + scheduler + simulator: {cpu_jobs:.2f} cores; "
        f"some task waited for a core {_share(phase.cpu_waiting_share)} of the time (Linux PSI). "
        f"{phase.slow_seconds} of {phase.seconds} seconds had their own p99 (all routes) over 50 ms.",
        "",
        "| route | req/s | p50 ms | p95 ms | p99 ms | max ms | errors | statuses | target | met |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | --- |",
    ]
    for stats in phase.routes:
        bound, text = bounds[stats.route]
        seen = ", ".join(
            f"{key.split(' ', 1)[1]} ×{n}" for key, n in sorted(statuses.items()) if key.split(" ", 1)[0] == stats.route
        )
        met = "yes" if route_met(stats, bound) else "**no**"
        lines.append(f"| {stats.route} | {stats.rps:.0f} {latency_cells(stats)} {seen} | {text} | {met} |")
    t = phase.total
    lines += [f"| all | {t.rps:.0f} {latency_cells(t)} | | | |"]
    for label, probe in (("slots", run.calcom), ("booking", run.calcom_booking)):
        if probe is not None:
            lines.append(f"| *Cal.com itself: {label}* | {probe.rps:.0f} {latency_cells(probe)} | reference | |")
    lines += [""]
    lines += _steps_section(steps, delay)
    lines += [
        "After the load (the jobs drained everything "
        + (f"{outcome.drained_s:.1f} s after it ended" if not math.isnan(outcome.drained_s) else "— **not in time**")
        + "):",
        "",
        f"- bookings answered 201: {outcome.bookings_ok} by the sidecar, {outcome.calcom_bookings_ok} by Cal.com "
        f"directly; sessions in the database (every run, steps included): {outcome.sessions}",
        f"- Cal.com webhooks stored: {outcome.inbox_applied + outcome.inbox_pending} (applied "
        f"{outcome.inbox_applied}, pending {outcome.inbox_pending}): the mix's own plus the simulator's, one per "
        "booking",
        f"- Thotis events produced: {outcome.events_produced}; delivered: {outcome.events_delivered}; distinct "
        f"`webhook-id`s the receiver got: {outcome.events_received}",
        *[f"- {note}" for note in outcome.notes],
        "",
        "## Capacity: closed loop against the ceiling",
        "",
        "`ceiling` is a bare Litestar endpoint returning one Redis value (the cached list page's bytes), same "
        "uvicorn options and worker count, measured first and last; ratios use the mean of the two. Target: "
        f"cached reads ≥ {CEILING_RATIO_TARGET}× the ceiling.",
        "",
        "| route | req/s | × ceiling | p50 ms | p95 ms | p99 ms | max ms | errors | CPU server / machine "
        "| ms CPU/req |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: |",
    ]
    for item in closed:
        s = item.stats
        ratio = f"{item.ratio:.2f}" if item.label == "ceiling" else _ratio(item.ratio)
        per_request = f"{1000 * item.server_cores / s.rps:.2f}" if s.rps else "–"
        lines.append(
            f"| {item.label} | {s.rps:.0f} | {ratio} {latency_cells(s)} {item.server_cores:.2f} / "
            f"{item.machine_cores:.2f} | {per_request} |"
        )
    lines.append("")
    lines += samples(phase)
    log_lines, log_total = logs
    lines += ["## Server logs", ""]
    if log_total:
        lines += [f"{log_total} warning/error/traceback line(s); the first ones:", "", "```", *log_lines, "```", ""]
    else:
        lines += ["No warning, error or traceback in the logs.", ""]
    return "\n".join(lines).rstrip() + "\n"


def _steps_section(steps: list[MixRun], delay_ms: float) -> list[str]:
    if not steps:
        return []
    met = [mix_met(run, delay_ms) for run in steps]
    # The highest rate met with every lower step met too.
    passed = len(list(itertools.takewhile(bool, met)))
    best = steps[passed - 1].phase.target_rate if passed else 0.0
    lines = [
        f"### Mix sustainable rate: {best:g} req/s" if best else "### Mix sustainable rate: none of the steps",
        "",
        "The same mix at rising fixed rates; a step is met when every route meets its target with no error "
        f"and ≥ {MIN_ACHIEVED_SHARE:.0%} of the rate is delivered.",
        "",
        "| rate | delivered | list p99 | profile p99 | availability p99 | webhook p99 | booking p99 "
        "| Cal.com slots / booking p99 | sidecar / machine cores | waited for a core | met |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |",
    ]
    for run, ok in zip(steps, met, strict=True):
        p = {stats.route: stats.p99 for stats in run.phase.routes}
        own = " / ".join(f"{probe.p99:.1f}" if probe else "–" for probe in (run.calcom, run.calcom_booking))
        cells = " | ".join(
            f"{p.get(name, math.nan):.1f}" for name in ("list", "profile", "availability", "webhook", "booking")
        )
        lines.append(
            f"| {run.phase.target_rate:g} | {run.phase.total.rps:.0f} | {cells} | {own} | "
            f"{run.phase.server_cores:.2f} / {run.phase.machine_busy_cores:.2f} | "
            f"{_share(run.phase.cpu_waiting_share)} | {'yes' if ok else '**no**'} |"
        )
    return [*lines, ""]


#: What each route of the mix sends, for the report.
ROUTE_TEXT = {
    "list": "`/students/by-field/{field}`, 10 fields",
    "profile": "30 mentors",
    "availability": "default range of one of 30 mentors: Cal.com's answer cached 90-120 s, each booking withholding "
    "its slot",
    "webhook": "signed Cal.com BOOKING_CREATED of another event type: verified, stored, applied by the worker",
    "booking": "a distinct free slot each; 409 SLOT_UNAVAILABLE is an answer, not an error",
}


def _percent(weights: dict[str, int], name: str) -> str:
    return f"{100 * weights[name] / sum(weights.values()):.3g} %"


def _share(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.0%}"


def _ratio(value: float) -> str:
    text = f"{value:.2f}"
    return text if value >= CEILING_RATIO_TARGET else f"**{text}**"


def run_mix(opts: MixOptions) -> int:
    """Create, start, measure, report, and remove everything — also on Ctrl-C, SIGTERM or an error."""
    names = Names.fresh()
    db_url = database_url(opts.postgres_url, names.database)
    results = ROOT / "benchmarks" / "results"
    logs = {name: results / f"load-{name}.log" for name in ("sidecar", "worker", "scheduler", "simulator", "ceiling")}
    started: list[Server] = []
    database_created = False
    try:
        wrk = wrk_binary()
        print(f"· mix phase: database {names.database}, Redis prefix {names.redis_prefix!r}", flush=True)
        asyncio.run(create_database(opts.postgres_url, names.database))
        database_created = True
        token = service_token(ttl_seconds=6 * 3600)
        # The worker runs the loops `serve` leaves to it, at their production defaults.
        jobs_env = {
            "THOTIS_CALCOM_WEBHOOK_SECRET": DEMO_CALCOM_WEBHOOK_SECRET,
            "THOTIS_WEBHOOK_DELIVERY_INTERVAL_SECONDS": "1.0",
            "THOTIS_CALCOM_INBOX_SWEEP_SECONDS": "5",
        }
        if opts.sync_interval is not None:
            jobs_env["THOTIS_SYNC_INTERVAL_SECONDS"] = str(opts.sync_interval)
        sidecar = app_server(
            db_url=db_url, redis_url=opts.redis_url, prefix=names.redis_prefix, workers=opts.workers,
            log_path=logs["sidecar"], token=token, THOTIS_CALCOM_WEBHOOK_SECRET=DEMO_CALCOM_WEBHOOK_SECRET,
            THOTIS_WEBHOOK_DELIVERY_INTERVAL_SECONDS="0", THOTIS_CALCOM_INBOX_SWEEP_SECONDS="0",
        )  # fmt: skip
        simulator = simulator_server(
            delay_ms=opts.delay_ms, webhook_url=f"{sidecar.base_url}/webhooks/calcom", log_path=logs["simulator"]
        )
        sidecar.env["THOTIS_CALCOM_API_URL"] = simulator.base_url
        receiver = receiver_server(results / "load-receiver.log")
        for server in (simulator, receiver):
            started.append(server)
            server.start()
            server.wait_ready()
        linked = migrate_and_seed(
            db_url, opts.redis_url, names.redis_prefix, DEMO_PER_FIELD, calcom_api_url=simulator.base_url
        )
        started.append(sidecar)
        sidecar.start()
        sidecar.wait_ready()
        jobs = []
        for command in ("worker", "scheduler"):
            env = {**sidecar.env, **jobs_env}
            jobs.append(Server(command, [sys.executable, "-m", "adapter.cli", command], env, 0, logs[command], "/"))
        for job in jobs:
            started.append(job)
            job.start()
        _subscribe(sidecar, receiver)
        print(f"· {linked} mentors linked to the simulator; sidecar {sidecar.base_url}; worker, scheduler", flush=True)

        mentors = mentor_ids()
        fields = [f.value for f in AcademicField]
        list_body = _warm(sidecar, token, [f"/api/v2/students/by-field/{f}" for f in fields])
        _warm(sidecar, token, [f"/api/v2/students/{m}" for m in mentors])
        slots = free_slots(sidecar, token, mentors)
        # Every fourth free slot is Cal.com's own booking probe's; the sidecar's bookings take the rest.
        calcom_slots = slots[3::4]
        slots = [slot for i, slot in enumerate(slots) if i % 4 != 3]
        ceiling_key = names.redis_prefix + "ceiling"
        asyncio.run(set_value(opts.redis_url, ceiling_key, list_body, ttl_seconds=6 * 3600))
        ceiling = ceiling_server(
            redis_url=opts.redis_url, key=ceiling_key, workers=opts.workers, log_path=logs["ceiling"]
        )
        started.append(ceiling)
        ceiling.start()
        ceiling.wait_ready()
        if any(job.process is None or job.process.poll() is not None for job in jobs):
            raise RuntimeError(f"a job process exited; see {logs['worker']} and {logs['scheduler']}")

        with tempfile.TemporaryDirectory(prefix="thotis-mix-") as tmp:
            work = Path(tmp)
            plan = work / "plan.json"
            plan.write_text(
                json.dumps(
                    {
                        "mentors": mentors,
                        "weights": opts.weights,
                        "fields": fields,
                        "slots": slots,
                        "webhook_secret": DEMO_CALCOM_WEBHOOK_SECRET,
                        "calcom_url": simulator.base_url,
                        "event_types": asyncio.run(_event_types(db_url)),
                        "api_keys": {mentor: demo_api_key(mentor) for mentor in mentors},
                        "calcom_slots": calcom_slots,
                    }
                ),
                encoding="utf-8",
            )
            print(f"· {len(slots)} free slots to book, {len(calcom_slots)} more for Cal.com's own bookings", flush=True)
            steps = []
            for rate in opts.steps:
                steps.append(run_mix_load(sidecar, token, plan, opts, work, rate=rate, duration=opts.step_duration))
                _hand_on_slots(plan, steps[-1])
            others = [job.pid for job in jobs] + [simulator.pid]
            before = sum(tree_cpu_seconds(pid) for pid in others)
            clock = time.perf_counter()
            run = run_mix_load(sidecar, token, plan, opts, work, rate=opts.rate, duration=opts.duration)
            cpu_jobs = (sum(tree_cpu_seconds(pid) for pid in others) - before) / (time.perf_counter() - clock)
        statuses: dict[str, int] = run.raw["statuses"]
        outcome = Outcome(
            bookings_ok=statuses.get("booking 201", 0), calcom_bookings_ok=statuses.get("calcom-booking 201", 0)
        )
        asyncio.run(drain(db_url, receiver, outcome))
        print(
            f"  sessions {outcome.sessions}, events produced {outcome.events_produced}, delivered "
            f"{outcome.events_delivered}, received {outcome.events_received}",
            flush=True,
        )

        base = (dt.datetime.now(dt.UTC) + HIT_OFFSET).replace(second=0, microsecond=0)
        hit_path = availability_path(mentors[-1], base, base + HIT_SPAN)
        _warm(sidecar, token, [hit_path])
        paths = {
            "list": "/api/v2/students/by-field/LAW",
            "profile": f"/api/v2/students/{mentors[0]}",
            "availability hit": hit_path,
        }
        print(f"· capacity: {opts.users} connections, {opts.closed_duration:g} s per route (wrk)", flush=True)
        closed = []
        for label in CLOSED_ORDER:
            target = ceiling if label == "ceiling" else sidecar
            url = target.base_url + ("/ceiling" if label == "ceiling" else paths[label])
            closed.append(
                run_wrk(wrk, label, url, token, target.pid, users=opts.users, warmup=3, duration=opts.closed_duration)
            )
        ceiling_rps = sum(c.stats.rps for c in closed if c.label == "ceiling") / 2
        for item in closed:
            item.ratio = item.stats.rps / ceiling_rps if ceiling_rps else math.nan

        for server in reversed(started):
            server.stop()
        problems = log_problems([logs[name] for name in ("sidecar", "worker", "scheduler", "ceiling")])
        text = markdown(opts, run, steps, closed, outcome, cpu_jobs, problems)
        opts.out.parent.mkdir(parents=True, exist_ok=True)
        opts.out.write_text(text, encoding="utf-8")
        print("\n" + text)
        print(f"· written to {opts.out}", flush=True)
        return 0
    except KeyboardInterrupt:
        print("\n· interrupted, cleaning up", file=sys.stderr, flush=True)
        return 130
    except (RuntimeError, subprocess.SubprocessError) as exc:
        print(f"\n· mix phase failed: {exc!r}", file=sys.stderr, flush=True)
        return 1
    finally:
        for server in reversed(started):
            server.stop()
        _cleanup(argparse.Namespace(postgres_url=opts.postgres_url, redis_url=opts.redis_url), names, database_created)
