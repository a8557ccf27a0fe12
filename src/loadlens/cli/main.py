"""The `loadlens` command group. Subcommands live one per module and are imported lazily,
so `loadlens --help` does not pay for the engine, numpy or the demo service."""

from __future__ import annotations

import contextlib
import errno
import importlib
import os
import sys

import click

from loadlens import __version__
from loadlens.cli.crash import report_crash
from loadlens.errors import EXIT_INTERRUPTED, LoadlensError, SpecError

# command name -> (module, attribute, one-line help)
_COMMANDS: dict[str, tuple[str, str, str]] = {
    "run": ("loadlens.cli.run", "run", "Run a scenario's plan against its target."),
    "quick": (
        "loadlens.cli.quick",
        "quick",
        "Load one URL from the command line, no scenario file (as `run` otherwise).",
    ),
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
    """A group whose subcommands are imported only when used, and whose unexpected failures
    reach the user as one line and exit 3 (`loadlens.cli.crash`), never as a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort, LoadlensError):
            raise  # click's own exits and usage errors, and ours (`main` prints them)
        except KeyboardInterrupt:
            # Ctrl-C outside a run's own handling (a run handles it and writes its result):
            # the conventional code, not click's "Aborted!" and 1, which reads as NO-GO.
            click.echo(err=True)
            sys.exit(EXIT_INTERRUPTED)
        except OSError as error:
            if error.errno == errno.EPIPE:
                raise  # stdout closed early (`| head`): click leaves quietly
            report_crash(error)
        except Exception as error:  # a bug in loadlens: short message, traceback in a file
            report_crash(error)

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


class RunFinished(SystemExit):
    """Raised by `run` and `quick` with their exit code once everything is written, flushed
    and closed: `main` then exits at once (see `exit_now`)."""


def main() -> None:
    """Console entry point: errors of loadlens become one message and an exit code."""
    try:
        cli(standalone_mode=True)
    except LoadlensError as error:
        abort(error)
    except RunFinished as finished:
        exit_now(finished.code if isinstance(finished.code, int) else 1)


def exit_now(code: int) -> None:
    """Exit with `code` without the interpreter's teardown (~0.1 s of freeing modules: numpy,
    scipy, SQLAlchemy...): the run's files are closed, its workers gone, its threads joined, so
    only the standard streams are left to flush. Only for the console entry point (tests run
    commands in-process)."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # a closed pipe (`| head`): exit as the interpreter would, with its care
        raise SystemExit(code) from None
    with contextlib.suppress(Exception):
        import logging

        logging.shutdown()  # a handler a library added flushes its file
    os._exit(code)
