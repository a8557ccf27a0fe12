"""`loadlens run FILE`: run a scenario's plan, stream results to disk, print the summary.

Exit codes: 0 the run finished; 1 it could not finish (a worker failed); 2 invalid input
(nothing was sent); 130 interrupted with Ctrl-C (the partial result is written, marked
incomplete).
"""

from __future__ import annotations

from pathlib import Path

import click

from loadlens.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, LoadlensError, UsageError


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
def run(
    file: str, out: Path, workers: int | None, target: str | None, quiet: bool, insecure: bool
) -> None:
    """Run a scenario's plan against its target."""
    from loadlens.cli.main import abort

    try:
        code = execute(file, out, workers, target, quiet, insecure)
    except LoadlensError as error:
        abort(error)
        return
    raise SystemExit(code)


def execute(
    file: str, out: Path, workers: int | None, target: str | None, quiet: bool, insecure: bool
) -> int:
    """Load, run and summarise; returns the exit code."""
    import sys

    from rich.console import Console

    from loadlens.cli.live import LiveView
    from loadlens.engine.compiled import compile_scenario
    from loadlens.engine.coordinator import Coordinator, RunOptions, default_workers
    from loadlens.http import ClientOptions
    from loadlens.report.console import summary
    from loadlens.spec import load_scenario

    if workers is not None and workers < 1:
        raise UsageError(f"--workers must be at least 1, not {workers}")
    scenario = load_scenario(file, target_override=target)
    compiled = compile_scenario(scenario)
    # Outside a terminal (CI logs, pipes) rich would wrap at 80 columns and split messages.
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 140)
    options = RunOptions(
        out=out,
        workers=workers or default_workers(),
        client=ClientOptions(verify_tls=not insecure),
        command=tuple(["loadlens", *sys.argv[1:]]),
    )
    listener = None if quiet else LiveView(console, len(scenario.plan))
    outcome = Coordinator(compiled, options, listener).run()
    console.print(summary(outcome.result))
    for failure in outcome.failures:
        console.print(f"[red]error:[/red] {failure}")
    console.print(f"result: {outcome.directory / 'result.json'}")
    if outcome.result.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FAILED if outcome.failures else EXIT_OK
