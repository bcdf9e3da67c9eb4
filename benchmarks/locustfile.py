"""Locust users reading the mentor routes (and the ceiling endpoint).

`benchmarks.loadgen` builds its user classes with `make_user_class`; the module-level
`MentorReader` lets you point locust's own CLI at a running server by hand:

    BENCH_TOKEN=<service token> BENCH_ROUTES=list,profile BENCH_RATE_PER_USER=5 \
        uv run --group bench locust -f benchmarks/locustfile.py --host http://127.0.0.1:8000 \
        --headless -u 100 -r 100 -t 30s --csv /tmp/thotis
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Sequence

import gevent
from locust import FastHttpUser, constant, constant_throughput, task

from benchmarks.routes import ROUTES


class Reader(FastHttpUser):
    """Sends GETs round-robin over `paths`; one keep-alive connection per user.

    FastHttpUser (geventhttpclient) rather than HttpUser (requests): it costs several times less
    CPU per request, and the generator shares the machine's cores with the server.
    """

    abstract = True
    paths: tuple[tuple[str, str], ...] = ()
    token = ""
    per_user_rate = 0.0
    network_timeout = 10.0
    connection_timeout = 5.0

    def on_start(self) -> None:
        self._headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self._next = random.randrange(len(self.paths))
        if self.per_user_rate > 0:
            # Spread the users' phases so the fixed rate arrives evenly. Locust spawns users in
            # batches and `constant_throughput` paces from the user's creation time, so without
            # this every user fires in the same instant: bursts of `users` requests that queue
            # and inflate the latencies by ~100 ms. Re-anchor its pacing after the random delay.
            gevent.sleep(random.uniform(0, 1 / self.per_user_rate))
            self._cp_last_run = time.perf_counter()
            self._cp_last_wait_time = 0

    @task
    def read(self) -> None:
        name, path = self.paths[self._next % len(self.paths)]
        self._next += 1
        self.client.get(path, headers=self._headers, name=name)


def make_user_class(*, host: str, token: str, routes: Sequence[str], per_user_rate: float) -> type[Reader]:
    """A concrete `Reader`: paced at `per_user_rate` req/s each (open loop), or unpaced when 0 (closed)."""
    return type(
        "Reader",
        (Reader,),
        {
            "abstract": False,
            "host": host,
            "token": token,
            "paths": tuple((name, ROUTES[name]) for name in routes),
            "per_user_rate": per_user_rate,
            "wait_time": constant_throughput(per_user_rate) if per_user_rate > 0 else constant(0),
        },
    )


class MentorReader(Reader):
    """For locust's CLI: configured from BENCH_TOKEN, BENCH_ROUTES and BENCH_RATE_PER_USER."""

    token = os.environ.get("BENCH_TOKEN", "")
    paths = tuple((n, ROUTES[n]) for n in os.environ.get("BENCH_ROUTES", "list,profile").split(",") if n)
    per_user_rate = float(os.environ.get("BENCH_RATE_PER_USER", "5"))
    wait_time = constant_throughput(per_user_rate) if per_user_rate > 0 else constant(0)
