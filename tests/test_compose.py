"""docker-compose.yml, checked without Docker (none on this machine): it parses, every service the
deployment needs is there with the right command, health checks and start order hold, and every
secret comes from the environment, never from the file."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from core.settings import Settings

COMPOSE = Path(__file__).parents[1] / "docker-compose.yml"
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
SECRETS = ("THOTIS_JWT_SECRET", "THOTIS_ENCRYPTION_KEY", "THOTIS_CALCOM_WEBHOOK_SECRET", "POSTGRES_PASSWORD")


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


class TestCompose:
    def test_the_deployment_services_run_what_they_should(self) -> None:
        services = compose()["services"]
        assert set(services) == {"postgres", "redis", "migrate", "sidecar", "worker", "scheduler"}
        commands = {name: services[name].get("command") for name in ("migrate", "sidecar", "worker", "scheduler")}
        assert commands == {
            "migrate": ["thotis", "migrate"],
            "sidecar": ["thotis", "serve"],
            "worker": ["thotis", "worker"],
            "scheduler": ["thotis", "scheduler"],
        }
        for name in ("sidecar", "worker", "scheduler"):
            assert services[name]["environment"]["THOTIS_ENV"] == "production"
            assert services[name].get("restart") == "unless-stopped"

    def test_health_checks_and_start_order(self) -> None:
        services = compose()["services"]
        for name in ("postgres", "redis", "sidecar", "worker", "scheduler"):
            check = services[name]["healthcheck"]
            assert check["test"] and check["interval"] and check["retries"] >= 1, name
        assert "/health/ready" in " ".join(services["sidecar"]["healthcheck"]["test"])
        for role in ("worker", "scheduler"):  # the heartbeat its own process writes (jobs/heartbeat.py)
            assert services[role]["healthcheck"]["test"] == ["CMD", "thotis", "health", role]
        for name, service in services.items():
            for dependency, rule in (service.get("depends_on") or {}).items():
                assert dependency in services and rule["condition"] in CONDITIONS, (name, dependency)
        for name in ("sidecar", "worker", "scheduler"):
            assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"

    def test_docker_waits_longer_than_a_graceful_stop_before_killing(self) -> None:
        services = compose()["services"]
        timeout = Settings.model_fields["shutdown_timeout_seconds"].default
        for name in ("sidecar", "worker"):
            grace = services[name]["stop_grace_period"]
            assert grace.endswith("s") and int(grace[:-1]) > timeout, name

    def test_secrets_come_from_the_environment_only(self) -> None:
        text = COMPOSE.read_text()
        for secret in SECRETS:
            values = re.findall(rf"{secret}\s*:\s*(.+)", text)
            assert values, secret
            for value in values:
                assert "${" in value, f"{secret} must be a ${{…}} placeholder, not a value"
        assert "sk_live" not in text and "whsec_" not in text
