"""`EXPLAIN ANALYZE` of every query the hot paths and the jobs run, on production-sized tables.

`python -m benchmarks.explain` (`make explain`). Creates a throw-away database, applies the
migrations, fills it with SQL (`--mentors` profiles, `--sessions` sessions over two years and the
coming month, a rating for half the completed ones, an email and a Cal.com webhook per session,
Thotis events with their deliveries), then runs the real code — API routes in process (cache
cleared before each, so every read reaches the database) and the job functions — while
recording each SQL statement it sends. Each distinct statement is then run again under
`EXPLAIN (ANALYZE, BUFFERS)` (writes inside a rolled-back transaction) and reported with its
plan, time, and whether it reads a whole large table (a sequential scan over ≥ 10,000 rows):
the evidence that the indexes serve the queries, or the list of those that need one.

Writes `results/explain.md`; removes the database and its Redis keys.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import re
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import event, text
from sqlalchemy.engine import Connection

from adapter.app import build_services, create_app
from adapter.auth import Role, mint_token
from adapter.jobs_wiring import job_deps
from benchmarks.stack import ROOT, Names, create_database, database_url, delete_prefix, drop_database
from core.settings import DEMO_JWT_SECRET, Environment, Settings
from jobs import work
from migrations.runner import upgrade

#: A sequential scan over at least this many rows is a finding.
BIG_TABLE_ROWS = 10_000
SEED = """
INSERT INTO thotis.student_profiles (user_id, name, email, university, degree, field, current_year, bio,
    photo_hash, is_active, calcom_user_id, calcom_username, calcom_event_type_id, calcom_link_status,
    completed_sessions, total_ratings, rating_sum, average_rating, available_slots_7d, next_available_at)
SELECT 'mentor-' || i, 'Mentor ' || i, 'mentor-' || i || '@example.org', 'Université ' || (i % 60),
    'Licence', (ARRAY['LAW','MEDICINE','ENGINEERING','BUSINESS','COMPUTER_SCIENCE','PSYCHOLOGY','EDUCATION',
    'ARTS','SCIENCES','OTHER'])[1 + i % 10], 1 + i % 5, 'Étudiante en droit, passionnée ' || md5(i::text),
    md5(i::text), i % 20 <> 0, i, 'mentor' || i, 100000 + i, 'linked', i % 40, i % 30, (i % 30) * 4,
    CASE WHEN i % 30 = 0 THEN NULL ELSE 4.0 END, i % 25, now() + (i % 7) * interval '1 day'
FROM generate_series(1, :mentors) AS i;

INSERT INTO thotis.sessions (uid, calcom_booking_id, mentor_id, start_at, end_at, status, meet_url, student_name,
    student_email, student_language, consent, completed_at, cancelled_at, cancelled_by, reminder_queued_at,
    feedback_queued_at)
SELECT 's' || n, n, 'mentor-' || (1 + n % :mentors), at, at + interval '15 minutes',
    CASE WHEN at > now() THEN 'scheduled' WHEN n % 10 = 0 THEN 'cancelled' WHEN n % 25 = 0 THEN 'no_show'
         ELSE 'completed' END,
    'https://meet.google.com/abc-defg-hij', 'Student ' || n, 'student-' || (n % 50000) || '@example.org',
    CASE WHEN n % 3 = 0 THEN 'en' ELSE 'fr' END, true,
    CASE WHEN at <= now() AND n % 10 <> 0 AND n % 25 <> 0 THEN at + interval '15 minutes' END,
    CASE WHEN at <= now() AND n % 10 = 0 THEN at - interval '1 day' END,
    CASE WHEN at <= now() AND n % 10 = 0 THEN 'student' END,
    CASE WHEN at <= now() THEN at - interval '1 day' END,
    CASE WHEN at <= now() - interval '1 hour' THEN at + interval '20 minutes' END
FROM (
    SELECT n, date_trunc('hour', now()) - interval '730 days'
              + floor(n::numeric * 72960 / :sessions) * interval '15 minutes' AS at
    FROM generate_series(1, :sessions) AS n
) AS planned;

