"""`loadlens analyze` re-diagnoses a stored result (the command object, called directly)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from loadlens.cli.analyze import analyze
from loadlens.metrics.result import write_result
from tests.unit.analysis.findings.test_findings_failures import _cursor_run


def test_analyze_prints_the_findings_and_the_verdict(tmp_path: Path) -> None:
    write_result(_cursor_run(), tmp_path / "result.json")  # type: ignore[arg-type]
    out = CliRunner().invoke(analyze, [str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert "[major] TEST SCRIPT (script or data fault) — `history`" in out.output
    assert "ruled out: not server errors: 100.0% are 4xx" in out.output
    assert "verdict: GO" in out.output


def test_analyze_json_carries_the_findings(tmp_path: Path) -> None:
    write_result(_cursor_run(), tmp_path / "result.json")  # type: ignore[arg-type]
    out = CliRunner().invoke(analyze, [str(tmp_path / "result.json"), "--json"])
    payload = json.loads(out.output)
    assert payload["findings"][0]["attribution"] == "test_script"
    assert payload["verdict"]["kind"] == "go"


def test_analyze_a_missing_result_fails_with_exit_code_2(tmp_path: Path) -> None:
    out = CliRunner().invoke(analyze, [str(tmp_path)])
    assert out.exit_code == 2 and "no result file" in out.output
