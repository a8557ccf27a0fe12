"""`loadlens compare A B`: run B against baseline A, in the terminal and as compare.md/.html.

A and B are each a run directory, a result.json, or a run id found in the store (or under
--runs). The exit code is 0 whatever the comparison finds, unless `--fail-on regression` asks
for 1 when any metric regressed significantly; 2 when a run cannot be read. A run that was not
a clean measurement (INCONCLUSIVE, interrupted or incomplete) gets a warning first: differences
to it may be noise.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from loadlens.cli.history import runs_option, store_option
from loadlens.errors import EXIT_FAILED, LoadlensError, UsageError

if TYPE_CHECKING:
    from loadlens.analysis.compare import Comparison
    from loadlens.metrics.result import RunResult


@click.command()
@click.argument("baseline")
@click.argument("candidate")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for compare.md and compare.html (default: the candidate's run directory).",
)
@click.option(
    "--tolerance",
    default=0.05,
    show_default=True,
    help="Relative change below which a significant change is still 'unchanged'.",
)
@click.option("--confidence", default=0.95, show_default=True, help="Confidence of the tests.")
@click.option(
    "--latency-floor",
    "latency_floor_ms",
    default=5.0,
    show_default=True,
    help="Latency change in ms below which a significant change is still 'unchanged'.",
)
@click.option(
    "--fail-on",
    "fail_on",
    type=click.Choice(["regression"]),
    default=None,
    help="Exit 1 when any metric of any operation is a significant regression (for CI).",
)
@store_option
@runs_option
def compare(
    baseline: str,
    candidate: str,
    out: Path | None,
    tolerance: float,
    confidence: float,
    latency_floor_ms: float,
    fail_on: str | None,
    store_url: str | None,
    runs_dir: Path,
) -> None:
    """Compare run CANDIDATE against run BASELINE."""
    from loadlens.cli.main import abort

    try:
        comparison = execute(
            baseline, candidate, out, tolerance, confidence, store_url, runs_dir, latency_floor_ms
        )
    except LoadlensError as error:
        abort(error)
        return
    regressions = count_regressions(comparison)
    if fail_on == "regression" and regressions:
        click.echo(
            f"failing (--fail-on regression): {regressions} significant "
            f"regression{'' if regressions == 1 else 's'}"
        )
        raise SystemExit(EXIT_FAILED)


def execute(
    baseline: str,
    candidate: str,
    out: Path | None,
    tolerance: float,
    confidence: float,
    store_url: str | None,
    runs_dir: Path,
    latency_floor_ms: float = 5.0,
) -> Comparison:
    """Read both runs, compare them, print the table and write the reports."""
    from loadlens.analysis.compare import compare as compare_runs
    from loadlens.metrics.result import read_result
    from loadlens.report.compare_html import render_html
    from loadlens.report.compare_md import render_markdown

    if not 0.0 < confidence < 1.0:
        raise UsageError(f"--confidence must lie between 0 and 1, not {confidence}")
    if tolerance < 0.0:
        raise UsageError(f"--tolerance must not be negative, not {tolerance}")
    path_a = locate(baseline, store_url, runs_dir)
    path_b = locate(candidate, store_url, runs_dir)
    a, b = read_result(path_a), read_result(path_b)
    if latency_floor_ms < 0.0:
        raise UsageError(f"--latency-floor must not be negative, not {latency_floor_ms}")
    comparison = compare_runs(
        a, b, tolerance=tolerance, confidence=confidence, latency_floor_ms=latency_floor_ms
    )
    for line in noise_warnings(a, b):
        click.echo(f"warning: {line}")
    print_comparison(comparison, a, b)
    target = out if out is not None else path_b.parent
    target.mkdir(parents=True, exist_ok=True)
    (target / "compare.md").write_text(render_markdown(comparison), encoding="utf-8")
    (target / "compare.html").write_text(render_html(comparison), encoding="utf-8")
    click.echo(f"wrote {target / 'compare.md'} and {target / 'compare.html'}")
    return comparison


def count_regressions(comparison: Comparison) -> int:
    """Metrics, over every operation, that regressed significantly (beyond the tolerance)."""
    from loadlens.analysis.compare import Change

    return sum(m.change is Change.REGRESSION for op in comparison.operations for m in op.metrics)


def noise_warnings(a: RunResult, b: RunResult) -> list[str]:
    """One line per run that was not a clean measurement: its differences may be noise."""
    from loadlens.model.verdict import VerdictKind

    lines = []
    for label, result in (("A (baseline)", a), ("B (candidate)", b)):
        if result.interrupted:
            state = "was interrupted"
        elif not result.complete:
            state = "is incomplete"
        elif result.verdict is not None and result.verdict.kind is VerdictKind.INCONCLUSIVE:
            state = "was INCONCLUSIVE"
        else:
            continue
        lines.append(
            f"run {label} {result.run.run_id} {state}: the changes below may be noise, "
            "not a change of the service"
        )
    return lines


def locate(run: str, store_url: str | None, runs_dir: Path) -> Path:
    """The result.json of a run named by directory, file or id."""
    path = Path(run)
    if path.is_dir():
        return path / "result.json"
    if path.is_file():
        return path
    if (runs_dir / run / "result.json").is_file():
        return runs_dir / run / "result.json"
    from loadlens.store import StoreError, open_store

    try:
        with open_store(store_url, runs_dir) as store:
            stored = store.run_dir(run)
    except StoreError as error:
        raise UsageError(
            f"{run!r} is not a run directory or result file, and the store cannot be read: "
            f"{error.message}"
        ) from None
    if stored is None:
        raise UsageError(
            f"{run!r} is not a run directory, a result file or a stored run id",
            hint="`loadlens history` lists stored runs",
        )
    return stored / "result.json"


def print_comparison(comparison: Comparison, a: RunResult, b: RunResult) -> None:
    """The comparison as a terminal table, regressions in red."""
    from rich.table import Table

    from loadlens.analysis.compare import Change
    from loadlens.cli.run import console_for_output
    from loadlens.report.compare_md import (
        HEADERS,
        findings,
        format_change,
        format_evidence,
        format_value,
        operation_label,
    )

    console = console_for_output()
    console.print(f"A (baseline):  {a.run.run_id}  {a.run.scenario}")
    console.print(f"B (candidate): {b.run.run_id}  {b.run.scenario}")
    table = Table(box=None, pad_edge=False)
    for header in ("operation", "metric", "A", "B", "change", "evidence", "verdict"):
        if header in ("A", "B", "change"):
            table.add_column(header, justify="right", no_wrap=True)
        else:
            table.add_column(header, no_wrap=True)
    styles = {Change.REGRESSION: "bold red", Change.IMPROVEMENT: "bold green"}
    for op in comparison.operations:
        for i, m in enumerate(op.metrics):
            style = styles.get(m.change, "")
            verdict = f"[{style}]{m.change.value}[/{style}]" if style else m.change.value
            table.add_row(
                operation_label(op.operation) if i == 0 else "",
                HEADERS[m.metric],
                format_value(m.metric, m.a),
                format_value(m.metric, m.b),
                format_change(m),
                format_evidence(m),
                verdict,
            )
    console.print(table)
    for line in findings(comparison) or ["no significant change beyond the tolerance"]:
        console.print(line, markup=False)
