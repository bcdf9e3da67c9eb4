"""Figures from raw latencies, and the Markdown report of one run."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

#: SPEC.md §8 targets.
P99_TARGET_MS = 50.0
CEILING_RATIO_TARGET = 0.7
#: A fixed rate counts as sustained only when the generator actually delivered it.
MIN_ACHIEVED_SHARE = 0.95


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1) of an ascending sequence; NaN when empty."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass(frozen=True, slots=True)
class RouteStats:
    """One route's figures over a measurement window."""

    route: str
    ok: int
    errors: int
    error_kinds: dict[str, int]
    rps: float
    p50: float
    p95: float
    p99: float
    max: float

    @classmethod
    def from_raw(
        cls, route: str, latencies: Iterable[float], error_kinds: dict[str, int], window_s: float
    ) -> RouteStats:
        values = sorted(latencies)
        errors = sum(error_kinds.values())
        return cls(
            route=route,
            ok=len(values),
            errors=errors,
            error_kinds=dict(error_kinds),
            rps=(len(values) + errors) / window_s,
            p50=percentile(values, 0.50),
            p95=percentile(values, 0.95),
            p99=percentile(values, 0.99),
            max=values[-1] if values else math.nan,
        )


@dataclass(slots=True)
class Phase:
    """One load-generator run: per-route figures, the total, and where the CPU went."""

    label: str
    target_rate: float  # 0 for closed loop
    users: int
    window_s: float
    routes: list[RouteStats]
    total: RouteStats
    generator_cores: float
    server_cores: float
    machine_busy_cores: float
    users_running: int
    slow_seconds: int = 0
    seconds: int = 0
    error_samples: list[str] = field(default_factory=list)
    #: Share of the window during which some task waited for a core (PSI); NaN when not reported.
    cpu_waiting_share: float = math.nan

    @classmethod
    def from_result(cls, label: str, result: dict[str, Any]) -> Phase:
        window = float(result["window_s"])
        routes = [
            RouteStats.from_raw(name, data["latencies_ms"], data["errors"], window)
            for name, data in result["routes"].items()
        ]
        all_latencies = [v for data in result["routes"].values() for v in data["latencies_ms"]]
        by_second: dict[int, list[float]] = {}
        whole_seconds = max(1, int(window))  # the last, partial second has too few samples to judge
        for data in result["routes"].values():
            for second, latency in zip(data["seconds"], data["latencies_ms"], strict=True):
                if second < whole_seconds:
                    by_second.setdefault(second, []).append(latency)
        slow = sum(1 for values in by_second.values() if percentile(sorted(values), 0.99) > P99_TARGET_MS)
        all_errors: dict[str, int] = {}
        for data in result["routes"].values():
            for kind, count in data["errors"].items():
                all_errors[kind] = all_errors.get(kind, 0) + count
        return cls(
            label=label,
            target_rate=float(result["target_rate"]),
            users=int(result["users"]),
            window_s=window,
            routes=routes,
            total=RouteStats.from_raw("all", all_latencies, all_errors, window),
            generator_cores=float(result["generator_cores"]),
            server_cores=float(result["server_cores"]),
            machine_busy_cores=float(result["machine_busy_cores"]),
            users_running=int(result["users_running"]),
            slow_seconds=slow,
            seconds=len(by_second),
            error_samples=list(result["error_samples"]),
            cpu_waiting_share=float(result.get("cpu_waiting_share", math.nan)),
        )

    def sustained(self) -> bool:
        """SPEC.md §8's test for a fixed rate: p99 ≤ 50 ms, no error, and the rate delivered."""
        t = self.total
        return t.errors == 0 and t.ok > 0 and t.p99 <= P99_TARGET_MS and t.rps >= MIN_ACHIEVED_SHARE * self.target_rate


def _ms(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.1f}"


def _errors(stats: RouteStats) -> str:
    if not stats.errors:
        return "0"
    kinds = ", ".join(f"{kind} ×{count}" for kind, count in sorted(stats.error_kinds.items()))
    return f"**{stats.errors}** ({kinds})"


def _cpu(phase: Phase) -> str:
    return f"{phase.server_cores:.2f} / {phase.generator_cores:.2f} / {phase.machine_busy_cores:.2f}"


def _slow(phase: Phase) -> str:
    return f"{phase.slow_seconds} of {phase.seconds} seconds had their own p99 over {P99_TARGET_MS:.0f} ms;"


def _cpu_per_request(phase: Phase) -> str:
    """Server CPU milliseconds per request: what a route costs, whatever the machine's load."""
    return f"{1000 * phase.server_cores / phase.total.rps:.2f}" if phase.total.rps else "–"


LATENCY_HEADER = "| p50 ms | p95 ms | p99 ms | max ms | errors |"


def latency_cells(stats: RouteStats) -> str:
    return f"| {_ms(stats.p50)} | {_ms(stats.p95)} | {_ms(stats.p99)} | {_ms(stats.max)} | {_errors(stats)} |"


