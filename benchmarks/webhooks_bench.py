"""The `webhooks` phase: verified Cal.com webhook ingest, and outbound delivery to a local receiver.

`python -m benchmarks.run --phases webhooks [--webhook-rate 500] [--webhook-events 2000]`.

1. Ingest (SPEC.md §8: p99 ≤ 50 ms): `thotis serve --workers N` on a fresh database receives signed
   BOOKING_CREATED webhooks (distinct bookings, fresh `createdAt`) from N users at a fixed total
   rate (open loop). Each is verified, stored once and committed before the answer, then applied
   after it (these bookings are not Thotis sessions, so applying them ends in `ignored`). The
   report adds how long the inbox took to be fully applied.
2. Delivery: `--webhook-events` events are written to the outbox for one endpoint, then one
   `thotis deliver` process sends them to a local receiver (uvicorn, 200 at once); deliveries/s
   from the first to the last delivered, and the attempts' own durations.

Writes `results/webhooks.md`. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import hmac
import itertools
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

from adapter.auth import Role, mint_token
from benchmarks.calcom_bench import CalcomOptions, Measured, Stack, raw_request, run_load
from benchmarks.report import P99_TARGET_MS, latency_cells
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
from core.database import Database
from core.local_servers import clean_env, free_port
from core.settings import DEMO_CALCOM_WEBHOOK_SECRET, DEMO_JWT_SECRET
from webhooks_out.outbox import emit

DELIVERY_TIMEOUT_S = 600.0


@dataclass(frozen=True, slots=True)
class WebhookOptions:
    postgres_url: str
    redis_url: str
    users: int
    workers: int
    rate: float
    events: int
    warmup: float
    duration: float
    out: Path
    command: str


def receiver_server(log_path: Path) -> Server:
    port = free_port()
    argv = [sys.executable, "-m", "benchmarks.receiver_app", "--port", str(port)]
    return Server("receiver", argv, clean_env({}), port, log_path, "/")


def _signed_created(sidecar: Server, token: str, i: int) -> bytes:
    sent = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    start = (dt.datetime(2030, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=15 * i)).strftime("%Y-%m-%dT%H:%M:%SZ")
    payload = {
        "type": "thotis-15",
        "startTime": start,
        "endTime": start,
        "attendees": [{"email": f"bench-{i}@example.org", "name": "Bench", "timeZone": "UTC"}],
        "organizer": {"email": "someone@example.org"},
        "eventTypeId": 999_999,  # not a Thotis mentor's: stored, then ignored
        "uid": f"bench{i:016d}",
        "bookingId": i + 1,
        "metadata": {},
        "status": "ACCEPTED",
    }
    body = json.dumps(
        {"triggerEvent": "BOOKING_CREATED", "createdAt": sent, "payload": payload}, separators=(",", ":")
    ).encode()
    signature = hmac.new(DEMO_CALCOM_WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return raw_request(sidecar, "POST", "/webhooks/calcom", token, body, x_cal_signature_256=signature)


async def _wait_until(url: str, query: str, done: Callable[[int], bool], timeout_s: float, poll_s: float = 0.1) -> None:
    """Poll `query` (a count) until `done(count)` or `timeout_s` has passed."""
    for _ in range(int(timeout_s / poll_s)):
        if done(await _scalar(url, query)):
            return
        await asyncio.sleep(poll_s)


async def _scalar(url: str, query: str) -> int:
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"), timeout=10)
    try:
        return int(await connection.fetchval(query) or 0)
    finally:
        await connection.close()


async def _ingest(stack: Stack, token: str, db_url: str, opts: WebhookOptions) -> tuple[Measured, float]:
    counter = itertools.count()
    calcom_opts = CalcomOptions(
        postgres_url=opts.postgres_url, redis_url=opts.redis_url, delay_ms=0, users=opts.users,
        workers=opts.workers, rates=(opts.rate, 0, 0), warmup=opts.warmup, duration=opts.duration,
        out=opts.out, command=opts.command,
    )  # fmt: skip
    measured = await run_load(
        "webhook ingest", stack, lambda: _signed_created(stack.sidecar, token, next(counter)), 200, opts.rate,
        calcom_opts,
    )  # fmt: skip
    started = time.monotonic()
    pending_query = "SELECT count(*) FROM thotis.calcom_webhook_events WHERE status = 'pending'"
    await _wait_until(db_url, pending_query, lambda n: n == 0, 120)
    return measured, time.monotonic() - started


async def _deliver(
    db_url: str, sidecar: Server, receiver: Server, opts: WebhookOptions, log_path: Path
) -> dict[str, float]:
    admin = mint_token(DEMO_JWT_SECRET, "thotis", role=Role.ADMIN, sub="bench-admin", ttl_seconds=3600)
    async with httpx.AsyncClient(base_url=sidecar.base_url, headers={"Authorization": f"Bearer {admin}"}) as client:
        created = await client.post("/api/v2/webhooks", json={"url": f"{receiver.base_url}/hooks"})
        if created.status_code != 201:
            raise RuntimeError(f"endpoint creation answered {created.status_code}: {created.text[:300]}")
    database = Database(db_url, pool_size=2)
    try:
        async with database.session() as session:
            now = dt.datetime.now(dt.UTC)
            for n in range(opts.events):
                await emit(session, "booking.created", {"n": n}, subject=f"bench-{n % 500}", occurred_at=now)
    finally:
        await database.dispose()
    env = clean_env({"THOTIS_ENV": "test", "THOTIS_DATABASE_URL": db_url, "THOTIS_REDIS_URL": opts.redis_url,
                     "THOTIS_WEBHOOK_DELIVERY_INTERVAL_SECONDS": "0.05"})  # fmt: skip
    worker = Server("deliver", [sys.executable, "-m", "adapter.cli", "deliver"], env, 0, log_path, "/")
    worker.start()
    pending = "SELECT count(*) FROM thotis.webhook_deliveries WHERE status <> 'delivered'"
    try:
        # Timed from the first delivered event to the last, measured here (the rows' delivered_at
        # is the time of the delivery pass, shared by a whole batch): the worker's start-up is out.
        await _wait_until(db_url, pending, lambda n: n < opts.events, 60, poll_s=0.01)
        first = time.monotonic()
        await _wait_until(db_url, pending, lambda n: n == 0, DELIVERY_TIMEOUT_S, poll_s=0.01)
        span = time.monotonic() - first
    finally:
        worker.stop()
    connection = await asyncpg.connect(db_url.replace("postgresql+asyncpg://", "postgresql://"), timeout=10)
    try:
        row = await connection.fetchrow(
            "SELECT count(*) AS n, percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50, "
            "percentile_cont(0.99) WITHIN GROUP (ORDER BY duration_ms) AS p99, count(*) FILTER "
            "(WHERE status_code IS DISTINCT FROM 200) AS failed FROM thotis.webhook_deliveries d "
            "JOIN thotis.webhook_attempts a ON a.delivery_id = d.id WHERE d.status = 'delivered'"
        )
    finally:
        await connection.close()
    return {
        "delivered": float(row["n"]),
        "span_s": span,
        "rate": float(row["n"]) / span if span else 0.0,
        "attempt_p50_ms": float(row["p50"] or 0),
        "attempt_p99_ms": float(row["p99"] or 0),
        "failed_attempts": float(row["failed"]),
    }


def markdown(
    opts: WebhookOptions, ingest: Measured, drain_s: float, delivery: dict[str, float], logs: tuple[list[str], int]
) -> str:
    t, phase, d = ingest.phase.total, ingest.phase, delivery
    met = t.p99 <= P99_TARGET_MS and t.errors == 0 and t.rps >= 0.95 * opts.rate
    cells = latency_cells(t).removeprefix("| ").removesuffix(" |")
    lines = [
        "# Thotis sidecar — webhooks in and out (SPEC.md §8)",
        "",
        f"- **date**: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- **command**: `{opts.command}`",
        f"- **cores (os.cpu_count())**: {os.cpu_count()}",
        f"- **sidecar**: `thotis serve --workers {opts.workers}` (THOTIS_ENV=test, its own delivery loop off), local "
        "PostgreSQL and Redis, fresh database",
        f"- **ingest load**: {opts.users} users on keep-alive connections, {opts.rate:g} signed Cal.com webhooks/s in "
        f"all (open loop), {opts.warmup:g} s warm-up + {opts.duration:g} s measured; each a distinct booking "
        "(BOOKING_CREATED of a non-Thotis event type: verified, stored, committed, answered, then applied as ignored)",
        f"- **delivery**: {opts.events} events for one endpoint, one `thotis deliver` process (20 concurrent sends), "
        "receiver = uvicorn answering 200 at once on this machine",
        "",
        "| measurement | rate | req/s | p50 ms | p95 ms | p99 ms | max ms | errors | target | met |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |",
        f"| webhook ingest | {opts.rate:g}/s | {t.rps:.0f} | {cells} | p99 ≤ {P99_TARGET_MS:.0f} ms "
        f"| {'yes' if met else '**no**'} |",
        "",
        f"- inbox fully applied {drain_s:.1f} s after the last request; CPU sidecar / generator / machine: "
        f"{phase.server_cores:.2f} / {phase.generator_cores:.2f} / {phase.machine_busy_cores:.2f} cores",
        f"- outbound: {d['delivered']:.0f} delivered in {d['span_s']:.1f} s = **{d['rate']:.0f} deliveries/s**; "
        f"attempt duration p50 {d['attempt_p50_ms']:.1f} ms, p99 {d['attempt_p99_ms']:.1f} ms; "
        f"{d['failed_attempts']:.0f} failed attempts",
        "",
        "## Server log",
        "",
    ]
    log_lines, log_total = logs
    if log_total:
        lines += [f"{log_total} warning/error/traceback line(s); the first ones:", "", "```", *log_lines, "```", ""]
    else:
        lines += ["No warning, error or traceback in the server logs.", ""]
    return "\n".join(lines).rstrip() + "\n"


def run_webhooks(opts: WebhookOptions) -> int:
    """Create, start, measure, report, and remove everything — also on Ctrl-C or an error."""
    names = Names.fresh()
    db_url = database_url(opts.postgres_url, names.database)
    results = ROOT / "benchmarks" / "results"
    logs = [results / "webhooks-sidecar.log", results / "webhooks-receiver.log", results / "webhooks-deliver.log"]
    servers: list[Server] = []
    database_created = False
    try:
        asyncio.run(create_database(opts.postgres_url, names.database))
        database_created = True
        migrate_and_seed(db_url, opts.redis_url, names.redis_prefix, 1)
        token = service_token(ttl_seconds=3600)
        sidecar = app_server(
            db_url=db_url, redis_url=opts.redis_url, prefix=names.redis_prefix, workers=opts.workers,
            log_path=logs[0], token=token, THOTIS_CALCOM_WEBHOOK_SECRET=DEMO_CALCOM_WEBHOOK_SECRET,
            THOTIS_WEBHOOK_DELIVERY_INTERVAL_SECONDS="0",
        )  # fmt: skip
        receiver = receiver_server(logs[1])
        servers += [sidecar, receiver]
        for server in servers:
            server.start()
            server.wait_ready()
        print(
            f"· webhook ingest — {opts.users} users, {opts.rate:g}/s, {opts.warmup:g}+{opts.duration:g} s", flush=True
        )
        ingest, drain_s = asyncio.run(_ingest(Stack(sidecar, receiver), token, db_url, opts))
        print(f"· delivery — {opts.events} events to {receiver.base_url}", flush=True)
        delivery = asyncio.run(_deliver(db_url, sidecar, receiver, opts, logs[2]))
        for server in servers:
            server.stop()
        text = markdown(opts, ingest, drain_s, delivery, log_problems(logs))
        out = opts.out.parent / "webhooks.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        print("\n" + text)
        print(f"· written to {out}", flush=True)
        return 0
    except KeyboardInterrupt:
        return 130
    except (RuntimeError, TimeoutError) as exc:
        print(f"\n· webhooks phase failed: {exc!r}", file=sys.stderr, flush=True)
        return 1
    finally:
        for server in servers:
            server.stop()
        _cleanup(argparse.Namespace(postgres_url=opts.postgres_url, redis_url=opts.redis_url), names, database_created)
