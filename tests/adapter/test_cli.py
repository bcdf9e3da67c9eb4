"""The `thotis` command line: tokens, config check."""

from __future__ import annotations

import jwt
import pytest
from click.testing import CliRunner

from adapter.cli import main
from core.settings import DEMO_JWT_SECRET
from tests.core.test_settings import PRODUCTION


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
