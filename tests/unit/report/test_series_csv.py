"""series.csv: one row per (stage, second, operation) plus a total row, parsed back exactly."""

from __future__ import annotations

import csv
import io

from report_samples import build, failing_result, hostile_result

from loadlens.metrics.result import StageInfo
from loadlens.report.series_csv import COLUMNS, render_series_csv


def _rows(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text))
    assert tuple(reader.fieldnames or ()) == COLUMNS
    return list(reader)


def test_each_operations_rows_sum_to_its_count_in_the_result() -> None:
    result = failing_result()
    rows = _rows(render_series_csv(result))
    sums: dict[str, int] = {}
    for row in rows:
        if row["scope"] == "operation":
            sums[row["operation"]] = sums.get(row["operation"], 0) + int(row["count"])
    assert sums == {name: op.count for name, op in result.operations.items()}
    assert sum(int(r["count"]) for r in rows if r["scope"] == "total") == result.total.count


def test_every_second_has_one_total_row_with_its_stage_name_and_time() -> None:
    result = failing_result()
    rows = [r for r in _rows(render_series_csv(result)) if r["scope"] == "total"]
    assert len(rows) == len(result.series)
    names = {stage.info.index: stage.info.name for stage in result.stages}
    for row, point in zip(rows, result.series, strict=True):
        assert row["operation"] == "all"
        assert (int(row["stage_index"]), int(row["second"])) == (point.stage, point.second)
        assert row["stage"] == names[point.stage]
        assert float(row["time"]) == round(point.time, 3)
        assert row["time_utc"].endswith("Z")
        assert float(row["p99_ms"]) == round(point.total.p99, 3)


def test_names_with_commas_quotes_and_markup_survive_a_round_trip() -> None:
    result = hostile_result()
    rows = _rows(render_series_csv(result))
    assert {r["operation"] for r in rows if r["scope"] == "operation"} == set(result.operations)
    assert {r["stage"] for r in rows} == {"<i>stage</i>"}
    awkward = 'get "a, b"\nnext'
    result = build(
        {awkward: (2.0, 1.0, 3, {}), "all": (2.0, 1.0, 2, {})},
        stages=[StageInfo("s, 1", 0, {"model": "closed", "users": 1}, 1.0, 0.0)],
        seconds={0: 1},
    )
    rows = _rows(render_series_csv(result))
    assert [(r["scope"], r["operation"], r["count"]) for r in rows] == [
        ("operation", "all", "4"),
        ("operation", awkward, "6"),
        ("total", "all", "10"),
    ]
    assert {r["stage"] for r in rows} == {"s, 1"}


def test_the_same_result_gives_the_same_bytes() -> None:
    assert render_series_csv(failing_result()) == render_series_csv(failing_result())
