"""`loadlens history --format json|csv`: the stored runs for scripts, every field, never cut.

Both formats carry the same fields, named as in JSON; times are ISO 8601 in UTC, rates are
fractions (0.012, not 1.2 %), latencies milliseconds; the verdict is GO, NO-GO or INCONCLUSIVE
(null, or an empty cell, for a run never judged).
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from loadlens.store import RunSummary

FIELDS = (
    "run_id",
    "started_at",
    "ended_at",
    "scenario",
    "requests",
    "rps",
    "error_rate",
    "p95_ms",
    "verdict",
    "complete",
    "interrupted",
    "run_dir",
)


def run_record(run: RunSummary) -> dict[str, object]:
    """One run as a flat record of FIELDS."""
    return {
        "run_id": run.run_id,
        "started_at": _iso(run.started_at),
        "ended_at": None if run.ended_at is None else _iso(run.ended_at),
        "scenario": run.scenario,
        "requests": run.requests,
        "rps": run.rps,
        "error_rate": run.error_rate,
        "p95_ms": run.p95,
        "verdict": run.verdict.upper().replace("_", "-") if run.verdict else None,
        "complete": run.complete,
        "interrupted": run.interrupted,
        "run_dir": run.run_dir,
    }


def write_runs(runs: list[RunSummary], output_format: str, stream: TextIO) -> None:
    """The runs as a JSON array or as CSV with a header row (an empty list: `[]`, a header)."""
    records = [run_record(run) for run in runs]
    if output_format == "json":
        stream.write(json.dumps(records, indent=2) + "\n")
        return
    writer = csv.DictWriter(stream, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    for record in records:
        # CSV has no null: an absent value is an empty cell, booleans are `true`/`false`.
        writer.writerow({k: _csv_cell(v) for k, v in record.items()})


def _csv_cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _iso(epoch: float) -> str:
    return (
        datetime.fromtimestamp(epoch, tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )
