"""Write every file report of a run into its directory: report.md, report.html, junit.xml and
series.csv."""

from __future__ import annotations

import os
from pathlib import Path

from loadlens.metrics.result import RunResult
from loadlens.report.html import render_html
from loadlens.report.junit import render_junit
from loadlens.report.markdown import render_markdown
from loadlens.report.series_csv import render_series_csv

REPORT_FILES = ("report.md", "report.html", "junit.xml", "series.csv")


def write_reports(result: RunResult, directory: Path) -> list[Path]:
    """Render and write the reports (REPORT_FILES) atomically; return their paths in that order.

    Each file appears whole or not at all: a temporary file in the same directory, fsynced,
    then renamed over the old one. OSError (a missing or read-only directory) propagates.
    """
    texts = (
        render_markdown(result),
        render_html(result),
        render_junit(result),
        render_series_csv(result),
    )
    paths = []
    for name, text in zip(REPORT_FILES, texts, strict=True):
        path = directory / name
        _write_atomically(path, text)
        paths.append(path)
    return paths


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with tmp.open("w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
