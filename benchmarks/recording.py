"""What a generator process records: latencies with their second in the window, and errors.

Shared by `loadgen` (locust) and `closedloop` (asyncio) so both write the same JSON.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from typing import Any

MAX_ERROR_SAMPLES = 10
#: Environment variable the orchestrator passes the bearer token in.
TOKEN_ENV = "BENCH_TOKEN"


class Recorder:
    """Per-route latencies and errors, kept only between `start()` and `finish()`."""

    def __init__(self) -> None:
        self.measuring = False
        self.stop = False
        self._started = 0.0
        self.latencies: defaultdict[str, list[float]] = defaultdict(list)
        # Second of the window each latency fell in: tells a brief spike from a saturated server.
        self.seconds: defaultdict[str, list[int]] = defaultdict(list)
        self.errors: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.samples: list[str] = []

    def start(self) -> None:
        self._started = time.perf_counter()
        self.measuring = True

    def finish(self) -> None:
        self.measuring = False

    def ok(self, route: str, latency_ms: float) -> None:
        if self.measuring:
            self.latencies[route].append(latency_ms)
            self.seconds[route].append(int(time.perf_counter() - self._started))

    def error(self, route: str, kind: str, detail: str) -> None:
        if not self.measuring:
            return
        self.errors[route][kind] += 1
        if len(self.samples) < MAX_ERROR_SAMPLES:
            self.samples.append(f"{route}: {kind}: {detail[:300]}")

    def as_json(self, routes: list[str]) -> dict[str, Any]:
        return {
            "routes": {
                name: {
                    "latencies_ms": self.latencies.get(name, []),
                    "seconds": self.seconds.get(name, []),
                    "errors": dict(self.errors.get(name, {})),
                }
                for name in routes
            },
            "error_samples": self.samples,
        }
