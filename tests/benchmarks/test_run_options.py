"""The benchmark runner's options: route weights and where each report goes (benchmarks/run.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.routes import MIX_WEIGHTS, parse_mix_weights
from benchmarks.run import REPORT_NAMES, ROOT, parse_args, report_paths

RESULTS = ROOT / "benchmarks" / "results"


class TestReportPaths:
    def test_without_out_each_report_goes_to_results_under_its_own_name(self) -> None:
        phases = {"open", "steps", "closed", "mix", "calcom", "webhooks"}
        assert report_paths(phases, None) == {kind: RESULTS / name for kind, name in REPORT_NAMES.items()}

    @pytest.mark.parametrize("phases", [{"open"}, {"mix"}, {"calcom"}, {"webhooks"}])
    def test_a_single_report_goes_where_out_says(self, phases: set[str], tmp_path: Path) -> None:
        assert list(report_paths(phases, tmp_path / "mine.md").values()) == [tmp_path / "mine.md"]

    def test_several_reports_go_next_to_out_and_none_overwrites_another(self, tmp_path: Path) -> None:
        paths = report_paths({"closed", "webhooks", "mix"}, tmp_path / "mine.md")
        assert paths == {
            "serve": tmp_path / "latest.md",
            "mix": tmp_path / "load.md",
            "webhooks": tmp_path / "webhooks.md",
        }

    def test_the_command_line_defaults_to_no_out(self) -> None:
        assert parse_args(["--phases", "mix"]).out is None


class TestMixWeights:
    def test_routes_left_out_get_no_share(self) -> None:
        assert parse_mix_weights("list=3, booking=1") == {**dict.fromkeys(MIX_WEIGHTS, 0), "list": 3, "booking": 1}

    @pytest.mark.parametrize("text", ["list", "list=x", "nope=1", "list=-1", "list=0,booking=0"])
    def test_what_is_not_route_equals_a_whole_weight_is_refused(self, text: str) -> None:
        with pytest.raises(ValueError):
            parse_mix_weights(text)


class TestSyncInterval:
    def test_the_mix_can_run_the_sync_through_the_measurement(self) -> None:
        assert parse_args(["--phases", "mix", "--mix-sync-interval", "10"]).mix_sync_interval == 10
        assert parse_args(["--phases", "mix"]).mix_sync_interval is None  # the scheduler's default

    def test_an_interval_the_settings_refuse_is_refused_up_front(self) -> None:
        with pytest.raises(SystemExit):
            parse_args(["--phases", "mix", "--mix-sync-interval", "5"])
