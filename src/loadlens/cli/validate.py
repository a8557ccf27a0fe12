"""`loadlens validate FILE`: load a scenario and list every problem, or summarise it.

It checks what `run` checks before sending anything, by the same functions: the options
(`--out`, `--workers`, `--target`, `--var`), the scenario, the machine's limits and the
databases' URLs and drivers. Only what needs the network (`run`'s preflight) is left out.
"""

from __future__ import annotations

import gc
from pathlib import Path

import click

from loadlens.errors import LoadlensError


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
@click.option("--target", metavar="URL", help="Target URL, overriding the scenario's `target`.")
@click.option(
    "--out",
    "out",
    default=None,
    type=click.Path(file_okay=False, path_type=Path),
    help="Check that `run --out` could write its runs there.",
)
@click.option("--workers", type=int, default=None, help="Worker processes, as `run` takes them.")
@click.option(
    "--var",
    "assignments",
    multiple=True,
    metavar="NAME=VALUE",
    help="Define `{{ NAME }}` as `run` does (invariants' database URLs are then checked).",
)
def validate(
    file: str,
    target: str | None,
    out: Path | None,
    workers: int | None,
    assignments: tuple[str, ...],
) -> None:
    """Check a scenario and list every problem."""
    from loadlens.cli.main import abort
    from loadlens.cli.options import check_offline, check_out_dir
    from loadlens.cli.run import check_workers
    from loadlens.spec import load_scenario
    from loadlens.spec.overrides import parse_overrides
    from loadlens.spec.summary import count_operations

    try:
        overrides = parse_overrides(variables=assignments)
        check_workers(workers)
        if out is not None:
            check_out_dir(out)
        scenario = load_scenario(file, target_override=target, overrides=overrides)
        # The scenario lives until the process exits: keep the collector from walking its
        # (for 300,000 flows, millions of) objects again at every later collection.
        gc.freeze()
        check_offline(scenario, workers, dict(overrides.variables))
    except LoadlensError as error:
        abort(error)
        return
    flows, stages = len(scenario.flows), len(scenario.plan)
    operations = count_operations(scenario)
    click.echo(
        f"ok: {scenario.name} — {_plural(flows, 'flow')}, {_plural(stages, 'stage')}, "
        f"{_plural(operations, 'operation')}"
    )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
