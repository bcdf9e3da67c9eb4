"""docker-compose.yml, checked without Docker (no Compose client on this machine): it is valid
against the Compose Specification's own JSON schema (the copy `check-jsonschema` ships), every
service the deployment needs is there with the right command, health checks and start order hold,
and every secret comes from the environment, never from the file."""

from __future__ import annotations

import copy
import functools
import importlib.resources
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from core.settings import Settings

COMPOSE = Path(__file__).parents[1] / "docker-compose.yml"
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
SECRETS = ("THOTIS_JWT_SECRET", "THOTIS_ENCRYPTION_KEY", "THOTIS_CALCOM_WEBHOOK_SECRET", "POSTGRES_PASSWORD")


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


@functools.cache
def compose_spec() -> Draft202012Validator:
    """The Compose Specification's schema, as `docker compose config` applies it before anything else."""
    text = importlib.resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json")
    schema = json.loads(text.read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def schema_errors(document: dict[str, Any]) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in compose_spec().iter_errors(document)]


def _misspelt_key(doc: dict[str, Any]) -> None:
    doc["services"]["sidecar"]["helthcheck"] = doc["services"]["sidecar"].pop("healthcheck")


def _unknown_condition(doc: dict[str, Any]) -> None:
    doc["services"]["sidecar"]["depends_on"]["migrate"]["condition"] = "service_finished"


def _command_as_mapping(doc: dict[str, Any]) -> None:
    doc["services"]["worker"]["command"] = {"run": "thotis worker"}


def _ports_as_text(doc: dict[str, Any]) -> None:
    doc["services"]["sidecar"]["ports"] = "8000:8000"


def _unknown_top_level(doc: dict[str, Any]) -> None:
    doc["service"] = doc["services"]


class TestCompose:
    def test_the_file_is_valid_against_the_compose_specification(self) -> None:
        assert schema_errors(compose()) == []

    @pytest.mark.parametrize(
        "break_it",
        [_misspelt_key, _unknown_condition, _command_as_mapping, _ports_as_text, _unknown_top_level],
    )
    def test_the_schema_check_refuses_what_compose_would_refuse(
        self, break_it: Callable[[dict[str, Any]], None]
    ) -> None:
        broken = copy.deepcopy(compose())
        break_it(broken)
        assert schema_errors(broken), f"{break_it.__name__} passed the schema"

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