INSERT INTO thotis.ratings (session_uid, mentor_id, rating, feedback, flagged_for_review, created_at)
SELECT uid, mentor_id, 1 + (calcom_booking_id % 5), CASE WHEN calcom_booking_id % 4 = 0 THEN 'Très utile' END,
    calcom_booking_id % 97 = 0, end_at + interval '1 hour'
FROM thotis.sessions WHERE status = 'completed' AND calcom_booking_id % 2 = 0;

INSERT INTO thotis.email_outbox (dedupe_key, kind, recipient, to_email, payload, message_id, status, attempts,
    next_attempt_at, session_uid, sent_at, created_at)
SELECT 'confirmation/' || uid || '/student', 'confirmation', 'student', student_email, '{}'::jsonb,
    '<' || uid || '@thotis.local>', CASE WHEN start_at > now() - interval '1 day' AND calcom_booking_id % 50 = 0
    THEN 'pending' ELSE 'sent' END, 1, created_at, uid,
    CASE WHEN start_at <= now() - interval '1 day' OR calcom_booking_id % 50 <> 0 THEN created_at END, created_at
FROM thotis.sessions;

INSERT INTO thotis.calcom_webhook_events (dedupe_key, trigger, received_at, body, status, attempts)
SELECT 'BOOKING_CREATED/' || uid, 'BOOKING_CREATED', created_at, '{}'::bytea,
    CASE WHEN calcom_booking_id % 1000 = 0 THEN 'pending' ELSE 'processed' END, 1
FROM thotis.sessions;

INSERT INTO thotis.webhook_endpoints (id, url, events, secret_encrypted)
VALUES ('ep_explain', 'http://127.0.0.1:9/hooks', '{}', 'unused');

INSERT INTO thotis.webhook_messages (id, event_type, sequence, payload, created_at)
SELECT 'msg_' || n, 'booking.created', n, '{}'::bytea, now() - (n % 700) * interval '1 day'
FROM generate_series(1, :events) AS n;

INSERT INTO thotis.webhook_deliveries (message_id, endpoint_id, status, attempts, next_attempt_at, created_at)
SELECT 'msg_' || n, 'ep_explain', CASE WHEN n % 500 = 0 THEN 'dead' ELSE 'delivered' END, 1,
    now() - (n % 700) * interval '1 day', now() - (n % 700) * interval '1 day'
