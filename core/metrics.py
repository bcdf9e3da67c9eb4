"""In-process request metrics of one process: latency percentiles, error rates, uptime (R20.4).

Requests are counted per (method, route template) in log-spaced latency bins, per minute for the
last hour and per hour beyond, so a window's percentiles come from summed counts, never from
stored samples, and memory is bounded by buckets × routes × bins whatever the traffic. The same
requests feed a Prometheus registry owned by the instance, for `/metrics`.

Not thread-safe: it is fed and read on one event loop (no await inside a method).
"""

from __future__ import annotations

import logging
import math
import re
import time
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain
from typing import NamedTuple

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

#: Latency bins: bin i holds [MIN·G^i, MIN·G^(i+1)); the first also holds faster, the last slower.
MIN_SECONDS = 0.000_05  # 0.05 ms
MAX_SECONDS = 120.0
GROWTH = 1.05  # each bin 5 % wider than the previous: percentiles within ±2.5 %
_LOG_GROWTH = math.log(GROWTH)
BIN_COUNT = math.ceil(math.log(MAX_SECONDS / MIN_SECONDS) / _LOG_GROWTH)

MAX_WINDOW_SECONDS = 86_400
MAX_SERIES = 512  # distinct (method, route) kept; beyond, requests count as ("OTHER", "other")
UNMATCHED = "unmatched"
_MINUTE_TIER = 60  # minutes kept one by one; older ones are summed per hour
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})
_PROMETHEUS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_RESERVED = frozenset({"thotis_http_request_duration_seconds", "thotis_http_requests", "thotis_uptime_seconds"})


def latency_bin(seconds: float) -> int:
    """The bin of a latency; out-of-range values land in the first or last bin."""
    if seconds <= MIN_SECONDS:
        return 0
    index = int(math.log(seconds / MIN_SECONDS) / _LOG_GROWTH)
    return index if index < BIN_COUNT else BIN_COUNT - 1


def bin_value(index: int) -> float:
    """A bin's representative latency (its geometric middle), in seconds."""
    return float(MIN_SECONDS * GROWTH ** (index + 0.5))


class _Counts:
    """One (method, route) over a minute, an hour or a window: latency bins and status counts."""

    __slots__ = ("bins", "client_errors", "packed", "requests", "server_errors")

    def __init__(self) -> None:
        self.bins: dict[int, int] = {}
        self.packed: array[int] | None = None  # a closed minute: flat (bin, count) pairs, ~8 bytes each
        self.requests = 0
        self.client_errors = 0
        self.server_errors = 0

    def pack(self) -> None:
        self.packed = array("I", chain.from_iterable(sorted(self.bins.items())))
        self.bins = {}

    def pairs(self) -> Iterator[tuple[int, int]]:
        if self.packed is None:
            return iter(self.bins.items())
        values = iter(self.packed)
        return zip(values, values, strict=True)

    def merge(self, other: _Counts) -> None:
        self.requests += other.requests
        self.client_errors += other.client_errors
        self.server_errors += other.server_errors
        bins = self.bins
        for index, count in other.pairs():
            bins[index] = bins.get(index, 0) + count

    def error_rate(self) -> float:
        return self.server_errors / self.requests if self.requests else 0.0

    def percentiles_ms(self) -> tuple[float | None, float | None, float | None]:
        p50, p95, p99 = (None if p is None else p * 1000.0 for p in percentiles(self.bins, (0.5, 0.95, 0.99)))
        return p50, p95, p99


_Bucket = dict[tuple[str, str], _Counts]


@dataclass(frozen=True, slots=True)
class RouteHealth:
    """One route over a window."""

    method: str
    route: str
    requests: int
    client_errors: int
    server_errors: int
    error_rate: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


@dataclass(frozen=True, slots=True)
class HealthSnapshot:
    """The process over a window: uptime, totals, percentiles and each route, busiest first."""

    started_at: datetime
    uptime_seconds: float
    window_seconds: int
    requests: int
    error_rate: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    routes: list[RouteHealth]


