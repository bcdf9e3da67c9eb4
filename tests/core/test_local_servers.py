"""Ports and environments for the servers the project starts on loopback itself."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from core.local_servers import clean_env, free_port


def ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def test_free_ports_are_bindable_distinct_and_below_the_ephemeral_range() -> None:
    """An outgoing connection's local port comes from the ephemeral range, so a port handed out
    below it cannot be taken that way between the check and the server's own bind."""
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == 50
    assert all(1024 <= port < ephemeral_low() for port in ports)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", ports[-1]))


def test_a_clean_environment_carries_no_parent_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THOTIS_DATABASE_URL", "postgresql://elsewhere/prod")
    monkeypatch.setenv("KEEP_ME", "1")
    env = clean_env({"THOTIS_PORT": "9000"})
    assert "THOTIS_DATABASE_URL" not in env
    assert env["THOTIS_PORT"] == "9000" and env["KEEP_ME"] == "1"
