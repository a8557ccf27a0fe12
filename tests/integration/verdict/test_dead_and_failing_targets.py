"""A target that answers nothing is NO-GO with a finding that names it; a plan without gates is
judged on the default gates, so a run of failures is never GO (docs/thresholds.md)."""

from __future__ import annotations

from pathlib import Path

from loadlens.model.finding import FindingClass
from loadlens.model.verdict import VerdictKind
from tests.support.fixed_server import FixedServer, closed_port
from tests.support.runs import Finished, loadlens, write


def _scenario(url: str, path: str, gates: str) -> str:
    return f"""\
name: outcomes
target: {url}
flows:
  - name: one
    steps:
      - request: {{name: call, method: GET, url: {path}}}
plan:
  - {{stage: smoke, users: 2, duration: 1s{gates}}}
"""


def _run(tmp_path: Path, text: str, *options: str) -> Finished:
    scenario = write(tmp_path / "scenario.yaml", text)
    out = tmp_path / "runs"
    run = loadlens("run", str(scenario), "--out", str(out), "--workers", "1", *options, out=out)
    assert "Traceback" not in run.stderr, run.stderr
    return run


def test_a_refused_target_stops_the_run_before_any_load(tmp_path: Path) -> None:
    # The preflight connects once to the target: nothing is sent, exit 2, the target named.
    port = closed_port()
    run = _run(
        tmp_path,
        _scenario(f"http://127.0.0.1:{port}", "/", ', gates: ["error_rate < 1%"]'),
    )
    assert run.code == 2, run.stdout
    assert "preflight failed, nothing was sent" in run.stderr
    assert f"target http://127.0.0.1:{port}" in run.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("result.json"))


def test_a_refused_target_is_no_go_and_the_finding_names_it(tmp_path: Path) -> None:
    # Without the preflight (or when the target dies once the run has begun), every request is
    # refused: the run is NO-GO with a finding that names the target, never "run longer".
    port = closed_port()
    run = _run(
        tmp_path,
        _scenario(f"http://127.0.0.1:{port}", "/", ', gates: ["error_rate < 1%"]'),
        "--no-preflight",
    )
    assert run.code == 1, run.stdout
    result = run.result()
    assert result.verdict is not None and result.verdict.kind is VerdictKind.NO_GO
    (unreachable,) = [f for f in result.findings if f.kind is FindingClass.UNREACHABLE]
    refused = result.total.outcomes["error:connect_refused"]
    assert unreachable.headline == (
        f"UNREACHABLE — no response from 127.0.0.1:{port}: {refused:,} × connection refused"
    )
    assert unreachable.headline in run.stdout
    assert "run longer" not in run.stdout


def test_no_gates_and_every_answer_a_500_is_not_go(tmp_path: Path) -> None:
    with FixedServer() as url:
        run = _run(tmp_path, _scenario(url, "/fail", ""))
    result = run.result()
    assert result.verdict is not None and result.verdict.kind is VerdictKind.NO_GO, run.stdout
    assert run.code == 1
    (gate,) = result.gates
    assert gate.default and gate.gate == "error_rate < 5%"
    assert "error_rate < 5% (default)" in run.stdout
    junit = (run.run_dir / "junit.xml").read_text(encoding="utf-8")
    assert 'name="error_rate &lt; 5% (default)"' in junit
    assert 'type="NoGo"' in junit
    report = (run.run_dir / "report.md").read_text(encoding="utf-8")
    assert "error_rate < 5% (default)" in report
