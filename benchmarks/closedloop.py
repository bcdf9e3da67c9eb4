"""Closed-loop generator: N keep-alive connections sending GETs back to back, in its own process.

Plain asyncio streams speaking just enough HTTP/1.1 (a GET, a Content-Length body). Measured
here, it costs about half the CPU per request of locust's FastHttpUser (~0.16 vs ~0.33 ms);
on 2 shared cores every millisecond the generator spends is taken from the server, and most
from the fastest endpoint (the ceiling), which would shrink the ratio SPEC.md §8 asks for.
Runs on uvloop when it is installed. Writes the same JSON as `benchmarks.loadgen`.

    python -m benchmarks.closedloop --host http://127.0.0.1:8000 --routes list \
        --users 100 --warmup 5 --duration 15 --out result.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from typing import Any
from urllib.parse import urlsplit

from benchmarks.cpu import CpuSnapshot
from benchmarks.recording import TOKEN_ENV, Recorder
from benchmarks.routes import ROUTES

RECONNECT_PAUSE_S = 0.05
OPEN_TIMEOUT_S = 10.0


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, keep-alive) of one response with a Content-Length body.

    Raises:
        ValueError: a response this small client does not speak (no Content-Length, chunked).
    """
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, keep_alive = None, True
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            keep_alive = False
        elif name == b"transfer-encoding":
            raise ValueError(f"unsupported transfer-encoding {value.strip()!r}")
    if length is None:
        raise ValueError("response without Content-Length")
    return status, await reader.readexactly(length), keep_alive


async def connection(
    host: str, port: int, route: str, request: bytes, recorder: Recorder, answered: asyncio.Event
) -> None:
    """One client connection: request, wait for the answer, repeat; reconnect after a failure.
    `answered` is set once its first answer (or failure) came back."""
    while not recorder.stop:
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError as exc:
            recorder.error(route, type(exc).__name__, repr(exc))
            answered.set()
            await asyncio.sleep(RECONNECT_PAUSE_S)
            continue
        try:
            while not recorder.stop:
                started = time.perf_counter()
                writer.write(request)
                status, body, keep_alive = await read_response(reader)
                elapsed_ms = (time.perf_counter() - started) * 1000
                if status != 200:
                    recorder.error(route, f"HTTP {status}", body.decode("utf-8", "replace"))
                else:
                    recorder.ok(route, elapsed_ms)
                answered.set()
                if not keep_alive:
                    break
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            recorder.error(route, type(exc).__name__, repr(exc))
            answered.set()
            await asyncio.sleep(RECONNECT_PAUSE_S)
        finally:
            writer.close()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Open the connections, warm up, measure for `duration` seconds, then cancel everything."""
    url = urlsplit(args.host)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    routes = [name for name in args.routes.split(",") if name]
    auth = f"Authorization: Bearer {args.token}\r\n" if args.token else ""
    requests = {
        name: f"GET {ROUTES[name]} HTTP/1.1\r\nHost: {url.netloc}\r\n{auth}\r\n".encode("latin-1") for name in routes
    }
    recorder = Recorder()
    # One connection at a time, each once the previous one was answered: opened all at once, they
    # queue on the shared listening socket and the first uvicorn worker to wake accepts them all
    # (the other idles; measured: one route at 0.59x the ceiling with the server at exactly 1 core).
    tasks = []
    try:
        for i in range(args.users):
            answered = asyncio.Event()
            name = routes[i % len(routes)]
            tasks.append(asyncio.create_task(connection(host, port, name, requests[name], recorder, answered)))
            await asyncio.wait_for(answered.wait(), timeout=OPEN_TIMEOUT_S)
        await asyncio.sleep(args.warmup)
        start = CpuSnapshot.take(args.server_pid)
        recorder.start()
        await asyncio.sleep(args.duration)
        recorder.finish()
        cpu = CpuSnapshot.take(args.server_pid).cores_since(start)
    finally:
        recorder.stop = True
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return {
        **recorder.as_json(routes),
        "target_rate": 0,
        "users": args.users,
        "users_running": args.users,
        **cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Closed-loop asyncio load generator (see benchmarks/README.md).")
    parser.add_argument("--host", required=True, help="Base URL, e.g. http://127.0.0.1:8000")
    parser.add_argument(
        "--token", default=os.environ.get(TOKEN_ENV, ""), help=f"Bearer token sent with every request (${TOKEN_ENV})"
    )
    parser.add_argument("--routes", required=True, help="Comma-separated names from benchmarks.routes.ROUTES")
    parser.add_argument("--users", type=int, default=100, help="Connections")
    parser.add_argument("--rate", type=float, default=0.0, help="Must be 0: this generator only runs closed loop")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--server-pid", type=int, default=None, help="Server master process, for its CPU use")
    parser.add_argument("--out", required=True, help="Where to write the JSON result")
    args = parser.parse_args()
    if args.rate != 0 or args.users < 1 or args.duration <= 0 or args.warmup < 0:
        parser.error("--rate must be 0, --users ≥ 1, --duration > 0, --warmup ≥ 0")
    try:  # the lighter event loop when the project has it: less generator CPU taken from the server
        from uvloop import run as run_loop
    except ImportError:
        run_loop = asyncio.run
    result = run_loop(run(args))
    with open(args.out, "w", encoding="utf-8") as out:
        json.dump(result, out)


if __name__ == "__main__":
    main()
