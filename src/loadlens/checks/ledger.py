"""Reconciling the ledger of acknowledged writes with the database's values.

Read the entities' values once before the first stage (`read_entity_values`), again after the
last, and `reconcile`: for each (entity, field) the ledger touched, the final value should be
initial + the acknowledged deltas. Less means lost writes, more means phantom or duplicated
ones (a write applied twice, or one applied though the client was told it failed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loadlens.checks.sql import SqlError, fetch, read_only
from loadlens.model.integrity import (
    DEFAULT_MAX_EXAMPLES,
    Discrepancy,
    Key,
    Ledger,
    ReconcileSpec,
    ReconciliationResult,
)
from loadlens.model.observation import fill_placeholders
from loadlens.model.redaction import Redactor

TOLERANCE = 1e-9  # float deltas summed in different orders may differ in the last bits


def read_entity_values(
    spec: ReconcileSpec,
    entities: list[str],
    fields: tuple[str, ...],
    *,
    variables: Mapping[str, str] | None = None,
    redactor: Redactor | None = None,
) -> dict[Key, float]:
    """{(entity, field): value} read with the reconcile query; raises SqlError (redacted).

    Call it with the entities to watch before the run (the ledger is empty then: pass the ids
    the scenario will write, or run it with every entity the query returns by leaving
    `:entities` out of the query), and with `ledger.entities()` after.
    """
    redactor = redactor or Redactor()
    url = fill_placeholders(spec.db, dict(variables or {}))
    params: dict[str, Any] | None = None
    if ":entities" in spec.query:
        params = {"entities": [int(e) if e.isascii() and e.isdigit() else e for e in entities]}
        if not entities:
            return {}
    with read_only(url, redactor) as conn:
        columns, rows, _ = fetch(conn, spec.query, params)
    if "entity" not in columns:
        raise SqlError("the reconcile query must return a column named `entity`")
    index = columns.index("entity")
    names = {c: c for c in columns if c != "entity"}
    if "value" in names and len(fields) == 1 and fields[0] not in names:
        names["value"] = fields[0]
    values: dict[Key, float] = {}
    for row in rows:
        entity = str(row[index])
        for position, column in enumerate(columns):
            if column in names and isinstance(row[position], int | float):
                values[(entity, names[column])] = float(row[position])
    return values


def reconcile(
    ledger: Ledger,
    initial: Mapping[Key, float],
    final: Mapping[Key, float],
    *,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
) -> ReconciliationResult:
    """Compare final values with initial + acknowledged deltas for every key the ledger wrote.

    A key missing from `initial` starts at 0 (an entity the run created); one missing from
    `final` vanished, and counts as lost.
    """
    lost = phantom = 0
    lost_amount = phantom_amount = 0.0
    examples: list[Discrepancy] = []
    keys = ledger.keys()
    for entity, name in keys:
        found = final.get((entity, name))
        item = Discrepancy(
            entity,
            name,
            initial.get((entity, name), 0.0),
            ledger.delta(entity, name),
            ledger.count(entity, name),
            found,
        )
        difference = item.difference
        if found is not None and abs(difference) <= TOLERANCE * max(1.0, abs(item.expected)):
            continue
        if found is None or difference < 0:
            lost += 1
            lost_amount += -difference if found is not None else item.acknowledged
        else:
            phantom += 1
            phantom_amount += difference
        if len(examples) < max_examples:
            examples.append(item)
    return ReconciliationResult(
        acknowledged_writes=ledger.writes,
        checked=len(keys),
        lost=lost,
        lost_amount=lost_amount,
        phantom=phantom,
        phantom_amount=phantom_amount,
        examples=tuple(examples),
    )
