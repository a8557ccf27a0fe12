"""`loadlens compare` options that tune what counts as a change: --tolerance, --confidence,
--latency-floor, each seen flipping a verdict of the same two stored runs (synthetic results,
seeded bootstrap: the same answer every time); and --store, where run ids are looked up."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from loadlens.cli.compare import compare as compare_command
from tests.unit.store.synthetic import lognormal, make_result


def _runs(tmp_path: Path, median_a: float, median_b: float) -> list[str]:
    """Two stored runs of one operation, `read`, 2000 latencies each (the same shape, one
    median moved), and the arguments that name them."""
    from loadlens.metrics.result import write_result

    runs = tmp_path / "runs"
    for run_id, median in (("r-a", median_a), ("r-b", median_b)):
        (runs / run_id).mkdir(parents=True)
        result = make_result(run_id, {"read": (lognormal(median, 2000, 1), 0)})
        write_result(result, runs / run_id / "result.json")
    return ["r-a", "r-b", "--runs", str(runs), "--fail-on", "regression"]


def _regressions(args: list[str], *options: str) -> tuple[int, list[str]]:
    result = CliRunner().invoke(compare_command, [*args, *options])
    assert result.exit_code in (0, 1), result.output
    lines = [line for line in result.output.splitlines() if line.startswith("REGRESSION: ")]
    assert (result.exit_code == 1) == bool(lines), result.output
    return result.exit_code, lines


def test_tolerance_hides_a_significant_change_smaller_than_it(tmp_path: Path) -> None:
    args = _runs(tmp_path, 10.0, 11.0)  # +10 %, significant with 2000 samples
    code, lines = _regressions(args, "--latency-floor", "0")  # default tolerance 5 %
    assert code == 1 and "REGRESSION: p50 of read" in "\n".join(lines)
    assert _regressions(args, "--latency-floor", "0", "--tolerance", "0.5") == (0, [])


def test_latency_floor_hides_a_change_of_fewer_milliseconds(tmp_path: Path) -> None:
    args = _runs(tmp_path, 10.0, 11.0)  # p50 +1 ms, p99 +2 ms
    assert _regressions(args) == (0, [])  # the default floor, 5 ms, is above it
    code, lines = _regressions(args, "--latency-floor", "0.5")
    assert code == 1 and "REGRESSION: p50 of read" in "\n".join(lines)


def test_confidence_decides_whether_a_small_shift_is_significant(tmp_path: Path) -> None:
    args = [*_runs(tmp_path, 10.0, 10.3), "--tolerance", "0", "--latency-floor", "0"]
    code, lines = _regressions(args, "--confidence", "0.8")
    assert code == 1 and "REGRESSION: p50 of read" in "\n".join(lines)
    assert _regressions(args, "--confidence", "0.9999") == (0, [])


def test_store_finds_runs_by_id_where_runs_does_not(tmp_path: Path) -> None:
    from loadlens.cli.history import history

    _runs(tmp_path, 10.0, 10.0)  # r-a and r-b in tmp_path/runs
    store = f"sqlite:///{tmp_path / 'h.db'}"
    imported = CliRunner().invoke(history, ["import", str(tmp_path / "runs"), "--store", store])
    assert imported.exit_code == 0, imported.output
    elsewhere = ["r-a", "r-b", "--runs", str(tmp_path / "empty"), "--out", str(tmp_path / "out")]
    lost = CliRunner().invoke(compare_command, elsewhere)
    assert lost.exit_code == 2 and "'r-a' is not a run directory" in lost.output, lost.output
    found = CliRunner().invoke(compare_command, [*elsewhere, "--store", store])
    assert found.exit_code == 0, found.output
    assert "no significant change beyond the tolerance" in found.output
    assert (tmp_path / "out" / "compare.md").is_file()