class Footprint(NamedTuple):
    """What is held in memory: minute and hour buckets, series across them, latency entries in those."""

    buckets: int
    series: int
    entries: int


def percentiles(bins: dict[int, int], quantiles: Iterable[float]) -> list[float | None]:
    """Nearest-rank percentiles (seconds) of binned counts; None when there is no sample."""
    total = sum(bins.values())
    if total == 0:
        return [None for _ in quantiles]
    ordered = sorted(bins.items())
    result: list[float | None] = []
    for quantile in quantiles:
        rank = max(1, math.ceil(quantile * total))
        seen = 0
        for index, count in ordered:
            seen += count
            if seen >= rank:
                result.append(bin_value(index))
                break
    return result


class _CallbackGauges(Collector):
    """Gauges read at scrape time; a failing callback is left out of that scrape, not fatal."""

    def __init__(self) -> None:
        self.gauges: dict[str, tuple[str, Callable[[], float]]] = {}

    def collect(self) -> Iterable[Metric]:
        for name, (description, callback) in list(self.gauges.items()):
            try:
                value = float(callback())
            except Exception:  # a job's counter failing must not break the whole scrape
                log.warning("metrics gauge %s failed; left out of this scrape", name, exc_info=True)
                continue
            yield GaugeMetricFamily(name, description, value=value)


