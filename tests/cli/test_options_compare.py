"""`loadlens compare` options that tune what counts as a change: --tolerance, --confidence,
--latency-floor, each seen flipping a verdict of the same two stored runs (synthetic results,
seeded bootstrap: the same answer every time)."""

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
