"""`--prometheus`, `--otlp` and `--dashboard` on `run` and `quick`: a bad value is refused at
once."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from loadlens.cli.main import cli

SCENARIO = """\
name: s
target: http://127.0.0.1:1
steps:
  - request: {method: GET, url: /}
plan:
  - {stage: s, users: 1, iterations: 1}
"""


@pytest.mark.parametrize("command", ["run", "quick"])
def test_a_bad_prometheus_address_is_refused_before_anything_starts(
    tmp_path: Path, command: str
) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    what = str(scenario) if command == "run" else "http://127.0.0.1:1/"
    out = tmp_path / "runs"
    result = CliRunner().invoke(
        cli, [command, what, "--out", str(out), "--prometheus", "127.0.0.1:99999"]
    )
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        "error: --prometheus wants [HOST:]PORT with a port from 0 to 65535, "
        "not '127.0.0.1:99999'\n"
        "hint: e.g. --prometheus 9464 or --prometheus 127.0.0.1:0 (any free port)\n"
    )
    assert not out.exists()


@pytest.mark.parametrize("command", ["run", "quick"])
def test_a_bad_otlp_url_is_refused_before_anything_starts(tmp_path: Path, command: str) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    what = str(scenario) if command == "run" else "http://127.0.0.1:1/"
    out = tmp_path / "runs"
    result = CliRunner().invoke(cli, [command, what, "--out", str(out), "--otlp", "127.0.0.1:4318"])
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        "error: --otlp wants an http:// or https:// URL of an OTLP/HTTP collector, "
        "not '127.0.0.1:4318'\n"
        "hint: e.g. --otlp http://127.0.0.1:4318 (sends to /v1/metrics)\n"
    )
    assert not out.exists()


@pytest.mark.parametrize("command", ["run", "quick"])
def test_a_bad_dashboard_address_is_refused_before_anything_starts(
    tmp_path: Path, command: str
) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    what = str(scenario) if command == "run" else "http://127.0.0.1:1/"
    out = tmp_path / "runs"
    result = CliRunner().invoke(cli, [command, what, "--out", str(out), "--dashboard", "web:80a"])
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        "error: --dashboard wants [HOST:]PORT with a port from 0 to 65535, not 'web:80a'\n"
        "hint: e.g. --dashboard 8089 or --dashboard 127.0.0.1:0 (any free port)\n"
    )
    assert not out.exists()
