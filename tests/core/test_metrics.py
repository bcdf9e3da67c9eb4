"""In-process request metrics: percentiles within a bin, windows, error rates, bounded memory, Prometheus."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from core.metrics import (
    BIN_COUNT,
    GROWTH,
    MAX_SECONDS,
    MAX_SERIES,
    MIN_SECONDS,
    RequestMetrics,
    bin_value,
    latency_bin,
)

T0 = 1_800_000_000.0  # a whole minute
ROUTE = "/api/v2/students/{user_id}"
latencies = st.floats(min_value=MIN_SECONDS, max_value=MAX_SECONDS, allow_nan=False, allow_infinity=False)


def exact_percentile(samples: list[float], quantile: float) -> float:
    """Nearest rank: the smallest sample with at least `quantile` of the samples at or below it."""
    ordered = sorted(samples)
    return ordered[max(1, math.ceil(quantile * len(ordered))) - 1]


def families(metrics: RequestMetrics) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    body, _ = metrics.render_prometheus()
    return {
        family.name: [(s.name, s.labels, s.value) for s in family.samples]
        for family in text_string_to_metric_families(body.decode())
    }


class TestLatencyBins:
    @given(seconds=latencies)
    def test_a_latency_falls_within_one_bin_of_its_representative(self, seconds: float) -> None:
        value = bin_value(latency_bin(seconds))
        assert seconds / GROWTH <= value <= seconds * GROWTH

    def test_out_of_range_latencies_land_in_the_edge_bins(self) -> None:
        assert latency_bin(0.0) == 0
        assert latency_bin(-1.0) == 0
        assert latency_bin(10_000.0) == BIN_COUNT - 1


class TestPercentiles:
    @given(
        samples=st.lists(latencies, min_size=1, max_size=300),
        statuses=st.lists(st.sampled_from([200, 201, 302, 400, 404, 500, 503]), min_size=1, max_size=5),
    )
    def test_estimates_are_within_one_bin_of_the_exact_percentiles(
        self, samples: list[float], statuses: list[int]
    ) -> None:
        metrics = RequestMetrics(started_at=T0)
        for index, seconds in enumerate(samples):
            metrics.record("GET", ROUTE, statuses[index % len(statuses)], seconds, T0 + index % 120)
        snapshot = metrics.snapshot(T0 + 150)
        for estimate, quantile in ((snapshot.p50_ms, 0.5), (snapshot.p95_ms, 0.95), (snapshot.p99_ms, 0.99)):
            exact = exact_percentile(samples, quantile) * 1000
            assert estimate is not None
            assert exact / GROWTH <= estimate <= exact * GROWTH, (quantile, exact, estimate)
        (route,) = snapshot.routes
        assert (route.p50_ms, route.p95_ms, route.p99_ms) == (snapshot.p50_ms, snapshot.p95_ms, snapshot.p99_ms)

    def test_no_requests_means_no_percentiles_and_no_errors(self) -> None:
        snapshot = RequestMetrics(started_at=T0).snapshot(T0 + 10)
        assert (snapshot.requests, snapshot.error_rate, snapshot.p50_ms, snapshot.routes) == (0, 0.0, None, [])


class TestErrorRates:
    @given(statuses=st.lists(st.integers(100, 599), min_size=1, max_size=200))
    def test_error_rate_is_server_errors_over_requests_per_route_and_overall(self, statuses: list[int]) -> None:
        metrics = RequestMetrics(started_at=T0)
        for index, status in enumerate(statuses):
            metrics.record("GET" if index % 2 else "POST", ROUTE, status, 0.01, T0 + 1)
        snapshot = metrics.snapshot(T0 + 2)
        assert snapshot.requests == len(statuses)
        assert snapshot.error_rate == sum(s >= 500 for s in statuses) / len(statuses)
        for route in snapshot.routes:
            mine = [s for i, s in enumerate(statuses) if (i % 2 == 1) == (route.method == "GET")]
            assert route.requests == len(mine)
            assert route.server_errors == sum(s >= 500 for s in mine)
            assert route.client_errors == sum(400 <= s < 500 for s in mine)
            assert route.error_rate == route.server_errors / route.requests

    def test_routes_are_sorted_busiest_first(self) -> None:
        metrics = RequestMetrics(started_at=T0)
        for route, count in (("/a", 1), ("/b", 3), ("/c", 2)):
            for _ in range(count):
                metrics.record("GET", route, 200, 0.01, T0)
        assert [r.route for r in metrics.snapshot(T0).routes] == ["/b", "/c", "/a"]


class TestWindows:
    def test_requests_older_than_the_window_no_longer_count(self) -> None:
        metrics = RequestMetrics(900, started_at=T0)
        metrics.record("GET", ROUTE, 500, 0.01, T0)
        metrics.record("GET", ROUTE, 200, 0.01, T0 + 600)
        assert metrics.snapshot(T0 + 600).requests == 2
        later = metrics.snapshot(T0 + 900)
        assert (later.requests, later.error_rate) == (1, 0.0)
        assert metrics.snapshot(T0 + 1500).requests == 0

    def test_a_shorter_window_counts_only_its_minutes(self) -> None:
        metrics = RequestMetrics(3600, started_at=T0)
        for minute in range(30):
            metrics.record("GET", ROUTE, 200, 0.01, T0 + minute * 60)
        assert metrics.snapshot(T0 + 29 * 60, 300).requests == 5
        assert metrics.snapshot(T0 + 29 * 60, 3600).requests == 30

    def test_a_long_window_counts_older_hours_too(self) -> None:
        metrics = RequestMetrics(86_400, started_at=T0)
        for minute in range(0, 6 * 60, 5):
            metrics.record("GET", ROUTE, 200, 0.01, T0 + minute * 60)
        now = T0 + (6 * 60 - 1) * 60
        assert metrics.snapshot(now, 86_400).requests == 72
        assert metrics.snapshot(now, 3600).requests == 12

    def test_uptime_and_start_come_from_the_start_time(self) -> None:
        snapshot = RequestMetrics(started_at=T0).snapshot(T0 + 42.5)
        assert snapshot.uptime_seconds == 42.5
        assert snapshot.started_at.timestamp() == T0
        assert snapshot.started_at.utcoffset() is not None

    def test_refuses_a_window_it_does_not_keep(self) -> None:
        metrics = RequestMetrics(900, started_at=T0)
        with pytest.raises(ValueError):
            metrics.snapshot(T0, 901)
        with pytest.raises(ValueError):
            RequestMetrics(86_401)


class TestBoundedMemory:
    def test_a_day_of_traffic_keeps_an_hour_of_minutes_and_a_day_of_hours(self) -> None:
        metrics = RequestMetrics(86_400, started_at=T0)
        for minute in range(3 * 24 * 60):
            for route in ("/a", "/b"):
                metrics.record("GET", route, 200, 0.001 * (1 + minute % 400), T0 + minute * 60)
        footprint = metrics.footprint
        assert footprint.buckets <= 60 + 25
        assert footprint.series <= 2 * (60 + 25)
        assert footprint.entries <= footprint.series * BIN_COUNT

    def test_unbounded_route_or_method_names_collapse_into_one_series(self) -> None:
        metrics = RequestMetrics(started_at=T0)
        for index in range(MAX_SERIES + 100):
            metrics.record(f"VERB{index}", f"/raw/{index}", 404, 0.001, T0)
        routes = {(r.method, r.route) for r in metrics.snapshot(T0).routes}
        assert len(routes) <= MAX_SERIES + 1
        assert all(method == "OTHER" for method, _ in routes)


class TestPrometheus:
    def test_the_text_parses_and_counts_requests_by_route_and_status(self) -> None:
        metrics = RequestMetrics(started_at=T0, clock=lambda: T0 + 12)
        metrics.record("GET", ROUTE, 200, 0.02, T0)
        metrics.record("GET", ROUTE, 200, 0.03, T0)
        metrics.record("POST", ROUTE, 503, 1.5, T0)
        found = families(metrics)
        counts = {
            (s[1]["method"], s[1]["status"]): s[2] for s in found["thotis_http_requests"] if s[0].endswith("_total")
        }
        assert counts == {("GET", "200"): 2.0, ("POST", "503"): 1.0}
        histogram = found["thotis_http_request_duration_seconds"]
        sums = {s[1]["status_class"]: s[2] for s in histogram if s[0].endswith("_count")}
        assert sums == {"2xx": 2.0, "5xx": 1.0}
        assert found["thotis_uptime_seconds"] == [("thotis_uptime_seconds", {}, 12.0)]

    def test_each_instance_has_its_own_registry(self) -> None:
        first, second = RequestMetrics(started_at=T0), RequestMetrics(started_at=T0)
        first.record("GET", ROUTE, 200, 0.01, T0)
        assert not [s for s in families(second)["thotis_http_requests"] if s[0].endswith("_total")]

    def test_callback_gauges_are_read_at_scrape_time(self) -> None:
        metrics = RequestMetrics(started_at=T0)
        pending = [3.0]
        metrics.add_gauge("thotis_pending_emails", "E-mails waiting to be sent.", lambda: pending[0])
        assert families(metrics)["thotis_pending_emails"] == [("thotis_pending_emails", {}, 3.0)]
        pending[0] = 5.0
        assert families(metrics)["thotis_pending_emails"] == [("thotis_pending_emails", {}, 5.0)]

    def test_a_failing_gauge_is_left_out_and_the_rest_still_render(self) -> None:
        metrics = RequestMetrics(started_at=T0)

        def broken() -> float:
            raise RuntimeError("database down")

        metrics.add_gauge("thotis_dead_deliveries", "Deliveries given up.", broken)
        metrics.add_gauge("thotis_pending_emails", "E-mails waiting.", lambda: 1.0)
        found = families(metrics)
        assert "thotis_dead_deliveries" not in found
        assert found["thotis_pending_emails"] == [("thotis_pending_emails", {}, 1.0)]
        assert "thotis_uptime_seconds" in found

    @pytest.mark.parametrize("name", ["thotis_uptime_seconds", "bad name", "1abc", "thotis_x"])
    def test_refuses_invalid_or_duplicate_gauge_names(self, name: str) -> None:
        metrics = RequestMetrics(started_at=T0)
        metrics.add_gauge("thotis_x", "taken", lambda: 0.0)
        with pytest.raises(ValueError):
            metrics.add_gauge(name, "nope", lambda: 0.0)
