"""`loadlens history import`: bring run directories into the store after the fact."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from loadlens.errors import ResultError
from loadlens.metrics.result import read_result
from loadlens.store.history import Store

RESULT_FILE = "result.json"


@dataclass(slots=True)
class ImportReport:
    """What an import brought in, and what it could not read."""

    imported: list[tuple[str, Path]] = field(default_factory=list)  # (run id, directory)
    failed: list[tuple[Path, str]] = field(default_factory=list)  # (path, why)


def find_run_dirs(paths: Iterable[Path]) -> tuple[list[Path], list[Path]]:
    """Run directories among `paths` (each one, or a parent of many); and paths that hold none."""
    found: list[Path] = []
    empty: list[Path] = []
    for path in paths:
        if (path / RESULT_FILE).is_file():
            found.append(path)
            continue
        children = (
            sorted(p for p in path.iterdir() if (p / RESULT_FILE).is_file())
            if path.is_dir()
            else []
        )
        found.extend(children)
        if not children:
            empty.append(path)
    return found, empty


def import_runs(store: Store, paths: Iterable[Path]) -> ImportReport:
    """Record every run directory found under `paths`; unreadable results are reported.

    A StoreError (the store itself failing) stops the import and propagates.
    """
    report = ImportReport()
    found, empty = find_run_dirs(paths)
    for path in empty:
        report.failed.append((path, "no result.json here or in its sub-directories"))
    for run_dir in found:
        try:
            result = read_result(run_dir / RESULT_FILE)
        except ResultError as error:
            report.failed.append((run_dir, error.message))
            continue
        store.record(result, run_dir)
        report.imported.append((result.run.run_id, run_dir))
    return report
