"""series.csv: the run's per-second numbers, one row per (stage, second, operation), for a
spreadsheet, pandas or Grafana's CSV source.

Each second of each stage gives one row per operation that had requests in it, then one row
named `all` for every operation together (its `scope` is `total`, so an operation that happens
to be called "all" is still told apart). The numbers are the RunResult's `series`, merged
across workers, so the rows of one operation summed over a run equal its count in
result.json. Written with the csv module: operation and stage names may hold commas, quotes
or newlines.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from loadlens.metrics.result import RunResult, SeriesOp

COLUMNS = (
    "stage_index",
    "stage",
    "second",
    "time",
    "time_utc",
    "scope",
    "operation",
    "count",
    "ok",
    "errors",
    "samples",
    "p50_ms",
    "p95_ms",
    "p99_ms",
)
TOTAL = "all"  # the operation name of a second's total row


def render_series_csv(result: RunResult) -> str:
    """The CSV text (header first, `\\n` line ends); the same result gives the same bytes."""
    names = {stage.info.index: stage.info.name for stage in result.stages}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for point in result.series:
        lead = (
            point.stage,
            names.get(point.stage, ""),
            point.second,
            f"{point.time:.3f}",
            datetime.fromtimestamp(point.time, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        )
        # By name: the order frames brought them in, or result.json kept, is no order at all.
        for name in sorted(point.ops):
            writer.writerow((*lead, "operation", name, *_numbers(point.ops[name])))
        writer.writerow((*lead, "total", TOTAL, *_numbers(point.total)))
    return buffer.getvalue()


def _numbers(op: SeriesOp) -> tuple[int | str, ...]:
    return (
        op.count,
        op.ok,
        op.errors,
        op.samples,
        f"{op.p50:.3f}",
        f"{op.p95:.3f}",
        f"{op.p99:.3f}",
    )
