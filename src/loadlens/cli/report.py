"""`loadlens report RESULT.json|RUN_DIR`: write report.md, report.html and junit.xml again.

Exit codes: 0 written; 2 the result cannot be read or the reports cannot be written.
"""

from __future__ import annotations

from pathlib import Path

import click

from loadlens.errors import LoadlensError, ResultError


@click.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out",
    default=None,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the reports (default: next to the result).",
)
def report(source: Path, out: Path | None) -> None:
    """Regenerate a run's reports from its stored result."""
    from loadlens.cli.main import abort

    try:
        paths = regenerate(source, out)
    except LoadlensError as error:
        abort(error)
        return
    for path in paths:
        click.echo(str(path))


def regenerate(source: Path, out: Path | None) -> list[Path]:
    """Read the result at `source` (a result.json or a run directory) and write its reports."""
    from loadlens.metrics.result import read_result
    from loadlens.report.write import write_reports

    result_path = source / "result.json" if source.is_dir() else source
    result = read_result(result_path)
    directory = out if out is not None else result_path.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
        return write_reports(result, directory)
    except OSError as exc:
        raise ResultError(
            f"cannot write reports to {directory}: {exc.strerror or exc}",
            hint="pass a writable directory with --out",
        ) from None
