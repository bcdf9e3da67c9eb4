"""One load-generator process: locust users against one server, raw latencies out as JSON.

`benchmarks.run` starts it as a subprocess so the generator never shares an interpreter (or a
GIL) with the server. It records every response of the measurement window itself (locust's own
stats round latencies), and the CPU the generator, the server tree and the machine spent in it.

    python -m benchmarks.loadgen --host http://127.0.0.1:8000 --routes list,profile \
        --users 100 --rate 500 --warmup 5 --duration 30 --server-pid 1234 --out result.json
"""

from __future__ import annotations

import argparse
import json
import os
from collections import Counter
from functools import partial
from typing import Any

import gevent
from locust import User
from locust.env import Environment

from benchmarks.cpu import CpuSnapshot
from benchmarks.locustfile import make_user_class
from benchmarks.recording import TOKEN_ENV, Recorder


def on_request(
    recorder: Recorder,
    statuses: Counter[str] | None,
    name: str,
    response_time: float,
    exception: BaseException | None = None,
    response: Any = None,
    **_: Any,
) -> None:
    """Locust's request event → the recorder (and `statuses`, "<route> <status>" counted while
    measuring, when given); HTTP errors keep their status and body."""
    if statuses is not None and recorder.measuring:
        statuses[f"{name} {getattr(response, 'status_code', None) or 'none'}"] += 1
    if exception is None:
        recorder.ok(name, response_time)
        return
    status = getattr(response, "status_code", None)
    body = (getattr(response, "text", None) or "")[:300] if status else ""
    recorder.error(name, f"HTTP {status}" if status else type(exception).__name__, f"{exception!r} {body}")


def drive(user_class: type[User], args: argparse.Namespace, recorder: Recorder, statuses: Counter[str] | None = None,
          ) -> dict[str, Any]:  # fmt: skip
    """Spawn `args.users` users, warm up, record for `args.duration` seconds, stop; all bounded in
    time. Returns the users still running and the CPU the window cost (generator, server, machine)."""
    env = Environment(user_classes=[user_class], host=args.host)
    env.events.request.add_listener(partial(on_request, recorder, statuses))
    runner = env.create_local_runner()
    # Spawn everyone within ~1 s (or the warm-up if shorter) so the warm-up sees the full load.
    runner.start(args.users, spawn_rate=args.users / max(0.5, min(1.0, args.warmup / 2)))
    gevent.sleep(args.warmup)
    start = CpuSnapshot.take(args.server_pid)
    recorder.start()
    gevent.sleep(args.duration)
    recorder.finish()
    cpu = CpuSnapshot.take(args.server_pid).cores_since(start)
    running_users = runner.user_count
    runner.quit()
    return {"users_running": running_users, **cpu}


def run(args: argparse.Namespace) -> dict[str, Any]:
    """One measurement of `args.routes`, open loop at `args.rate` (closed when 0)."""
    routes = [name for name in args.routes.split(",") if name]
    per_user_rate = args.rate / args.users if args.rate > 0 else 0.0
    user_class = make_user_class(host=args.host, token=args.token, routes=routes, per_user_rate=per_user_rate)
    recorder = Recorder()
    figures = drive(user_class, args, recorder)
    return {
        **recorder.as_json(routes),
        "target_rate": args.rate,
        "users": args.users,
        **figures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="One locust load-generator process (see benchmarks/README.md).")
    parser.add_argument("--host", required=True, help="Base URL, e.g. http://127.0.0.1:8000")
    parser.add_argument(
        "--token", default=os.environ.get(TOKEN_ENV, ""), help=f"Bearer token sent with every request (${TOKEN_ENV})"
    )
    parser.add_argument("--routes", required=True, help="Comma-separated names from benchmarks.routes.ROUTES")
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
