"""Where the CPU went during a measurement window: this process, the server tree, the machine.

On a 2-core machine shared by the generator, the servers, PostgreSQL, Redis (and whatever else
runs there), a figure means little without knowing who had the cores.
"""

from __future__ import annotations

import math
import resource
import time
from dataclasses import dataclass

import psutil


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
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


def cpu_pressure_seconds() -> float:
    """Seconds during which at least one runnable task waited for a core (Linux PSI, "some"), NaN
    where the kernel does not report it. Its rate is how saturated the cores were, bursts included:
    an average of 1.2 busy cores of 2 can still leave a request waiting for one."""
    try:
        with open("/proc/pressure/cpu", encoding="ascii") as source:
            some = source.readline().split()
    except OSError:
        return math.nan
    totals = [field for field in some if field.startswith("total=")]
    return int(totals[0].removeprefix("total=")) / 1e6 if totals else math.nan


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True, slots=True)
class CpuSnapshot:
    """CPU counters at one instant; subtract two to get cores used in between."""

    wall: float
    own: float
    server: float
    machine: float
    pressure: float

    @classmethod
    def take(cls, server_pid: int | None) -> CpuSnapshot:
        return cls(
            time.perf_counter(),
            own_cpu_seconds(),
            tree_cpu_seconds(server_pid),
            machine_busy_seconds(),
            cpu_pressure_seconds(),
        )

    def cores_since(self, start: CpuSnapshot) -> dict[str, float]:
        """Window length, average cores used by the generator, the server and the machine, and the
        share of the window some task waited for a core."""
        window = self.wall - start.wall
        return {
            "window_s": window,
            "generator_cores": (self.own - start.own) / window,
            "server_cores": (self.server - start.server) / window,
            "machine_busy_cores": (self.machine - start.machine) / window,
            "cpu_waiting_share": (self.pressure - start.pressure) / window,
        }
