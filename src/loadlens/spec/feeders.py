"""Reading feeder files: CSV (a header row, then rows) or JSON (a list of objects).

Rows are read and checked when the scenario is loaded, so a run never starts with data
it cannot use.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

FeederValue = str | int | float | bool | None
Rows = tuple[tuple[FeederValue, ...], ...]


class FeederFileError(ValueError):
    """A feeder file that is missing or unusable; the message says why."""


def read_csv(path: Path) -> tuple[tuple[str, ...], Rows]:
    """Columns (the header row) and rows; every row must have one value per column."""
    text = _read_text(path)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None or not any(name.strip() for name in header):
            raise FeederFileError(f"{path.name} has no header row")
        columns = tuple(name.strip() for name in header)
        rows: list[tuple[FeederValue, ...]] = []
        for number, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(columns):
                raise FeederFileError(
                    f"{path.name} line {number} has {len(row)} values, "
                    f"the header has {len(columns)}"
                )
            rows.append(tuple(row))
    except csv.Error as error:
        raise FeederFileError(f"{path.name}: {error}") from None
    if not rows:
        raise FeederFileError(f"{path.name} has a header but no rows")
    return columns, tuple(rows)


def read_json(path: Path) -> tuple[tuple[str, ...], Rows]:
    """Columns (keys of the first object) and rows; every object must have those keys."""
    text = _read_text(path)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise FeederFileError(
            f"{path.name} is not JSON: {error.msg} at line {error.lineno}"
        ) from None
    if not isinstance(document, list) or not document:
        raise FeederFileError(f"{path.name} must hold a non-empty JSON list of objects")
    first = document[0]
    if not isinstance(first, dict) or not first:
        raise FeederFileError(f"{path.name}: item 0 must be an object with keys")
    columns = tuple(str(key) for key in first)
    rows: list[tuple[FeederValue, ...]] = []
    for index, item in enumerate(document):
        if not isinstance(item, dict):
            raise FeederFileError(f"{path.name}: item {index} is not an object")
        missing = [column for column in columns if column not in item]
        if missing:
            raise FeederFileError(f"{path.name}: item {index} lacks {', '.join(missing)}")
        row = tuple(item[column] for column in columns)
        for column, value in zip(columns, row, strict=True):
            if not (value is None or isinstance(value, str | int | float | bool)):
                raise FeederFileError(
                    f"{path.name}: item {index}.{column} must be a string, number, boolean or null"
                )
        rows.append(row)
    return columns, tuple(rows)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise FeederFileError(f"file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise FeederFileError(f"cannot read {path}: {error}") from None
