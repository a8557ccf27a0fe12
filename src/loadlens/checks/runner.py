"""Running invariants at a moment (after a stage, at the end) into results; never raises.

SQL invariants whose rows are violations keep the first `max_examples` rows as examples;
a scalar invariant reads the first column of the first row as `value`. HTTP invariants GET a
URL and evaluate the expectation on each JSONPath match: inside it `value` is the match and any
other name reads a field of the match (`a.b` a nested one). A check that cannot run is a failed
result with the (redacted) reason, never an exception.
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from loadlens.checks.sql import SqlError, fetch, read_only
from loadlens.model.integrity import InvariantKind, InvariantResult, InvariantSpec, Moment
from loadlens.model.observation import (
    MISSING,
    Expr,
    evaluate,
    fill_placeholders,
    placeholders_in,
    target_values,
)
from loadlens.model.redaction import Redactor
from loadlens.observe.fetch import FetchError, get_json

HTTP_TIMEOUT_S = 10.0


def run_invariants(
    specs: Iterable[InvariantSpec],
    *,
    moment: Moment = Moment.END,
    stage: str | None = None,
    target: str = "",
    variables: Mapping[str, str] | None = None,
    redactor: Redactor | None = None,
) -> tuple[InvariantResult, ...]:
    """The result of each invariant that runs at `moment`, in order.

    `variables` fill `{{ name }}` in `db:` and `http:` (e.g. `demo_db`, or `db` for invariants
    without `db:`); `target` fills `{{ target }}` and `{{ target_port }}`.
    """
    redactor = redactor or Redactor()
    values = dict(variables or {})
    if target:
        values = {**target_values(target), **values}
    when = moment.value if stage is None else f"{moment.value}:{stage}"
    return tuple(
        run_invariant(spec, values, redactor, when) for spec in specs if moment in spec.when
    )


def run_invariant(
    spec: InvariantSpec, values: Mapping[str, str], redactor: Redactor, when: str
) -> InvariantResult:
    """One invariant's result."""
    kind = spec.kind.value
    source = spec.url if spec.kind is InvariantKind.HTTP else spec.db
    missing = [name for name in placeholders_in(source) if name not in values]
    if missing:
        error = f"no value for `{{{{ {missing[0]} }}}}`: pass it as a variable (--var NAME=VALUE)"
        return InvariantResult(spec.name, kind, False, 0, error=error, when=when)
    filled = fill_placeholders(source, dict(values))
    try:
        if spec.kind is InvariantKind.HTTP:
            violations, examples = _http(spec, filled)
        else:
            violations, examples = _sql(spec, filled, redactor)
    except (SqlError, FetchError) as error:
        return InvariantResult(
            spec.name, kind, False, 0, error=redactor.text(str(error)), when=when
        )
    safe = tuple(_redact_row(example, redactor) for example in examples)
    return InvariantResult(spec.name, kind, violations == 0, violations, safe, when=when)


def _sql(spec: InvariantSpec, url: str, redactor: Redactor) -> tuple[int, list[dict[str, Any]]]:
    with read_only(url, redactor) as conn:
        if spec.kind is InvariantKind.SQL_ROWS:
            columns, rows, total = fetch(conn, spec.query, limit=spec.max_examples)
            return total, [_row(columns, row) for row in rows]
        columns, rows, _ = fetch(conn, spec.query, limit=1)
    if not rows or not columns:
        raise SqlError("the scalar query returned no row")
    value = _plain(rows[0][0])
    assert spec.expect is not None
    if _holds(spec.expect, value):
        return 0, []
    return 1, [{"value": value, "expect": spec.expect_text}]


def _http(spec: InvariantSpec, url: str) -> tuple[int, list[dict[str, Any]]]:
    document = get_json(url, HTTP_TIMEOUT_S)
    matches = spec.path.find(document) if spec.path is not None else [document]
    assert spec.expect is not None
    violations = 0
    examples: list[dict[str, Any]] = []
    for item in matches:
        if not _holds(spec.expect, item):
            violations += 1
            if len(examples) < spec.max_examples:
                examples.append(item if isinstance(item, dict) else {"value": item})
    return violations, examples


def _holds(expect: Expr, item: object) -> bool:
    def lookup(path: tuple[str, ...]) -> object:
        if path == ("value",) and not (isinstance(item, dict) and "value" in item):
            return item
        node: object = item
        for key in path:
            if not isinstance(node, dict) or key not in node:
                return MISSING
            node = node[key]
        return node

    return evaluate(expect, lookup) is True


def _row(columns: Sequence[str], row: Sequence[Any]) -> dict[str, Any]:
    return {column: _plain(value) for column, value in zip(columns, row, strict=False)}


def _plain(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _redact_row(row: dict[str, Any], redactor: Redactor) -> dict[str, object]:
    return {
        key: redactor.text(value) if isinstance(value, str) else value for key, value in row.items()
    }
