"""`make bench`: the load benchmarks of SPEC.md §8 against a real, freshly seeded sidecar.

Creates a throw-away database and Redis key prefix, starts `thotis serve` and the ceiling app
as subprocesses, drives them from separate generator processes (locust for the open loop,
`closedloop.py` for the closed loop), writes Markdown results, and removes everything it
created, also on Ctrl-C or failure. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib.metadata
import importlib.util
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

import httpx

from benchmarks.recording import TOKEN_ENV
from benchmarks.report import Phase, Report
from benchmarks.routes import MIX_WEIGHTS, ROUTES, parse_mix_weights
from benchmarks.stack import (
    ROOT,
    Names,
    Server,
    app_server,
    ceiling_server,
    create_database,
    database_url,
    delete_prefix,
    drop_database,
    migrate_and_seed,
    service_token,
    set_value,
    stop_group,
)

DEFAULT_STEPS = "200,400,600,800,1000,1500,2000,2500,3000,4000,5000"
QUICK_STEPS = "200,500,1000"
OPEN_LOOP_ROUTES = ("list", "search", "profile")
CLOSED_LOOP_ORDER = ("ceiling", "list", "profile", "search", "ceiling")
#: Phases run against `thotis serve` and the ceiling app; `calcom` (calcom_bench.py) runs `thotis demo`.
SERVE_PHASES = ("open", "steps", "closed")
LOCUST = "benchmarks.loadgen"
CLOSED_CLIENTS = {"asyncio": "benchmarks.closedloop", "locust": LOCUST}
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
#: Extra time a load-generator process gets beyond warm-up + duration before it is killed.
LOADGEN_GRACE_S = 60.0
MAX_LOG_LINES = 30


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description="Load benchmarks of SPEC.md §8 (see benchmarks/README.md)."
    )
    parser.add_argument("--duration", type=float, default=30.0, help="Measured seconds of the open loop (30)")
    parser.add_argument("--warmup", type=float, default=5.0, help="Unmeasured seconds before each measurement (5)")
    parser.add_argument("--rate", type=float, default=500.0, help="Total req/s of the open loop (500)")
    parser.add_argument("--users", type=int, default=100, help="Simulated users / connections (100)")
    parser.add_argument("--workers", type=int, default=2, help="Server worker processes, both servers (2)")
    parser.add_argument("--steps", default=None, help=f"Rates tried for the sustainable rate ({DEFAULT_STEPS})")
    parser.add_argument("--step-duration", type=float, default=None, help="Measured seconds per step (--duration)")
    parser.add_argument(
        "--step-retries", type=int, default=1, help="Extra attempts at a rate that failed, against noise (1)"
    )
    parser.add_argument("--closed-duration", type=float, default=15.0, help="Measured seconds per closed run (15)")
    parser.add_argument(
        "--closed-client",
        choices=sorted(CLOSED_CLIENTS),
        default="asyncio",
        help="Closed-loop generator: asyncio (lighter, default) or locust with no wait",
    )
    parser.add_argument(
        "--phases",
        default="open,steps,closed",
        help="Parts to run, comma-separated (open,steps,closed; also mix, calcom and webhooks, not in the default)",
    )
    parser.add_argument(
        "--calcom-delay-ms", type=float, default=50.0, help="calcom phase: Cal.com simulator delay, ms (50)"
    )
    parser.add_argument(
        "--calcom-duration", type=float, default=10.0, help="calcom phase: measured seconds per measurement (10)"
    )
    parser.add_argument(
        "--calcom-rates",
        default="500,200,20",
        help="calcom phase: total req/s of availability hit, miss and booking; 0 = closed loop (500,200,20)",
    )
    parser.add_argument(
        "--mix-steps",
        default="100,200,300,400",
        help="mix phase: rates tried before --rate for the mix's sustainable rate; empty = none (100,200,300,400)",
    )
    parser.add_argument(
        "--mix-weights",
        default=",".join(f"{name}={weight}" for name, weight in MIX_WEIGHTS.items()),
        help="mix phase: share of each route, route=weight,… (%(default)s); more bookings give their p99 more samples",
    )
    parser.add_argument(
        "--mix-sync-interval",
        type=int,
        default=None,
        help="mix phase: the scheduler's Cal.com sync interval in s (default 300: none during the run); "
        "e.g. 10 to measure the routes while the sync runs",
    )
    parser.add_argument("--webhook-rate", type=float, default=500.0, help="webhooks phase: ingest req/s (500)")
    parser.add_argument("--webhook-events", type=int, default=2000, help="webhooks phase: events delivered (2000)")
    parser.add_argument("--per-field", type=int, default=10, help="Sample mentors per academic field (10 → 100)")
    parser.add_argument("--quick", action="store_true", help="Smoke run: ~8 s open loop, 3 short steps, 5 s closed")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="Where the report goes; with several kinds of report, each goes next to it under its own name "
        "(default: benchmarks/results/, latest.md, load.md, calcom.md, webhooks.md)",
    )
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.warmup, args.closed_duration, args.calcom_duration = 8.0, 2.0, 5.0, 5.0
        args.steps = args.steps or QUICK_STEPS
        args.step_duration = args.step_duration or 5.0
    args.steps = [float(r) for r in (args.steps or DEFAULT_STEPS).split(",") if r.strip()]
    args.step_duration = args.step_duration or args.duration
    args.phases = {p.strip() for p in args.phases.split(",") if p.strip()}
    try:
        args.mix_steps = tuple(sorted(float(r) for r in args.mix_steps.split(",") if r.strip()))
    except ValueError:
        parser.error("--mix-steps takes rates separated by commas")
    if any(r <= 0 for r in args.mix_steps):
        parser.error("--mix-steps must be positive")
    try:
        args.mix_weights = parse_mix_weights(args.mix_weights)
    except ValueError as exc:
        parser.error(f"--mix-weights: {exc}")
    if args.mix_sync_interval is not None and not 10 <= args.mix_sync_interval <= 86_400:
        parser.error("--mix-sync-interval takes 10..86400 s, as THOTIS_SYNC_INTERVAL_SECONDS does")
    if unknown := args.phases - {*SERVE_PHASES, "mix", "calcom", "webhooks"}:
        parser.error(f"unknown phase(s): {', '.join(sorted(unknown))}")
    if min(args.duration, args.step_duration, args.closed_duration, args.calcom_duration) <= 0 or args.warmup < 0:
        parser.error("durations must be > 0 and --warmup ≥ 0")
    if not 0 <= args.step_retries <= 3:
        parser.error("--step-retries must be 0..3")
    if args.calcom_delay_ms < 0:
        parser.error("--calcom-delay-ms must be ≥ 0")
    try:
        args.calcom_rates = tuple(float(r) for r in args.calcom_rates.split(","))
    except ValueError:
        parser.error("--calcom-rates takes three numbers: hit,miss,booking")
    if len(args.calcom_rates) != 3 or any(r < 0 for r in args.calcom_rates):
        parser.error("--calcom-rates takes three numbers ≥ 0: hit,miss,booking")
    if args.users < 1 or args.workers < 1 or args.rate <= 0 or any(r <= 0 for r in args.steps):
        parser.error("--users, --workers, --rate and --steps must be positive")
    for url in (args.postgres_url, args.redis_url):
        if urlsplit(url).hostname not in LOCAL_HOSTS:
            parser.error(f"benchmarks only talk to this machine: {url}")
    return args


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run_loadgen(
    module: str,
    label: str,
    server: Server,
    token: str,
    routes: tuple[str, ...],
    *,
    users: int,
    rate: float,
    warmup: float,
    duration: float,
    workdir: Path,
) -> Phase:
    """Run one generator process (`module`) to completion, bounded in time, and read its figures."""
    out = workdir / f"{label}-{time.monotonic_ns()}.json"
    argv = [
        sys.executable, "-m", module, "--host", server.base_url,
        "--routes", ",".join(routes), "--users", str(users), "--rate", str(rate), "--warmup", str(warmup),
        "--duration", str(duration), "--server-pid", str(server.pid), "--out", str(out),
    ]  # fmt: skip
    mode = f"{rate:.0f} req/s" if rate else "closed loop"
    print(f"· {label}: {','.join(routes)} — {users} users, {mode}, {warmup:.0f}+{duration:.0f} s", flush=True)
    env = {**os.environ, TOKEN_ENV: token}  # not on the command line, where `ps` shows it
    process = subprocess.Popen(argv, cwd=ROOT, env=env, start_new_session=True, stdout=sys.stderr)
    try:
        code = process.wait(timeout=warmup + duration + LOADGEN_GRACE_S)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{module} for {label} did not finish in time") from None
    finally:
        stop_group(process, 5.0)
    if code != 0:
        raise RuntimeError(f"{module} for {label} exited with {code}")
    phase = Phase.from_result(label, json.loads(out.read_text(encoding="utf-8")))
    t = phase.total
    print(
        f"  {t.rps:.0f} req/s, p50 {t.p50:.1f} / p95 {t.p95:.1f} / p99 {t.p99:.1f} ms, {t.errors} errors, "
        f"CPU server {phase.server_cores:.2f} gen {phase.generator_cores:.2f} machine {phase.machine_busy_cores:.2f}",
        flush=True,
    )
    return phase


def preflight(server: Server, token: str) -> bytes:
    """Check every measured route answers 200 with data (warming the cache); return the list body."""
    bodies: dict[str, bytes] = {}
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
        for name in OPEN_LOOP_ROUTES:
            for _ in range(2):  # the second answer comes from the cache
                response = client.get(ROUTES[name])
                if response.status_code != 200:
                    raise RuntimeError(f"{name} {ROUTES[name]} answered {response.status_code}: {response.text[:300]}")
            bodies[name] = response.content
    listing = json.loads(bodies["list"])
    if not listing.get("data") or not listing.get("pagination", {}).get("total"):
        raise RuntimeError(f"the mentor list is empty: {bodies['list'][:300]!r}")
    return bodies["list"]


def log_problems(paths: list[Path]) -> tuple[list[str], int]:
    """Warning, error and traceback lines of the server logs: the first few, and how many."""
    found: list[str] = []
    total = 0
    for path in paths:
        if not path.exists():
            continue
        with path.open(encoding="utf-8", errors="replace") as log:
            for line in log:
                if any(mark in line for mark in ("WARNING", "ERROR", "CRITICAL", "Traceback", "Exception")):
                    total += 1
                    if len(found) < MAX_LOG_LINES:
                        found.append(f"{path.name}: {line.rstrip()[:400]}")
    return found, total


def context(args: argparse.Namespace, seeded: int, argv: list[str] | None) -> dict[str, str]:
    def version(dist: str) -> str:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    fast = [m for m in ("uvloop", "httptools") if importlib.util.find_spec(m)]
    cpu_model = next(
        (
            line.split(":", 1)[1].strip()
            for line in _read("/proc/cpuinfo").splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python -m benchmarks.run " + " ".join(sys.argv[1:] if argv is None else argv),
        "cores (os.cpu_count())": f"{os.cpu_count()} ({cpu_model})",
        "python": platform.python_version(),
        "server": (
            f"`thotis serve --workers {args.workers}` (uvicorn {version('uvicorn')}, litestar {version('litestar')}; "
            + (f"{', '.join(fast)} installed" if fast else "asyncio loop + h11: uvloop/httptools not installed")
            + "), THOTIS_ENV=test, rate limit raised to 100000000/min, other settings default"
        ),
        "data": f"{seeded} sample mentors seeded (per field {args.per_field}) in a fresh database",
        "load generators": (
            f"open loop: locust {version('locust')} FastHttpUser (library API, constant_throughput); closed loop: "
            + (
                "benchmarks/closedloop.py (asyncio streams" + (" on uvloop)" if "uvloop" in fast else ")")
                if args.closed_client == "asyncio"
                else "locust with no wait"
            )
            + "; each in its own process"
        ),
    }


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def measure(args: argparse.Namespace, app: Server, ceiling: Server, token: str, report: Report, work: Path) -> None:
    """The three parts of SPEC.md §8, in order, each bounded in count and time."""
    common = {"users": args.users, "warmup": args.warmup, "workdir": work}
    if "open" in args.phases:
        report.open_loop = run_loadgen(
            LOCUST, "open loop", app, token, OPEN_LOOP_ROUTES, rate=args.rate, duration=args.duration, **common
        )
    if "steps" in args.phases:
        report.step_rates = list(args.steps)
        for rate in args.steps:
            for attempt in range(1 + args.step_retries):
                label = f"step {rate:.0f}" + (" (retry)" if attempt else "")
                phase = run_loadgen(
                    LOCUST, label, app, token, ("list",), rate=rate, duration=args.step_duration, **common
                )
                report.steps.append(phase)
                if phase.sustained():
                    break
            else:
                break
    if "closed" in args.phases:
        for label in CLOSED_LOOP_ORDER:
            server = ceiling if label == "ceiling" else app
            report.closed.append(
                run_loadgen(
                    CLOSED_CLIENTS[args.closed_client],
                    label,
                    server,
                    token,
                    (label,),
                    rate=0.0,
                    duration=args.closed_duration,
                    **common,
                )
            )


#: Each kind of report and the file it is written to when the run makes several.
REPORT_NAMES = {"serve": "latest.md", "mix": "load.md", "calcom": "calcom.md", "webhooks": "webhooks.md"}


def report_paths(phases: set[str], out: Path | None) -> dict[str, Path]:
    """Where each report of the run goes: `out` itself when the run makes one report; when it
    makes several, each goes next to `out` under its own name (`REPORT_NAMES`), so none
    overwrites another; without `out`, each goes to benchmarks/results/ under its own name."""
    kinds = [kind for kind in REPORT_NAMES if kind in phases or (kind == "serve" and phases & set(SERVE_PHASES))]
    if out is not None and len(kinds) == 1:
        return {kinds[0]: out}
    folder = out.parent if out is not None else ROOT / "benchmarks" / "results"
    return {kind: folder / REPORT_NAMES[kind] for kind in kinds}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    paths = report_paths(args.phases, args.out)
    signal.signal(signal.SIGTERM, _interrupt)
    code = run_serve_phases(args, argv, paths["serve"]) if "serve" in paths else 0
    if code == 0 and "mix" in args.phases:
        from benchmarks.mix_bench import MixOptions, run_mix  # imports this module

        code = run_mix(
            MixOptions(
                postgres_url=args.postgres_url, redis_url=args.redis_url, users=args.users, workers=args.workers,
                rate=args.rate, warmup=args.warmup, duration=args.duration, closed_duration=args.closed_duration,
                delay_ms=args.calcom_delay_ms, out=paths["mix"],
                steps=args.mix_steps, step_duration=args.step_duration, weights=args.mix_weights,
                sync_interval=args.mix_sync_interval,
                command="python -m benchmarks.run " + " ".join(sys.argv[1:] if argv is None else argv),
            )
        )  # fmt: skip
    if code == 0 and "calcom" in args.phases:
        from benchmarks.calcom_bench import CalcomOptions, run_calcom  # imports this module

        options = CalcomOptions(
            postgres_url=args.postgres_url, redis_url=args.redis_url, delay_ms=args.calcom_delay_ms,
            users=args.users, workers=args.workers, rates=args.calcom_rates,
            warmup=args.warmup, duration=args.calcom_duration, out=paths["calcom"],
            command="python -m benchmarks.run " + " ".join(sys.argv[1:] if argv is None else argv),
        )  # fmt: skip
        code = run_calcom(options)
    if code == 0 and "webhooks" in args.phases:
        from benchmarks.webhooks_bench import WebhookOptions, run_webhooks  # imports this module

        code = run_webhooks(
            WebhookOptions(
                postgres_url=args.postgres_url, redis_url=args.redis_url, users=args.users, workers=args.workers,
                rate=args.webhook_rate, events=args.webhook_events, warmup=args.warmup,
                duration=args.calcom_duration, out=paths["webhooks"],
                command="python -m benchmarks.run " + " ".join(sys.argv[1:] if argv is None else argv),
            )
        )  # fmt: skip
    return code


def run_serve_phases(args: argparse.Namespace, argv: list[str] | None, out: Path) -> int:
    """open/steps/closed against `thotis serve` and the ceiling app; writes `out`."""
    names = Names.fresh()
    db_url = database_url(args.postgres_url, names.database)
    logs = ROOT / "benchmarks" / "results"
    servers: list[Server] = []
    database_created = False
    try:
        print(f"· database {names.database}, Redis prefix {names.redis_prefix!r}", flush=True)
        asyncio.run(create_database(args.postgres_url, names.database))
        database_created = True
        seeded = migrate_and_seed(db_url, args.redis_url, names.redis_prefix, args.per_field)
        print(f"· migrated, {seeded} mentors seeded", flush=True)
        token = service_token(ttl_seconds=6 * 3600)

        app = app_server(
            db_url=db_url, redis_url=args.redis_url, prefix=names.redis_prefix, workers=args.workers,
            log_path=logs / "server.log", token=token,
        )  # fmt: skip
        servers.append(app)
        app.start()
        app.wait_ready()
        list_body = preflight(app, token)

        ceiling_key = names.redis_prefix + "ceiling"
        asyncio.run(set_value(args.redis_url, ceiling_key, list_body, ttl_seconds=6 * 3600))
        ceiling = ceiling_server(
            redis_url=args.redis_url, key=ceiling_key, workers=args.workers, log_path=logs / "ceiling.log"
        )
        servers.append(ceiling)
        ceiling.start()
        ceiling.wait_ready()
        print(f"· sidecar on {app.base_url}, ceiling on {ceiling.base_url}, {args.workers} workers each", flush=True)

        report = Report(context=context(args, seeded, argv))
        with tempfile.TemporaryDirectory(prefix="thotis-bench-") as work:
            measure(args, app, ceiling, token, report, Path(work))
        for server in servers:
            server.stop()
        report.server_log_lines, report.server_log_total = log_problems([logs / "server.log", logs / "ceiling.log"])

        text = report.markdown()
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        print("\n" + text)
        print(f"· written to {out}", flush=True)
        return 0
    except KeyboardInterrupt:
        print("\n· interrupted, cleaning up", file=sys.stderr, flush=True)
        return 130
    except RuntimeError as exc:  # a server or generator failed: say which, then clean up
        print(f"\n· benchmark failed: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        for server in reversed(servers):
            server.stop()
        _cleanup(args, names, database_created)


def _cleanup(args: argparse.Namespace, names: Names, database_created: bool) -> None:
    """Remove the run's Redis keys and database; report, never raise, what could not be removed."""
    try:
        deleted = asyncio.run(delete_prefix(args.redis_url, names.redis_prefix))
        print(f"· removed {deleted} Redis keys under {names.redis_prefix!r}", file=sys.stderr, flush=True)
    except Exception as exc:  # cleanup must go on with the database
        print(f"· could not remove Redis keys under {names.redis_prefix!r}: {exc}", file=sys.stderr)
    if database_created:
        try:
            asyncio.run(drop_database(args.postgres_url, names.database))
            print(f"· dropped database {names.database}", file=sys.stderr, flush=True)
        except Exception as exc:
            print(f"· could not drop database {names.database}: {exc}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
