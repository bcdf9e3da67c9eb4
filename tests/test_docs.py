"""The documentation names only settings that exist: every `THOTIS_*` variable in the README, the
docs, the compose file and the Dockerfile is a field of `core.settings.Settings` (or one of the
few variables that are not settings, listed here with where they belong)."""

from __future__ import annotations

import re
from pathlib import Path

from core.settings import Settings

ROOT = Path(__file__).parents[1]
DOCUMENTS = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    ROOT / "docker-compose.yml",
    ROOT / "Dockerfile",
]
NOT_SETTINGS = {
    "THOTIS_TEST_DATABASE_URL": "tests/servers.py: the tests' PostgreSQL",
    "THOTIS_TEST_REDIS_URL": "tests/servers.py: the tests' Redis",
    "THOTIS_TEST_CHROMIUM": "tests/browser: the browser the page tests drive",
    "THOTIS_TEST_FULL": "make test-full: the longer fault, security and delivery-crash variants",
    "THOTIS_PUBLISHED_PORT": "docker-compose.yml: the host port of the sidecar",
}
VARIABLE = re.compile(r"\bTHOTIS_[A-Z0-9_]*[A-Z0-9]\b")


def settings_variables() -> set[str]:
    return {f"THOTIS_{name.upper()}" for name in Settings.model_fields}


class TestDocumentedSettings:
    def test_every_thotis_variable_named_in_the_docs_exists(self) -> None:
        known = settings_variables() | set(NOT_SETTINGS)
        unknown = {
            f"{path.relative_to(ROOT)}: {name}"
            for path in DOCUMENTS
            for name in VARIABLE.findall(path.read_text())
            if name not in known
        }
        assert not unknown, sorted(unknown)

    def test_every_setting_is_in_the_readme_configuration_table(self) -> None:
        readme = (ROOT / "README.md").read_text()
        table = readme[readme.index("## Configuration") : readme.index("## Command line")]
        rows = set(re.findall(r"^\| `(THOTIS_[A-Z0-9_]+)` \|", table, flags=re.MULTILINE))
        assert settings_variables() - rows == set()

    def test_the_exceptions_are_really_not_settings(self) -> None:
        assert not set(NOT_SETTINGS) & settings_variables()


class TestLicence:
    def test_the_declared_licence_is_the_one_shipped_and_explained(self) -> None:
        import tomllib

        project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
        assert project["license"] == "Apache-2.0"
        assert all((ROOT / name).is_file() for name in project["license-files"])
        assert "Apache License\n                           Version 2.0" in (ROOT / "LICENSE").read_text()
        assert "docs/licensing.md" in (ROOT / "README.md").read_text()