@dataclass(slots=True)
class Report:
    """Everything one `python -m benchmarks.run` measured, rendered as Markdown."""

    context: dict[str, str]
    open_loop: Phase | None = None
    steps: list[Phase] = field(default_factory=list)
    step_rates: list[float] = field(default_factory=list)
    closed: list[Phase] = field(default_factory=list)
    server_log_lines: list[str] = field(default_factory=list)
    server_log_total: int = 0

    def sustainable_rate(self) -> float | None:
        """The highest step rate sustained (by one of its attempts), every lower one sustained too."""
        best = None
        for rate in dict.fromkeys(phase.target_rate for phase in self.steps):
            if not any(p.sustained() for p in self.steps if p.target_rate == rate):
                break
            best = rate
        return best

    def ceiling_rps(self) -> float | None:
        values = [p.total.rps for p in self.closed if p.label == "ceiling"]
        return sum(values) / len(values) if values else None

    def markdown(self) -> str:
        lines = ["# Thotis sidecar — load benchmark (SPEC.md §8)", ""]
        lines += [f"- **{key}**: {value}" for key, value in self.context.items()]
        lines += [
            "",
            "The load generator (its own process) shares these cores with the servers, PostgreSQL and Redis "
            "(and anything else running on the machine). **CPU** columns: cores used during the measurement "
            "window by the server processes / the load generator / the whole machine as the kernel counts it "
            "(in a VM the per-process and machine counts need not add up); **ms CPU/req**: server CPU per "
            "request, the cost of a route whatever the load. Latencies are measured by the generator, from "
            "sending a request to reading the whole response.",
            "",
        ]
        lines += self._open_loop_md() + self._steps_md() + self._closed_md() + self._log_md()
        return "\n".join(lines).rstrip() + "\n"

    def _open_loop_md(self) -> list[str]:
        phase = self.open_loop
        if phase is None:
            return []
        lines = [
            f"## Latency under load (open loop): {phase.users} users, {phase.target_rate:.0f} req/s in total",
            "",
            f"Routes mixed round-robin; {phase.window_s:.0f} s measured after warm-up; {_slow(phase)} "
            f"CPU {_cpu(phase)}; {_cpu_per_request(phase)} ms CPU/req.",
            "",
            "| route | req/s " + LATENCY_HEADER + " p99 ≤ 50 ms |",
            "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
        ]
        for stats in [*phase.routes, phase.total]:
            verdict = "yes" if stats.p99 <= P99_TARGET_MS and not stats.errors else "**no**"
            lines.append(f"| {stats.route} | {stats.rps:.0f} " + latency_cells(stats) + f" {verdict} |")
        return [*lines, "", *samples(phase)]

    def _steps_md(self) -> list[str]:
        if not self.steps:
            return []
        rate = self.sustainable_rate()
        headline = f"**{rate:.0f} req/s**" if rate is not None else "**below the lowest step**"
        lines = [
            "## Sustainable rate (mentor list, open loop)",
            "",
            f"Sustainable rate: {headline} — the highest fixed rate at which `list` kept p99 ≤ "
            f"{P99_TARGET_MS:.0f} ms with no error and ≥ {MIN_ACHIEVED_SHARE:.0%} of the rate delivered "
            f"({self.steps[0].users} users; steps tried: {', '.join(f'{r:.0f}' for r in self.step_rates)}; "
            "a failed step is retried once, as one noisy second fails a p99 here; stepping stops at the "
            "first rate that fails every attempt). **slow s**: seconds of the window whose own p99 was "
            "over 50 ms — a few mean brief stalls, most mean saturation.",
            "",
            "| target req/s | achieved req/s "
            + LATENCY_HEADER
            + " slow s | CPU server / gen / machine | ms CPU/req | sustained |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- | ---: | --- |",
        ]
        for phase in self.steps:
            verdict = "yes" if phase.sustained() else "**no**"
            lines.append(
                f"| {phase.target_rate:.0f} | {phase.total.rps:.0f} "
                + latency_cells(phase.total)
                + f" {phase.slow_seconds}/{phase.seconds} | {_cpu(phase)} | {_cpu_per_request(phase)} | {verdict} |"
            )
        sample_lines = [line for phase in self.steps for line in samples(phase)]
        return [*lines, "", *sample_lines]

    def _closed_md(self) -> list[str]:
        if not self.closed:
            return []
        ceiling = self.ceiling_rps()
        first = self.closed[0]
        lines = [
            f"## Capacity (closed loop): {first.users} connections as fast as they go",
            "",
            f"One route at a time, {first.window_s:.0f} s each after warm-up; `ceiling` is a bare Litestar "
            "endpoint returning one Redis value (the cached list page's bytes) on the same uvicorn "
            "options and worker count, measured first and last (ratios use their mean"
            + (f", {ceiling:.0f} req/s" if ceiling else "")
            + f"). Target: cached reads ≥ {CEILING_RATIO_TARGET}× the ceiling.",
            "",
            "| endpoint | req/s | × ceiling " + LATENCY_HEADER + " CPU server / gen / machine | ms CPU/req |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: |",
        ]
        for phase in self.closed:
            ratio = f"{phase.total.rps / ceiling:.2f}" if ceiling else "–"
            if ceiling and phase.label != "ceiling" and phase.total.rps / ceiling < CEILING_RATIO_TARGET:
                ratio = f"**{ratio}**"
            lines.append(
                f"| {phase.label} | {phase.total.rps:.0f} | {ratio} "
                + latency_cells(phase.total)
                + f" {_cpu(phase)} | {_cpu_per_request(phase)} |"
            )
        sample_lines = [line for phase in self.closed for line in samples(phase)]
        return [*lines, "", *sample_lines]

    def _log_md(self) -> list[str]:
        lines = ["## Server logs", ""]
        if not self.server_log_total:
            return [*lines, "No warning, error or traceback in the server logs.", ""]
        lines.append(f"{self.server_log_total} warning/error/traceback line(s); the first ones:")
        lines += ["", "```", *self.server_log_lines, "```", ""]
        return lines


def samples(phase: Phase) -> list[str]:
    if not phase.error_samples:
        return []
    return [f"Error samples ({phase.label}):", "", "```", *phase.error_samples, "```", ""]
