"""`loadlens validate FILE`: load a scenario and list every problem, or summarise it."""

from __future__ import annotations

import click

from loadlens.errors import LoadlensError


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
@click.option("--target", metavar="URL", help="Target URL, overriding the scenario's `target`.")
def validate(file: str, target: str | None) -> None:
    """Check a scenario and list every problem."""
    from loadlens.cli.main import abort
    from loadlens.spec import load_scenario
    from loadlens.spec.summary import count_operations

    try:
        scenario = load_scenario(file, target_override=target)
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
