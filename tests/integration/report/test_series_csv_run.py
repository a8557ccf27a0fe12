"""series.csv from a real run: each operation's per-second rows sum to its count in result.json,
`loadlens report` writes the same file again, and a result rebuilt from frames.jsonl (the
crash-recovery path) gets the same rows."""

from __future__ import annotations

import csv
from pathlib import Path

from loadlens.metrics.result import rebuild_from_frames
from loadlens.report.write import write_reports
from tests.support.runs import loadlens, run_scenario, write
from tests.support.testserver import LocalServer

SCENARIO = """\
name: csv
target: http://127.0.0.1:1
steps:
  - request: {name: "list, all", method: GET, url: /users}
  - think: 5ms
  - request: {name: create, method: POST, url: /users, json: {name: ada}}
plan:
  - {stage: first, users: 2, iterations: 50}
  - {stage: second, users: 1, iterations: 20}
"""


def test_series_csv_counts_sum_to_the_results_counts(tmp_path: Path) -> None:
    scenario = write(tmp_path / "csv.yaml", SCENARIO)
    with LocalServer("crud") as url:
        run = run_scenario(scenario, url, tmp_path / "out", "--workers", "1")
    assert run.code == 0, f"exit {run.code}\n{run.stdout}\n{run.stderr}"
    path = run.run_dir / "series.csv"
    assert f"report: {path}" in run.stdout
    with path.open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    result = run.result()

    per_op: dict[tuple[str, str], int] = {}
    for row in rows:
        key = (row["stage"], row["operation"] if row["scope"] == "operation" else "*")
        per_op[key] = per_op.get(key, 0) + int(row["count"])
    expected = {}
    for stage in result.stages:
        for name, op in stage.operations.items():
            expected[(stage.info.name, name)] = op.count
        expected[(stage.info.name, "*")] = stage.total.count
    assert per_op == expected
    assert expected[("first", "list, all")] == 50 and expected[("second", "create")] == 20

    text = path.read_bytes()
    path.unlink()
    again = loadlens("report", str(run.run_dir), out=tmp_path / "out")
    assert again.code == 0, again.stderr
    assert path.read_bytes() == text

    # As after a crash: result.json gone, the result rebuilt from frames.jsonl.
    result_path = run.run_dir / "result.json"
    result_path.unlink()
    rebuilt = rebuild_from_frames(
        run.run_dir / "frames.jsonl", result.run, [stage.info for stage in result.stages]
    )
    recovered = tmp_path / "recovered"
    recovered.mkdir()
    write_reports(rebuilt, recovered)
    assert (recovered / "series.csv").read_bytes() == text
