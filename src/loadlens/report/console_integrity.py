"""The terminal summary's view of the service: what was observed, and whether its data held."""

from __future__ import annotations

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from loadlens.metrics.result import RunResult
from loadlens.model.observation import ObservationResult
from loadlens.report.facts_service import OBSERVED_COLUMNS, observed_rows


def service(result: RunResult) -> list[RenderableType]:
    """Observations, invariants and reconciliation, each only when the run had them."""
    parts: list[RenderableType] = []
    if result.observation is not None:
        parts.append(observations(result.observation))
    if result.invariants:
        parts.append(invariants(result))
    if result.reconciliation is not None:
        parts.append(reconciliation(result))
    return parts


def observations(observation: ObservationResult) -> Table:
    """Each observed metric's first, last, min and max, and each source's missed samples."""
    table = Table(title=f"Service observed every {observation.every:g}s", title_justify="left")
    for name in OBSERVED_COLUMNS:
        table.add_column(name, justify="left" if name == "metric" else "right")
    for row in observed_rows(observation):
        table.add_row(*row)
    for source in observation.sources:
        if source.missed:
            why = f": {source.last_error}" if source.last_error else ""
            table.add_row(
                Text(f"{source.source} missed {source.missed} of {source.attempts} samples{why}"),
                style="yellow",
            )
    return table


def invariants(result: RunResult) -> Table:
    """Every invariant check: when, and whether it held."""
    table = Table(title="Invariants", title_justify="left")
    for name in ["invariant", "when", "violations", "status"]:
        table.add_column(name, justify="right" if name == "violations" else "left")
    for check in result.invariants:
        if check.error is not None:
            status = f"[yellow]could not check[/yellow]: {check.error}"
        elif check.passed:
            status = "[green]held[/green]"
        else:
            status = "[red]VIOLATED[/red]"
        table.add_row(check.name, check.when, f"{check.violations:,}", status)
    return table


def reconciliation(result: RunResult) -> Text:
    """One line: the acknowledged writes against what the database kept."""
    found = result.reconciliation
    assert found is not None
    if found.error is not None:
        return Text(f"reconciliation: could not run: {found.error}", style="yellow")
    text = Text(
        f"reconciliation: {found.acknowledged_writes:,} acknowledged writes, "
        f"{found.checked:,} entity fields checked: "
    )
    if found.passed:
        text.append("all kept", style="green")
        return text
    text.append(
        f"{found.lost:,} lost (short by {found.lost_amount:g}), "
        f"{found.phantom:,} phantom (over by {found.phantom_amount:g})",
        style="bold red",
    )
    for example in found.examples[:3]:
        final = "missing" if example.final is None else f"{example.final:g}"
        text.append(
            f"\n  {example.entity}.{example.field}: {example.initial:g} + "
            f"{example.acknowledged:g} acknowledged in {example.writes} writes, found {final}"
        )
    return text
