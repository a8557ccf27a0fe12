"""What a user sees when loadlens itself fails: one line, a bug-report hint, exit 3.

An unexpected exception is a bug in loadlens, not something the user did. Its traceback is
worth having for the bug report, but on the terminal it would bury the one line that matters,
so it goes to a file (readable by its owner only: an exception's message may quote a URL or a
value from the scenario) and the terminal gets what failed and where the file is.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from loadlens import __version__
from loadlens.errors import EXIT_INTERNAL

_MESSAGE_CHARS = 200  # the terminal line names the failure; the file has the rest


def report_crash(error: BaseException) -> NoReturn:
    """Write `error`'s traceback to a file, print a short message and a hint, exit 3."""
    first_line = (str(error).strip().splitlines() or [""])[0][:_MESSAGE_CHARS]
    what = f"{type(error).__name__}: {first_line}" if first_line else type(error).__name__
    click.echo(f"error: loadlens failed unexpectedly: {what}", err=True)
    path = _write_traceback(error)
    if path is None:
        click.echo("hint: this is a bug in loadlens; please report it", err=True)
    else:
        click.echo(
            f"hint: this is a bug in loadlens; please report it with the traceback in {path}",
            err=True,
        )
    sys.exit(EXIT_INTERNAL)


def _write_traceback(error: BaseException) -> str | None:
    """The traceback in a new temporary file (mode 0600); its path, or None if none could be
    written (the message on the terminal must still come out)."""
    import os  # here, not at the top: `loadlens --help` should not pay for them
    import platform
    import tempfile
    import time
    import traceback

    header = (
        f"loadlens {__version__}, Python {platform.python_version()}, {platform.platform()}\n"
        f"{time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n\n"
    )
    text = header + "".join(traceback.format_exception(error))
    try:
        handle, path = tempfile.mkstemp(prefix="loadlens-crash-", suffix=".txt")
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
    except OSError:
        return None
    return path