FROM generate_series(1, :events) AS n;
"""


@dataclass(slots=True)
class Recorded:
    """One distinct statement, the scenarios that sent it, and its plan."""

    statement: str
    parameters: Any
    scenarios: list[str] = field(default_factory=list)
    plan: list[str] = field(default_factory=list)
    ms: float = 0.0
    seq_scans: list[str] = field(default_factory=list)
    error: str = ""


class Recorder:
    """Listens to the engine and keeps each distinct statement (by text) with its first parameters."""

    def __init__(self) -> None:
        self.scenario = ""
        self.by_text: dict[str, Recorded] = {}

    def __call__(
        self, conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        if not self.scenario or not _explainable(statement) or many:
            return
        found = self.by_text.setdefault(statement, Recorded(statement, parameters))
        if self.scenario not in found.scenarios:
            found.scenarios.append(self.scenario)


def _explainable(statement: str) -> bool:
    head = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
    return head in {"SELECT", "UPDATE", "DELETE", "INSERT", "WITH"} and "pg_catalog" not in statement


async def scenarios(services: Any, app: Any, recorder: Recorder, mentors: int) -> None:
    """The hot reads through the API, then every job, each recorded under its name."""
    service = mint_token(DEMO_JWT_SECRET, "thotis", role=Role.SERVICE, sub="explain", ttl_seconds=3600)
    admin = mint_token(DEMO_JWT_SECRET, "thotis", role=Role.ADMIN, sub="explain-admin", ttl_seconds=3600)
    mentor = f"mentor-{mentors // 2 + 1}"  # every 20th mentor is inactive
    reads = {
        "list by field": ("/api/v2/students/by-field/LAW", service),
        "list page 40": ("/api/v2/students/by-field/LAW?page=40", service),
        "search university": ("/api/v2/students?university=Universit%C3%A9%2017", service),
        "search text": ("/api/v2/students?q=droit&field=ARTS", service),
        "search available": ("/api/v2/students?available=true", service),
        "profile": (f"/api/v2/students/{mentor}", service),
        "mentor stats": (f"/api/v2/students/{mentor}/stats", service),
        "mentor ratings": (f"/api/v2/students/{mentor}/ratings", service),
        "platform stats": ("/api/v2/platform/stats", admin),
        "platform mentors": ("/api/v2/platform/mentors?sort=averageRating", admin),
        "review queue": ("/api/v2/platform/reviews", admin),
        "privacy export": ("/api/v2/privacy/export?email=student-123%40example.org", admin),
        "booking": ("/api/v2/bookings/s1234", admin),
    }
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://explain") as client:
        for name, (path, token) in reads.items():
            services.cache.clear_local()
            await _flush_cache(services)
            recorder.scenario = name
            response = await client.get(path, headers={"Authorization": f"Bearer {token}"})
            recorder.scenario = ""
            if response.status_code != 200:
                print(f"  {name}: {path} answered {response.status_code}: {response.text[:200]}", file=sys.stderr)
    jobs: dict[str, Callable[[Any], Awaitable[Any]]] = {
        "job queue_reminders": work.queue_reminders,
        "job queue_feedback_requests": work.queue_feedback_requests,
        "job auto_complete": work.auto_complete,
        "job send_emails": work.send_emails,
        "job deliver_webhooks": work.deliver_webhooks,
        "job apply_calcom_inbox": work.apply_calcom_inbox,
        "job apply_retention": work.apply_retention,
        "job check_alerts": work.check_alerts,
    }
    async with httpx.AsyncClient(timeout=2) as http:
        deps = job_deps(services, http)
        for name, job in jobs.items():
            recorder.scenario = name
            try:
                await job(deps)
            except Exception as exc:  # a job failing here (no SMTP, no Cal.com) still shows its queries
                print(f"  {name}: {exc!r}", file=sys.stderr)
            finally:
                recorder.scenario = ""


async def _flush_cache(services: Any) -> None:
    client = services.redis.client
    keys = [k async for k in client.scan_iter(match=services.settings.redis_key_prefix + "*", count=1000)]
    if keys:
        await client.unlink(*keys)


async def explain_all(services: Any, recorded: list[Recorded]) -> None:
    for item in recorded:
        async with services.database.engine.connect() as conn:
            transaction = await conn.begin()
            try:
                started = time.perf_counter()
                result = await conn.exec_driver_sql(
                    "EXPLAIN (ANALYZE, BUFFERS, FORMAT TEXT) " + item.statement, item.parameters
                )
                item.ms = (time.perf_counter() - started) * 1000
                item.plan = [row[0] for row in result]
            except Exception as exc:  # a statement that cannot be replayed alone (e.g. needs a lock held)
                item.error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
            finally:
                await transaction.rollback()
        item.seq_scans = _big_seq_scans(item.plan)


def _big_seq_scans(plan: list[str]) -> list[str]:
    found = []
    for line in plan:
        match = re.search(r"Seq Scan on (\S+).*actual time=\S+ rows=(\d+) loops=(\d+)", line)
        removed = re.search(r"Rows Removed by Filter: (\d+)", " ".join(plan[plan.index(line) : plan.index(line) + 3]))
        if match:
            scanned = int(match.group(2)) * int(match.group(3)) + (int(removed.group(1)) if removed else 0)
            if scanned >= BIG_TABLE_ROWS:
                found.append(f"{match.group(1)} ({scanned:,} rows read)")
    return found


def markdown(args: argparse.Namespace, counts: dict[str, int], recorded: list[Recorded], seed_s: float) -> str:
    big = [r for r in recorded if r.seq_scans]
    lines = [
        "# Thotis sidecar — query plans on production-sized tables",
        "",
        f"- **date**: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- **command**: `python -m benchmarks.explain {' '.join(sys.argv[1:])}`",
        "- **data** (seeded with SQL in "
        + f"{seed_s:.0f} s, then ANALYZE): "
        + ", ".join(f"{table} {n:,}" for table, n in counts.items()),
        "- **method**: the real code ran (API routes in process with the cache emptied before each, then every "
        "job function) while each SQL statement it sent was recorded; each distinct statement was then run "
        "again under `EXPLAIN (ANALYZE, BUFFERS)` with the same parameters, writes in a rolled-back "
        "transaction. A finding is a sequential scan reading ≥ "
        f"{BIG_TABLE_ROWS:,} rows.",
        "",
        f"**{len(recorded)} distinct statements, {len(big)} with a large sequential scan.**",
        "",
        "| # | sent by | statement | time ms | large seq scan |",
        "| ---: | --- | --- | ---: | --- |",
    ]
    for i, item in enumerate(recorded, 1):
        short = " ".join(item.statement.split())[:110].replace("|", "\\|")
        scans = "; ".join(item.seq_scans) or ("error: " + item.error if item.error else "none")
        lines.append(f"| {i} | {', '.join(item.scenarios)} | `{short}` | {item.ms:.1f} | {scans} |")
    lines += ["", "## Plans", ""]
    for i, item in enumerate(recorded, 1):
        lines += [f"### {i}. {', '.join(item.scenarios)}", "", "```sql", " ".join(item.statement.split()), "```", ""]
        lines += ["```", *(item.plan or [item.error]), "```", ""]
    return "\n".join(lines).rstrip() + "\n"


async def run(args: argparse.Namespace) -> int:
    names = Names.fresh()
    db_url = database_url(args.postgres_url, names.database)
    await create_database(args.postgres_url, names.database)
    try:
        await asyncio.to_thread(upgrade, db_url)
        settings = Settings(
            env=Environment.TEST, database_url=db_url, redis_url=args.redis_url, redis_key_prefix=names.redis_prefix,
            rate_limit_api_per_minute=10**9, jobs_enabled=False, webhook_delivery_interval_seconds=0,
            calcom_inbox_sweep_seconds=0,
        )  # fmt: skip
        services = build_services(settings)
        try:
            print(f"· seeding {names.database} …", flush=True)
            started = time.perf_counter()
            params = {"mentors": args.mentors, "sessions": args.sessions, "events": args.events}
            async with services.database.engine.begin() as conn:
                for statement in SEED.split(";\n\n"):
                    await conn.execute(text(statement), params)
            async with services.database.engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text("ANALYZE"))
                counts = {}
                for table in ("student_profiles", "sessions", "ratings", "email_outbox", "calcom_webhook_events",
                              "webhook_deliveries"):  # fmt: skip
                    counts[table] = int((await conn.execute(text(f"SELECT count(*) FROM thotis.{table}"))).scalar_one())
            seed_s = time.perf_counter() - started
            print(f"· seeded in {seed_s:.0f} s: {counts}", flush=True)
            recorder = Recorder()
            event.listen(services.database.engine.sync_engine, "before_cursor_execute", recorder)
            app = create_app(services=services)
            await scenarios(services, app, recorder, args.mentors)
            event.remove(services.database.engine.sync_engine, "before_cursor_execute", recorder)
            recorded = list(recorder.by_text.values())
            print(f"· {len(recorded)} distinct statements recorded; explaining …", flush=True)
            await explain_all(services, recorded)
            text_out = markdown(args, counts, recorded, seed_s)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(text_out, encoding="utf-8")
            for item in recorded:
                flag = "; ".join(item.seq_scans) or item.error or "ok"
                print(f"  {item.ms:7.1f} ms  {', '.join(item.scenarios)[:40]:40}  {flag}")
            print(f"· written to {args.out}", flush=True)
            return 0
        finally:
            await services.close()
    finally:
        await delete_prefix(args.redis_url, names.redis_prefix)
        await drop_database(args.postgres_url, names.database)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.explain", description=__doc__.splitlines()[0])
    parser.add_argument("--mentors", type=int, default=5_000)
    parser.add_argument("--sessions", type=int, default=300_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "explain.md")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    for url in (args.postgres_url, args.redis_url):
        if urlsplit(url).hostname not in {"127.0.0.1", "localhost", "::1"}:
            parser.error(f"benchmarks only talk to this machine: {url}")
    if min(args.mentors, args.sessions, args.events) < 100:
        parser.error("--mentors, --sessions and --events must be ≥ 100")
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    os.environ.setdefault("THOTIS_ENV", "test")
    main()
