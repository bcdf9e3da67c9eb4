"""Settings: names of SPEC.md §9, production refuses demo keys and missing secrets."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from core.errors import ConfigurationError
from core.settings import DEMO_JWT_SECRET, Environment, Settings

PRODUCTION = {
    "THOTIS_ENV": "production",
    "THOTIS_DATABASE_URL": "postgresql+asyncpg://thotis:pw@db/thotis",
    "THOTIS_REDIS_URL": "redis://cache:6379/0",
    "THOTIS_JWT_SECRET": "s" * 40,
    "THOTIS_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    "THOTIS_CALCOM_API_URL": "https://api.cal.com",
    "THOTIS_CALCOM_WEBHOOK_SECRET": "whsec",
    "THOTIS_ALLOWED_ORIGINS": "https://thotis.fr, https://www.thotis.fr/",
}


@pytest.fixture
def production_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in PRODUCTION.items():
        monkeypatch.setenv(name, value)


class TestSettings:
    def test_reads_the_documented_variable_names(self, production_env: None) -> None:
        settings = Settings()
        assert settings.env is Environment.PRODUCTION
        assert settings.allowed_origins == ["https://thotis.fr", "https://www.thotis.fr"]
        assert settings.redis_url == "redis://cache:6379/0"
        settings.ensure_safe()

    def test_production_refuses_the_demo_signing_key(
        self, production_env: None, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("THOTIS_JWT_SECRET", DEMO_JWT_SECRET)
        with pytest.raises(ConfigurationError, match="demo signing key"):
            Settings().ensure_safe()

    @pytest.mark.parametrize("missing", ["THOTIS_DATABASE_URL", "THOTIS_CALCOM_WEBHOOK_SECRET", "THOTIS_REDIS_URL"])
    def test_production_refuses_missing_secrets(
        self, production_env: None, monkeypatch: pytest.MonkeyPatch, missing: str
    ) -> None:
        monkeypatch.delenv(missing)
        with pytest.raises(ConfigurationError, match=missing):
            Settings().ensure_safe()

    def test_production_refuses_plain_http_origins_and_default_encryption_key(
        self, production_env: None, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("THOTIS_ALLOWED_ORIGINS", "http://thotis.fr")
        monkeypatch.delenv("THOTIS_ENCRYPTION_KEY")
        problems = Settings().production_problems()
        assert any("https" in p for p in problems) and any("ENCRYPTION_KEY" in p for p in problems)

    def test_production_emails_need_an_https_public_url_and_no_demo_features(
        self, production_env: None, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("THOTIS_SMTP_URL", "smtp://relay:587")
        monkeypatch.setenv("THOTIS_CLOCK_SPEED", "720")
        monkeypatch.setenv("THOTIS_MAILBOX_DIR", "/tmp/mailbox")
        problems = Settings().production_problems()
        assert {"THOTIS_PUBLIC_URL", "THOTIS_CLOCK_SPEED", "THOTIS_MAILBOX_DIR"} <= {p.split()[0] for p in problems}
        monkeypatch.setenv("THOTIS_PUBLIC_URL", "https://mentors.thotis.fr")
        monkeypatch.delenv("THOTIS_CLOCK_SPEED")
        monkeypatch.delenv("THOTIS_MAILBOX_DIR")
        Settings().ensure_safe()

    def test_unknown_email_kinds_are_refused(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("THOTIS_EMAILS_DISABLED", "confirmation,newsletter")
        with pytest.raises(ValueError, match="newsletter"):
            Settings()

    def test_demo_accepts_defaults(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("THOTIS_ENV", raising=False)
        Settings().ensure_safe()

    def test_described_masks_secrets_and_url_passwords(self, production_env: None) -> None:
        rows = {name: value for name, value, _ in Settings().described()}
        assert rows["THOTIS_JWT_SECRET"] == "********"
        assert rows["THOTIS_DATABASE_URL"] == "postgresql+asyncpg://thotis:****@db/thotis"
        assert "s" * 40 not in str(rows)

    def test_every_field_is_documented(self) -> None:
        assert all(field.description for field in Settings.model_fields.values())


def test_webhook_retry_schedule_is_read_from_commas_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THOTIS_WEBHOOK_RETRY_SCHEDULE_SECONDS", "10, 20,3600")
    assert Settings().webhook_retry_schedule_seconds == [10, 20, 3600]
    for bad in ("0", "", "abc", ",".join(["5"] * 31)):
        monkeypatch.setenv("THOTIS_WEBHOOK_RETRY_SCHEDULE_SECONDS", bad)
        with pytest.raises(ValueError):
            Settings()
