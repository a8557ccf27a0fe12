"""The written reports' sections about the service: what was observed, whether its data held."""

from __future__ import annotations

from loadlens.metrics.result import RunResult
from loadlens.model.observation import ObservationResult
from loadlens.report.facts import NONE_RECORDED, Section, Table, fmt_count, fmt_number

OBSERVED_COLUMNS = ("metric", "samples", "first", "last", "min", "max")


def observed_rows(observation: ObservationResult) -> list[tuple[str, ...]]:
    """A row per observed metric with samples: its name, count, first, last, min and max."""
    rows = []
    for metric in observation.metrics:
        values = [value for _, value in metric.samples]
        if values:
            first, last, low, high = values[0], values[-1], min(values), max(values)
            rows.append(
                (metric.name, fmt_count(len(values)), *map(fmt_number, (first, last, low, high)))
            )
    return rows


def observations(result: RunResult) -> Section:
    """Each observed metric's samples, first, last, min and max; each source's misses."""
    observation = result.observation
    title = "Service observations"
    if observation is None:
        return Section("observations", title, paragraphs=(NONE_RECORDED,))
    table = Table(
        OBSERVED_COLUMNS,
        tuple(observed_rows(observation)),
        (False, True, True, True, True, True),
    )
    notes = tuple(
        f"{source.source} missed {source.missed} of {source.attempts} samples"
        + (f": {source.last_error}" if source.last_error else "")
        for source in observation.sources
        if source.missed
    )
    paragraphs = (f"Sampled every {observation.every:g} s while the plan's stages ran.",)
    return Section("observations", title, paragraphs=paragraphs, table=table, notes=notes)


def integrity(result: RunResult) -> Section:
    """Every invariant check, and the reconciliation of acknowledged writes."""
    title = "Invariants"
    found = result.reconciliation
    if not result.invariants and found is None:
        return Section("invariants", title, paragraphs=(NONE_RECORDED,))
    rows = []
    classes = []
    for check in result.invariants:
        if check.error is not None:
            status, css = f"could not check: {check.error}", "insufficient"
        elif check.passed:
            status, css = "held", "passed"
        else:
            status, css = "VIOLATED", "failed"
        rows.append((check.name, check.when, fmt_count(check.violations), status))
        classes.append(css)
    table = Table(
        ("invariant", "when", "violations", "status"),
        tuple(rows),
        (False, False, True, False),
        tuple(classes),
    )
    notes: list[str] = []
    for check in result.invariants:
        for example in check.examples[:3]:
            cells = ", ".join(f"{key}={value}" for key, value in example.items())
            notes.append(f"`{check.name}` violating row: {cells}")
    if found is not None:
        notes.append(_reconciliation(result))
    return Section("invariants", title, table=table if rows else None, notes=tuple(notes))


def _reconciliation(result: RunResult) -> str:
    found = result.reconciliation
    assert found is not None
    if found.error is not None:
        return f"Reconciliation could not run: {found.error}"
    head = (
        f"Reconciliation: {fmt_count(found.acknowledged_writes)} acknowledged writes over "
        f"{fmt_count(found.checked)} entity fields"
    )
    if found.passed:
        return head + ": every one is in the database."
    examples = "; ".join(
        f"{d.entity}.{d.field} expected {d.expected:g}, found "
        + ("nothing" if d.final is None else f"{d.final:g}")
        for d in found.examples[:3]
    )
    return (
        f"{head}: {fmt_count(found.lost)} lost (short by {found.lost_amount:g}), "
        f"{fmt_count(found.phantom)} phantom (over by {found.phantom_amount:g}). {examples}"
    )
