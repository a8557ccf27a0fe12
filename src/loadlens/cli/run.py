"""`loadlens run FILE`: run a scenario's plan, stream results to disk, judge it, report it.

Exit codes follow the verdict: 0 GO, 1 NO-GO, 3 INCONCLUSIVE; 2 invalid input (nothing was
sent); 130 interrupted with Ctrl-C (the partial result is written, marked incomplete, and its
verdict is INCONCLUSIVE).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from loadlens.errors import (
    EXIT_FAILED,
    EXIT_INCONCLUSIVE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    LoadlensError,
    UsageError,
)

if TYPE_CHECKING:
    from rich.console import Console

    from loadlens.metrics.result import RunResult
    from loadlens.model.scenario import Scenario


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
@click.option(
    "--out",
    "out",
    default="loadlens-runs",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory that receives one sub-directory per run.",
)
@click.option("--workers", type=int, default=None, help="Worker processes (default: one per core).")
@click.option("--target", metavar="URL", help="Target URL, overriding the scenario's `target`.")
@click.option("--quiet", is_flag=True, help="No live view; print only the summary (for CI).")
@click.option("--insecure", is_flag=True, help="Do not verify TLS certificates.")
@click.option(
    "--continue-on-fail", is_flag=True, help="Run every stage even when one fails its gates."
)
@click.option(
    "--store",
    metavar="URL",
    envvar="LOADLENS_STORE",
    help="Run history database (default: history.db in --out; env LOADLENS_STORE).",
)
@click.option(
    "--var",
    "assignments",
    multiple=True,
    metavar="NAME=VALUE",
    help="Fill `{{ NAME }}` in invariants and reconciliation (e.g. db=sqlite:///app.db).",
)
@click.option(
    "--no-preflight",
    "no_preflight",
    is_flag=True,
    help="Skip connecting to the target, databases and observers before the load.",
)
def run(
    file: str,
    out: Path,
    workers: int | None,
    target: str | None,
    quiet: bool,
    insecure: bool,
    continue_on_fail: bool,
    store: str | None,
    assignments: tuple[str, ...],
    no_preflight: bool,
) -> None:
    """Run a scenario's plan against its target."""
    from loadlens.cli.main import abort

    try:
        variables = parse_assignments(assignments)
        code = execute(
            file,
            out,
            workers,
            target,
            quiet,
            insecure,
            continue_on_fail,
            store,
            variables,
            preflight=not no_preflight,
        )
    except LoadlensError as error:
        abort(error)
        return
    raise SystemExit(code)


def execute(
    file: str,
    out: Path,
    workers: int | None,
    target: str | None,
    quiet: bool,
    insecure: bool,
    continue_on_fail: bool = False,
    store: str | None = None,
    variables: dict[str, str] | None = None,
    *,
    preflight: bool = True,
) -> int:
    """Load, run and summarise; returns the exit code."""
    from loadlens.cli.options import check_offline, check_out_dir
    from loadlens.engine.preflight import reach
    from loadlens.spec import load_scenario

    check_workers(workers)
    check_out_dir(out)
    scenario = load_scenario(file, target_override=target)
    check_offline(scenario, workers, variables)
    if preflight:
        reach(scenario, variables)
    return run_and_summarise(
        scenario,
        out,
        workers,
        quiet,
        insecure,
        console_for_output(),
        continue_on_fail=continue_on_fail,
        store=store,
        variables=variables,
    )


def parse_assignments(assignments: tuple[str, ...]) -> dict[str, str]:
    """`NAME=VALUE` pairs of `--var`."""
    variables: dict[str, str] = {}
    for assignment in assignments:
        name, equals, value = assignment.partition("=")
        if not equals or not name.strip():
            raise UsageError(f"--var takes NAME=VALUE, not `{assignment}`")
        variables[name.strip()] = value
    return variables


def check_workers(workers: int | None) -> None:
    """Refuse a worker count below one before anything starts."""
    if workers is not None and workers < 1:
        raise UsageError(f"--workers must be at least 1, not {workers}")


def console_for_output() -> Console:
    """The console summaries are printed on."""
    import sys

    from rich.console import Console

    # Outside a terminal (CI logs, pipes) rich would wrap at 80 columns and split messages.
    return Console(highlight=False, width=None if sys.stdout.isatty() else 140)


def run_and_summarise(
    scenario: Scenario,
    out: Path,
    workers: int | None,
    quiet: bool,
    insecure: bool,
    console: Console,
    *,
    continue_on_fail: bool = False,
    store: str | None = None,
    variables: dict[str, str] | None = None,
) -> int:
    """Run a loaded scenario's plan, judge it, print the summary, write the reports, record the
    run in the history store; the exit code. Shared by `loadlens run` and `loadlens demo`.

    `variables` fill `{{ NAME }}` placeholders of invariants and reconciliation (e.g. the
    demo's database path).
    """
    import sys

    from loadlens.cli.judging import attach_judge
    from loadlens.cli.live import LiveView
    from loadlens.engine.compiled import compile_scenario
    from loadlens.engine.coordinator import Coordinator, RunOptions, default_workers
    from loadlens.http import ClientOptions
    from loadlens.report.console import summary

    compiled = compile_scenario(scenario)
    options = RunOptions(
        out=out,
        workers=workers or default_workers(),
        client=ClientOptions(verify_tls=not insecure),
        command=tuple(["loadlens", *sys.argv[1:]]),
        continue_on_fail=continue_on_fail,
        variables=dict(variables or {}),
    )
    listener = None if quiet else LiveView(console, len(scenario.plan))
    coordinator = Coordinator(compiled, options, listener)
    attach_judge(coordinator)
    outcome = coordinator.run()
    console.print(summary(outcome.result))
    for note in outcome.notes:
        console.print(f"[yellow]note:[/yellow] {note}")
    for failure in outcome.failures:
        console.print(f"[red]error:[/red] {failure}")
    console.print(f"result: {outcome.directory / 'result.json'}", soft_wrap=True)
    _write_reports(outcome.result, outcome.directory, console)
    _record(outcome.result, outcome.directory, store, console)
    return exit_code(outcome.result)


def exit_code(result: RunResult) -> int:
    """0 GO, 1 NO-GO, 3 INCONCLUSIVE, 130 interrupted."""
    from loadlens.model.verdict import VerdictKind

    if result.interrupted:
        return EXIT_INTERRUPTED
    kind = result.verdict.kind if result.verdict is not None else VerdictKind.INCONCLUSIVE
    return {VerdictKind.GO: EXIT_OK, VerdictKind.NO_GO: EXIT_FAILED}.get(kind, EXIT_INCONCLUSIVE)


def _write_reports(result: RunResult, directory: Path, console: Console) -> None:
    from loadlens.report.write import write_reports

    try:
        paths = write_reports(result, directory)
    except OSError as error:  # the result is on disk; a report can be written again later
        console.print(f"[yellow]warning:[/yellow] reports not written: {error}")
        return
    for path in paths:
        console.print(f"report: {path}", soft_wrap=True)


def _record(result: RunResult, directory: Path, store: str | None, console: Console) -> None:
    from loadlens.store import record_run

    recorded = record_run(result, directory, url=store)
    if not recorded.stored and recorded.error is not None:
        console.print(
            f"[yellow]warning:[/yellow] run not recorded in the history: "
            f"{recorded.error.message}; import it later with `loadlens history import "
            f"{directory}`"
        )