class RequestMetrics:
    """Request counts of the last `window_seconds` (per minute, per hour beyond the last hour), plus Prometheus."""

    def __init__(
        self, window_seconds: int = 900, *, started_at: float | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        """`started_at` (default: now) and `clock` are Unix seconds; `clock` only feeds the uptime gauge.

        Raises:
            ValueError: window not between 60 s and 24 h.
        """
        if not 60 <= window_seconds <= MAX_WINDOW_SECONDS:
            raise ValueError(f"window_seconds must be between 60 and {MAX_WINDOW_SECONDS}")
        self.window_seconds = window_seconds
        self.started_at = start = clock() if started_at is None else started_at
        self._window_minutes = math.ceil(window_seconds / 60)
        self._minutes: dict[int, _Bucket] = {}  # the last hour (at most), minute by minute
        self._hours: dict[int, _Bucket] = {}  # older minutes of the window, rolled up per hour
        self._current = -1
        self._keys: set[tuple[str, str]] = set()
        self._children: dict[tuple[str, str, int], tuple[Histogram, Counter]] = {}
        self.registry = CollectorRegistry(auto_describe=False)
        self._duration = Histogram(
            "thotis_http_request_duration_seconds",
            "HTTP request latency by route template.",
            ["method", "route", "status_class"],
            buckets=_PROMETHEUS_BUCKETS,
            registry=self.registry,
        )
        self._requests = Counter(
            "thotis_http_requests",
            "HTTP requests by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        uptime = Gauge("thotis_uptime_seconds", "Seconds since this process started.", registry=self.registry)
        uptime.set_function(lambda: max(0.0, clock() - start))
        self._gauges = _CallbackGauges()
        self.registry.register(self._gauges)

    def record(self, method: str, route: str, status: int, seconds: float, now: float) -> None:
        """Count one request; `route` is the route template, never the raw path."""
        if method not in _METHODS:
            method = "OTHER"
        key = (method, route)
        if key not in self._keys:
            if len(self._keys) >= MAX_SERIES:
                key = method, route = ("OTHER", "other")
            self._keys.add(key)
        minute = int(now // 60)
        if minute > self._current:
            self._open(minute)
        # A clock stepping back counts in the open minute: closed minutes stay packed.
        bucket = self._minutes[self._current]
        counts = bucket.get(key)
        if counts is None:
            counts = bucket[key] = _Counts()
        index = latency_bin(seconds)
        counts.bins[index] = counts.bins.get(index, 0) + 1
        counts.requests += 1
        if status >= 500:
            counts.server_errors += 1
        elif status >= 400:
            counts.client_errors += 1
        children = self._children.get((method, route, status))
        if children is None:
            children = self._children[(method, route, status)] = (
                self._duration.labels(method, route, f"{status // 100}xx"),
                self._requests.labels(method, route, str(status)),
            )
        children[0].observe(seconds)
        children[1].inc()

    def _open(self, minute: int) -> None:
        """Close the current minute, then roll minutes older than an hour into hours, or drop them."""
        for counts in self._minutes.get(self._current, {}).values():
            counts.pack()
        self._current = minute
        self._minutes[minute] = {}
        horizon = minute - self._window_minutes  # this minute and older are out of every window
        for old in [m for m in self._minutes if m <= minute - _MINUTE_TIER]:
            bucket = self._minutes.pop(old)
            if old > horizon:
                hour = self._hours.setdefault(old // 60, {})
                for key, counts in bucket.items():
                    hour.setdefault(key, _Counts()).merge(counts)
        for stale in [h for h in self._hours if h * 60 + 59 <= horizon]:
            del self._hours[stale]

    def snapshot(self, now: float, window_seconds: int | None = None) -> HealthSnapshot:
        """The last `window_seconds`, in whole minutes (the current one included); beyond the
        last hour, in whole hours at the window's old end.

        Raises:
            ValueError: window not between 1 s and the retained window.
        """
        window = self.window_seconds if window_seconds is None else window_seconds
        if not 0 < window <= self.window_seconds:
            raise ValueError(f"window_seconds must be between 1 and {self.window_seconds}")
        first = int(now // 60) - math.ceil(window / 60) + 1
        buckets = [b for m, b in self._minutes.items() if first <= m and m * 60 <= now]
        buckets += [b for h, b in self._hours.items() if first <= h * 60 + 59 and h * 60 <= now]
        per_route: dict[tuple[str, str], _Counts] = {}
        for bucket in buckets:
            for key, counts in bucket.items():
                per_route.setdefault(key, _Counts()).merge(counts)
        overall = _Counts()
        for counts in per_route.values():
            overall.merge(counts)
        routes = [
            RouteHealth(
                method, route, c.requests, c.client_errors, c.server_errors, c.error_rate(), *c.percentiles_ms()
            )
            for (method, route), c in per_route.items()
        ]
        routes.sort(key=lambda r: (-r.requests, r.route, r.method))
        p50, p95, p99 = overall.percentiles_ms()
        return HealthSnapshot(
            started_at=datetime.fromtimestamp(self.started_at, UTC),
            uptime_seconds=max(0.0, now - self.started_at),
            window_seconds=window,
            requests=overall.requests,
            error_rate=overall.error_rate(),
            p50_ms=p50,
            p95_ms=p95,
            p99_ms=p99,
            routes=routes,
        )

    @property
    def footprint(self) -> Footprint:
        """How much is held, to check that memory stays bounded."""
        buckets = [*self._minutes.values(), *self._hours.values()]
        counts = [c for bucket in buckets for c in bucket.values()]
        entries = sum(len(c.bins) + (len(c.packed) // 2 if c.packed is not None else 0) for c in counts)
        return Footprint(len(buckets), len(counts), entries)

    def add_gauge(self, name: str, description: str, callback: Callable[[], float]) -> None:
        """Export `callback()` as a gauge, read at each scrape (e.g. pending e-mails).

        Raises:
            ValueError: not a valid Prometheus name, or already taken.
        """
        if not _METRIC_NAME.fullmatch(name) or name in _RESERVED or name in self._gauges.gauges:
            raise ValueError(f"invalid or duplicate metric name: {name!r}")
        self._gauges.gauges[name] = (description, callback)

    def render_prometheus(self) -> tuple[bytes, str]:
        """The registry in the Prometheus text format: (body, content type)."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
