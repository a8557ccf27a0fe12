"""`loadlens history`: list stored runs, import run directories, find change points."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from loadlens.errors import LoadlensError, UsageError

if TYPE_CHECKING:
    from loadlens.store import RunSummary
    from loadlens.store.changes import HistoryChange

_STORE_HELP = "Store URL (SQLAlchemy), overriding $LOADLENS_STORE; default RUNS/history.db."
_RUNS_HELP = "Directory of the run directories (where the default store lives)."

store_option = click.option("--store", "store_url", metavar="URL", help=_STORE_HELP)
runs_option = click.option(
    "--runs",
    "runs_dir",
    default="loadlens-runs",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help=_RUNS_HELP,
)


@click.group(invoke_without_command=True)
@click.option("--scenario", metavar="NAME", help="Only the runs of this scenario.")
@click.option("--limit", default=50, show_default=True, help="How many runs to list.")
@click.option("--changes", is_flag=True, help="Find change points across the stored runs.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="How runs are listed: a table for people; JSON or CSV (every field, never cut) for "
    "scripts.",
)
@store_option
@runs_option
@click.pass_context
def history(
    ctx: click.Context,
    scenario: str | None,
    limit: int,
    changes: bool,
    output_format: str,
    store_url: str | None,
    runs_dir: Path,
) -> None:
    """List stored runs, newest first (or, with --changes, where their metrics stepped)."""
    if ctx.invoked_subcommand is not None:
        return
    from loadlens.cli.main import abort
    from loadlens.store import open_store

    try:
        if changes and output_format != "table":
            raise UsageError(f"--format {output_format} lists runs; --changes prints sentences")
        with open_store(store_url, runs_dir) as store:
            if changes:
                from loadlens.store.changes import history_changes

                lines = [describe_change(c) for c in history_changes(store, scenario)]
                click.echo("\n".join(lines) if lines else "no change points")
            elif output_format == "table":
                print_runs(store.runs(scenario, limit))
            else:
                print_records(store.runs(scenario, limit), output_format)
    except LoadlensError as error:
        abort(error)


@history.command("import")
@click.argument(
    "dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@store_option
@runs_option
def import_command(dirs: tuple[Path, ...], store_url: str | None, runs_dir: Path) -> None:
    """Record run directories (each DIR a run directory or a parent of many) in the store."""
    from loadlens.cli.main import abort
    from loadlens.store import open_store
    from loadlens.store.importer import import_runs

    try:
        with open_store(store_url, runs_dir) as store:
            report = import_runs(store, dirs)
            url = store.url
    except LoadlensError as error:
        abort(error)
        return
    for run_id, _ in report.imported:
        click.echo(f"imported {run_id}")
    for path, why in report.failed:
        click.echo(f"skipped {path}: {why}", err=True)
    count = len(report.imported)
    click.echo(f"{count} run{'' if count == 1 else 's'} imported into {url}")


def print_records(runs: list[RunSummary], output_format: str) -> None:
    """The runs as JSON or CSV on stdout (`loadlens.cli.history_formats`)."""
    import sys

    from loadlens.cli.history_formats import write_runs

    write_runs(runs, output_format, sys.stdout)


def print_runs(runs: list[RunSummary]) -> None:
    """The runs as a table (rich), or a line saying there are none."""
    if not runs:
        click.echo("no runs stored")
        return
    from rich.table import Table

    from loadlens.cli.run import console_for_output

    table = Table(box=None, pad_edge=False)
    for header in (
        "run",
        "started (UTC)",
        "scenario",
        "requests",
        "rps",
        "errors",
        "p95",
        "verdict",
    ):
        numeric = header in ("requests", "rps", "errors", "p95")
        table.add_column(header, justify="right" if numeric else "left", no_wrap=True)
    for run in runs:
        table.add_row(
            run.run_id,
            time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(run.started_at)),
            run.scenario,
            str(run.requests),
            f"{run.rps:.1f}",
            f"{run.error_rate * 100:.2f} %",
            f"{run.p95:.1f} ms",
            _verdict_label(run),
        )
    console_for_output().print(table)


def _verdict_label(run: RunSummary) -> str:
    if run.interrupted:
        suffix = " (interrupted)"
    elif not run.complete:
        suffix = " (incomplete)"
    else:
        suffix = ""
    label = run.verdict.upper().replace("_", "-") if run.verdict else "-"
    return label + suffix


_METRIC_NAMES = {"error_rate": "error rate", "rps": "throughput"}


def describe_change(change: HistoryChange) -> str:
    """One sentence: `p95 of `read` stepped up 38 % at run ID, and stayed (p = 1e-09).`"""
    from loadlens.store.schema import ALL_OPERATIONS

    point = change.point
    metric = _METRIC_NAMES.get(change.metric, change.metric)
    what = "all operations" if change.operation == ALL_OPERATIONS else f"`{change.operation}`"
    direction = "up" if point.mean_after > point.mean_before else "down"
    relative = point.relative_change
    size = "from 0" if math.isinf(relative) else f"{abs(relative) * 100:.0f} %"
    means = (
        f"{_value(change.metric, point.mean_before)} → {_value(change.metric, point.mean_after)}"
    )
    then = "and stayed" if change.until_run_id is None else f"until run {change.until_run_id}"
    return (
        f"[{change.scenario}] {metric} of {what} stepped {direction} {size} at run "
        f"{change.run_id}, {then} ({means}, p = {point.pvalue:.2g})"
    )


def _value(metric: str, value: float) -> str:
    if metric == "error_rate":
        return f"{value * 100:.2f} %"
    if metric == "rps":
        return f"{value:.1f}/s"
    return f"{value:.1f} ms"
