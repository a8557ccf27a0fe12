"""`loadlens history`: list, import, and change points, with exact output."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from loadlens.cli.history import history
from loadlens.metrics.result import write_result
from loadlens.model.verdict import Verdict, VerdictKind
from tests.unit.store.synthetic import lognormal, make_result

T0 = 1_763_600_000.0  # 2025-11-20 00:53:20 UTC


@pytest.fixture(autouse=True)
def _no_env_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOADLENS_STORE", raising=False)


def _write_runs(runs: Path, medians: list[float]) -> list[str]:
    ids = []
    for i, median in enumerate(medians):
        run_id = f"2025112{i // 10}-{i % 10:02d}-shop"
        result = make_result(
            run_id, {"read": (lognormal(median, 1000, i), 0)}, started_at=T0 + 60 * i
        )
        if i == 0:
            result.verdict = Verdict(VerdictKind.GO, ())
        (runs / run_id).mkdir(parents=True)
        write_result(result, runs / run_id / "result.json")
        ids.append(run_id)
    return ids


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(history, list(args))
    return result.exit_code, result.output


def test_history_with_no_runs(tmp_path: Path) -> None:
    assert _invoke("--runs", str(tmp_path)) == (0, "no runs stored\n")


def test_import_then_list_newest_first(tmp_path: Path) -> None:
    runs = tmp_path / "loadlens-runs"
    ids = _write_runs(runs, [10.0, 10.0])
    code, output = _invoke("import", str(runs), "--runs", str(runs))
    assert code == 0, output
    assert output == (
        f"imported {ids[0]}\nimported {ids[1]}\n"
        f"2 runs imported into sqlite:///{(runs / 'history.db').absolute()}\n"
    )
    code, output = _invoke("--runs", str(runs))
    assert code == 0, output
    lines = [line.rstrip() for line in output.splitlines()]
    assert lines[0].split() == [
        "run", "started", "(UTC)", "scenario", "requests", "rps", "errors", "p95", "verdict",
    ]  # fmt: skip
    assert lines[1].split()[:5] == [ids[1], "2025-11-20", "00:54:20", "shop", "1000"]
    assert lines[1].split()[5:8] == ["100.0", "0.00", "%"]
    assert lines[1].endswith("-")
    assert lines[2].startswith(ids[0]) and lines[2].endswith("GO")
    assert len(lines) == 3


def test_import_of_the_same_runs_twice_is_idempotent(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    ids = _write_runs(runs, [10.0])
    store = f"sqlite:///{tmp_path / 'h.db'}"
    for _ in range(2):
        assert _invoke("import", str(runs / ids[0]), "--store", store)[0] == 0
    code, output = _invoke("--store", store, "--scenario", "shop")
    assert code == 0
    assert len(output.splitlines()) == 2


def test_import_reports_what_it_skips(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(
        history, ["import", str(tmp_path / "empty"), "--store", f"sqlite:///{tmp_path / 'h.db'}"]
    )
    assert result.exit_code == 0
    assert f"skipped {tmp_path / 'empty'}: no result.json here or in its sub-directories" in (
        result.output
    )
    assert result.output.endswith(f"0 runs imported into sqlite:///{tmp_path / 'h.db'}\n")


def test_an_unreachable_store_is_one_error(tmp_path: Path) -> None:
    code, output = _invoke("--store", "postgresql+psycopg://u:pw@127.0.0.1:1/x")
    assert code == 1
    assert output.startswith(
        "error: cannot create the history tables in the run history at "
        "postgresql+psycopg://u:***@127.0.0.1:1/x: "
    )
    assert "hint: the run directories keep every result" in output


def test_changes_are_told_as_sentences(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    ids = _write_runs(runs, [10.0] * 10 + [14.0] * 6)
    assert _invoke("import", str(runs), "--runs", str(runs))[0] == 0
    code, output = _invoke("--changes", "--scenario", "shop", "--runs", str(runs))
    assert code == 0, output
    lines = output.splitlines()
    p95 = [line for line in lines if line.startswith("[shop] p95 of `read`")]
    assert len(p95) == 1
    assert p95[0].startswith("[shop] p95 of `read` stepped up 4")
    assert f"% at run {ids[10]}, and stayed (" in p95[0]
    assert all(f"at run {ids[10]}" in line for line in lines)


def test_no_changes_in_a_flat_history(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _write_runs(runs, [10.0] * 8)
    assert _invoke("import", str(runs), "--runs", str(runs))[0] == 0
    assert _invoke("--changes", "--runs", str(runs)) == (0, "no change points\n")


def test_runs_as_json_carry_every_field_uncut(tmp_path: Path) -> None:
    import json

    runs = tmp_path / "runs"
    ids = _write_runs(runs, [10.0, 10.0])
    assert _invoke("import", str(runs), "--runs", str(runs))[0] == 0
    code, output = _invoke("--format", "json", "--runs", str(runs))
    assert code == 0, output
    records = json.loads(output)
    assert [r["run_id"] for r in records] == [ids[1], ids[0]]
    assert records[1] == {
        "run_id": ids[0],
        "started_at": "2025-11-20T00:53:20Z",
        "ended_at": records[1]["ended_at"],
        "scenario": "shop",
        "requests": 1000,
        "rps": 100.0,
        "error_rate": 0.0,
        "p95_ms": records[1]["p95_ms"],
        "verdict": "GO",
        "complete": True,
        "interrupted": False,
        "run_dir": str((runs / ids[0]).absolute()),
    }
    assert records[0]["verdict"] is None  # never judged
    assert 9.0 < records[1]["p95_ms"] < 30.0


def test_runs_as_csv_have_a_header_and_one_row_per_run(tmp_path: Path) -> None:
    import csv
    import io

    runs = tmp_path / "runs"
    ids = _write_runs(runs, [10.0, 10.0])
    assert _invoke("import", str(runs), "--runs", str(runs))[0] == 0
    code, output = _invoke("--format", "csv", "--runs", str(runs), "--limit", "1")
    assert code == 0, output
    lines = output.splitlines()
    assert lines[0] == (
        "run_id,started_at,ended_at,scenario,requests,rps,error_rate,p95_ms,verdict,"
        "complete,interrupted,run_dir"
    )
    (row,) = csv.DictReader(io.StringIO(output))
    assert (row["run_id"], row["started_at"], row["verdict"], row["complete"]) == (
        ids[1],
        "2025-11-20T00:54:20Z",
        "",
        "true",
    )


def test_an_empty_history_in_machine_formats(tmp_path: Path) -> None:
    assert _invoke("--format", "json", "--runs", str(tmp_path)) == (0, "[]\n")
    code, output = _invoke("--format", "csv", "--runs", str(tmp_path))
    assert (code, output.count("\n")) == (0, 1)


def test_changes_have_no_machine_format(tmp_path: Path) -> None:
    assert _invoke("--changes", "--format", "csv", "--runs", str(tmp_path)) == (
        2,
        "error: --format csv lists runs; --changes prints sentences\n",
    )
