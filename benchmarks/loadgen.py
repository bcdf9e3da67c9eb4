"""One load-generator process: locust users against one server, raw latencies out as JSON.

`benchmarks.run` starts it as a subprocess so the generator never shares an interpreter (or a
GIL) with the server. It records every response of the measurement window itself (locust's own
stats round latencies), and the CPU the generator, the server tree and the machine spent in it.

    python -m benchmarks.loadgen --host http://127.0.0.1:8000 --token T --routes list,profile \
        --users 100 --rate 500 --warmup 5 --duration 30 --server-pid 1234 --out result.json
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from collections import Counter, defaultdict
from typing import Any

import gevent
import psutil
from locust.env import Environment

from benchmarks.locustfile import make_user_class

MAX_ERROR_SAMPLES = 10


class Recorder:
    """Collects latencies and errors per route while `measuring` is set."""

    def __init__(self) -> None:
        self.measuring = False
        self.latencies: defaultdict[str, list[float]] = defaultdict(list)
        self.errors: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.samples: list[str] = []

    def on_request(
        self, name: str, response_time: float, exception: BaseException | None = None, response: Any = None, **_: Any
    ) -> None:
        if not self.measuring:
            return
        if exception is None:
            self.latencies[name].append(response_time)
            return
        status = getattr(response, "status_code", None)
        kind = f"HTTP {status}" if status else type(exception).__name__
        self.errors[name][kind] += 1
        if len(self.samples) < MAX_ERROR_SAMPLES:
            body = (getattr(response, "text", None) or "")[:300] if status else ""
            self.samples.append(f"{name}: {kind}: {exception!r} {body}".strip())


def tree_cpu_seconds(pid: int | None) -> float:
    """User+system CPU of a process and its children (uvicorn's workers), 0 when gone."""
    if pid is None:
        return 0.0
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent not idle (all cores summed)."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Spawn the users, warm up, measure for `duration` seconds, stop; all bounded in time."""
    routes = [name for name in args.routes.split(",") if name]
    per_user_rate = args.rate / args.users if args.rate > 0 else 0.0
    user_class = make_user_class(host=args.host, token=args.token, routes=routes, per_user_rate=per_user_rate)
    env = Environment(user_classes=[user_class], host=args.host)
    recorder = Recorder()
    env.events.request.add_listener(recorder.on_request)
    runner = env.create_local_runner()
    # Spawn everyone within ~1 s (or the warm-up if shorter) so the warm-up sees the full load.
    runner.start(args.users, spawn_rate=args.users / max(0.5, min(1.0, args.warmup / 2)))
    gevent.sleep(args.warmup)

    cpu0, server0, machine0 = own_cpu_seconds(), tree_cpu_seconds(args.server_pid), machine_busy_seconds()
    started = time.perf_counter()
    recorder.measuring = True
    gevent.sleep(args.duration)
    recorder.measuring = False
    window = time.perf_counter() - started
    cpu1, server1, machine1 = own_cpu_seconds(), tree_cpu_seconds(args.server_pid), machine_busy_seconds()
    running_users = runner.user_count
    runner.quit()

    return {
        "routes": {
            name: {"latencies_ms": recorder.latencies.get(name, []), "errors": dict(recorder.errors.get(name, {}))}
            for name in routes
        },
        "error_samples": recorder.samples,
        "window_s": window,
        "target_rate": args.rate,
        "users": args.users,
        "users_running": running_users,
        "generator_cores": (cpu1 - cpu0) / window,
        "server_cores": (server1 - server0) / window,
        "machine_busy_cores": (machine1 - machine0) / window,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="One locust load-generator process (see benchmarks/README.md).")
    parser.add_argument("--host", required=True, help="Base URL, e.g. http://127.0.0.1:8000")
    parser.add_argument("--token", default="", help="Bearer token sent with every request")
    parser.add_argument("--routes", required=True, help="Comma-separated names from locustfile.ROUTES")
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--rate", type=float, default=0.0, help="Total req/s (open loop); 0 = closed loop")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--server-pid", type=int, default=None, help="Server master process, for its CPU use")
    parser.add_argument("--out", required=True, help="Where to write the JSON result")
    args = parser.parse_args()
    if args.users < 1 or args.duration <= 0 or args.warmup < 0:
        parser.error("--users must be ≥ 1, --duration > 0, --warmup ≥ 0")
    result = run(args)
    with open(args.out, "w", encoding="utf-8") as out:
        json.dump(result, out)


if __name__ == "__main__":
    main()
