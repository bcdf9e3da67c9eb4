"""The dependency direction of STYLE.md holds (import-linter contracts in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class TestArchitecture:
    def test_import_contracts_are_kept(self) -> None:
        lint_imports = Path(sys.executable).with_name("lint-imports")
        result = subprocess.run(
            [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "0 broken" in result.stdout

    def test_no_module_imports_litestar_outside_adapter(self) -> None:
        offenders = [
            str(path.relative_to(ROOT))
            for package in ("core", "thotis_ext", "calcom_client", "webhooks_in", "webhooks_out", "jobs")
            for path in (ROOT / package).rglob("*.py")
            if "import litestar" in path.read_text() or "from litestar" in path.read_text()
        ]
        assert offenders == []
