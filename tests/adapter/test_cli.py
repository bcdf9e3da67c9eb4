"""The `thotis` command line: tokens, config check, seed, simulator."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
import jwt
import pytest
import uvicorn
from click.testing import CliRunner

from adapter.cli import main
from core.settings import DEMO_JWT_SECRET
from tests.core.test_settings import PRODUCTION
from thotis_ext.seed import demo_api_key, sample_profiles


class TestCli:
    def test_token_mints_a_verifiable_jwt(self) -> None:
        result = CliRunner().invoke(main, ["token", "--role", "mentor", "--sub", "m1", "--ttl", "120"])
        assert result.exit_code == 0, result.output
        claims = jwt.decode(result.output.strip(), DEMO_JWT_SECRET, algorithms=["HS256"], audience="thotis")
        assert claims["role"] == "mentor" and claims["sub"] == "m1" and claims["exp"] - claims["iat"] == 120

    def test_token_refuses_unknown_roles(self) -> None:
        result = CliRunner().invoke(main, ["token", "--role", "root", "--sub", "x"])
        assert result.exit_code != 0

    def test_config_check_masks_secrets(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name, value in PRODUCTION.items():
            monkeypatch.setenv(name, value)
        result = CliRunner().invoke(main, ["config", "check"])
        assert result.exit_code == 0, result.output
        assert "THOTIS_JWT_SECRET" in result.output and "********" in result.output
        assert PRODUCTION["THOTIS_JWT_SECRET"] not in result.output
        assert "thotis:****@db" in result.output

    def test_config_check_fails_for_unsafe_production(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("THOTIS_ENV", "production")
        result = CliRunner().invoke(main, ["config", "check"])
        assert result.exit_code == 1
        assert "demo signing key" in result.output

    def test_serve_refuses_unsafe_production(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("THOTIS_ENV", "production")
        result = CliRunner().invoke(main, ["serve"])
        assert result.exit_code != 0 and "unsafe production settings" in result.output

    def test_seed_link_needs_a_cal_com_url(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("THOTIS_DATABASE_URL", "postgresql+asyncpg://nobody@127.0.0.1:1/none")
        monkeypatch.delenv("THOTIS_CALCOM_API_URL", raising=False)
        result = CliRunner().invoke(main, ["seed", "--link"])
        assert result.exit_code != 0 and "THOTIS_CALCOM_API_URL" in result.output

    def test_simulator_serves_the_sample_mentors_users(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """`thotis simulator` hands uvicorn a simulator whose users hold the sample API keys."""
        served: dict[str, Any] = {}
        monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.update(app=app, **options))
        monkeypatch.setenv("THOTIS_CALCOM_WEBHOOK_SECRET", "whsec-cli-test-secret-0123456789")
        result = CliRunner().invoke(
            main, ["simulator", "--port", "8999", "--per-field", "1", "--webhook-url", "http://sidecar/webhooks/calcom"]
        )
        assert result.exit_code == 0, result.output
        assert served["port"] == 8999 and "10 sample users" in result.output

        async def me(key: str) -> httpx.Response:
            transport = httpx.ASGITransport(app=served["app"])
            async with httpx.AsyncClient(transport=transport, base_url="http://calcom") as client:
                return await client.get("/v2/me", headers={"Authorization": f"Bearer {key}"})

        first = sample_profiles(1)[0][0]
        answer = asyncio.run(me(demo_api_key(first)))
        assert answer.status_code == 200 and answer.json()["data"]["username"] == first
        assert asyncio.run(me("cal_not_a_key")).status_code == 401

    def test_demo_stops_at_once_when_its_port_is_taken(self, monkeypatch: pytest.MonkeyPatch) -> None:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            monkeypatch.setenv("THOTIS_PORT", str(port))
            result = CliRunner().invoke(main, ["demo"])
        assert result.exit_code == 1 and f"cannot listen on 127.0.0.1:{port}" in result.output
