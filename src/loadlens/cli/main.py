"""The `loadlens` command group. Subcommands live one per module and are imported lazily,
so `loadlens --help` does not pay for the engine, numpy or the demo service."""

from __future__ import annotations

import importlib
import sys

import click

from loadlens import __version__
from loadlens.errors import LoadlensError, SpecError

# command name -> (module, attribute, one-line help)
_COMMANDS: dict[str, tuple[str, str, str]] = {
    "run": ("loadlens.cli.run", "run", "Run a scenario's plan against its target."),
    "validate": ("loadlens.cli.validate", "validate", "Check a scenario and list every problem."),
    "demo": ("loadlens.cli.demo", "demo", "Run the bundled demo service and a plan against it."),
    "analyze": (
        "loadlens.cli.analyze",
        "analyze",
        "Explain a stored run: findings with evidence, then the verdict.",
    ),
    "report": ("loadlens.cli.report", "report", "Write a run's reports again from its result."),
    "history": ("loadlens.cli.history", "history", "List stored runs and their change points."),
    "compare": ("loadlens.cli.compare", "compare", "Compare two runs, operation by operation."),
    "capacity": (
        "loadlens.cli.capacity",
        "capacity",
        "Find the highest arrival rate the service sustains within an SLO.",
    ),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported only when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = _COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module = importlib.import_module(entry[0])
        command = getattr(module, entry[1])
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, _COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="loadlens")
def cli() -> None:
    """Load and stress testing for HTTP services that explains its own results."""


def abort(error: LoadlensError) -> None:
    """Print a LoadlensError the way users should see it and exit with its code."""
    if isinstance(error, SpecError):
        click.echo(error.render(), err=True)
    else:
        click.echo(f"error: {error.message}", err=True)
    if error.hint:
        click.echo(f"hint: {error.hint}", err=True)
    sys.exit(error.exit_code)


def main() -> None:
    """Console entry point: errors of loadlens become one message and an exit code."""
    try:
        cli(standalone_mode=True)
    except LoadlensError as error:
        abort(error)
