"""Servers started on loopback by this project itself (the demo's mail server, the benchmarks'
and the fault tests' processes): a port to give them and an environment free of the parent's
settings."""

from __future__ import annotations

import os
import random
import socket
from pathlib import Path

_HANDED_OUT: set[int] = set()


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port(host: str = "127.0.0.1") -> int:
    """A free port below the ephemeral range, not handed out before by this process. A port from
    `bind(0)` is released before the server binds it, and meanwhile any outgoing connection may
    take it as its local port; ports below the ephemeral range are never handed out that way."""
    low, _ = _ephemeral_range()
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(max(1024, low - 12000), low)
        if port in _HANDED_OUT:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        fallback: int = sock.getsockname()[1]
        return fallback


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    """The parent's environment without any THOTIS_* variable, plus `extra`: a started process
    reads only the settings it is given."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("THOTIS_")}
    env.update(extra)
    return env
