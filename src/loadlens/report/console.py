"""The terminal summary of a run, in the spirit of a hand-written load-test report.

Builds rich renderables from a RunResult; the CLI decides where to print them.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from loadlens.metrics.result import OpStats, RunResult, StageResult
from loadlens.model.finding import Finding, Severity
from loadlens.report.console_integrity import service
from loadlens.report.facts import fmt_bytes, fmt_ms, fmt_percent, run_duration, stage_rate
from loadlens.report.outcomes import describe_outcome


def summary(result: RunResult) -> RenderableType:
    """Header, totals, per-stage and per-operation tables, and the outcome breakdown."""
    parts: list[RenderableType] = [
        _header(result),
        _verdict(result),
    ]
    if result.findings:
        parts.append(findings(result.findings))
    parts += [
        _totals(result),
        _stages(result),
        _operations(result),
    ]
    outcomes = _outcomes(result)
    if outcomes is not None:
        parts.append(outcomes)
    gates = _gates(result)
    if gates is not None:
        parts.append(gates)
    parts += service(result)
    parts.append(_health(result))
    return Group(*parts)


EVIDENCE_LINES = 4  # evidence lines shown per finding; the written reports show them all
_SEVERITY_STYLE = {Severity.MAJOR: "bold red", Severity.MINOR: "yellow", Severity.INFO: "dim"}


def findings(found: list[Finding]) -> Text:
    """Why requests failed or got slow: headline, attribution, top evidence, ruled out, advice."""
    text = Text("Findings", style="bold")
    for finding in found:
        text.append(f"\n[{finding.severity.value}] ", style=_SEVERITY_STYLE[finding.severity])
        text.append(finding.headline, style="bold" if finding.severity is Severity.MAJOR else "")
        text.append(
            # no confidence: it is not calibrated (docs/diagnosis.md)
            f"\n  attribution {finding.attribution.label}",
            style="dim",
        )
        for evidence in finding.evidence[:EVIDENCE_LINES]:
            text.append(f"\n  {evidence.text}")
        for ruled in finding.counter_evidence:
            text.append(f"\n  ruled out: {ruled.text}", style="green")
        if finding.advice:
            text.append(f"\n  advice: {finding.advice}", style="cyan")
    return text


_VERDICT_STYLE = {"go": "bold white on green", "no_go": "bold white on red"}


def _verdict(result: RunResult) -> Text:
    verdict = result.verdict
    if verdict is None:
        return Text("verdict: none (no gates were judged)", style="dim")
    label = verdict.kind.label
    text = Text.assemble(
        ("verdict: ", "bold"),
        (f" {label} ", _VERDICT_STYLE.get(verdict.kind, "bold black on yellow")),
    )
    for reason in verdict.reasons:
        text.append(f"\n  - {reason}")
    if verdict.stages_not_run:
        text.append("\n  stages not run: " + ", ".join(verdict.stages_not_run))
    return text


def _gates(result: RunResult) -> Table | None:
    if not result.gates:
        return None
    table = Table(title="Gates", title_justify="left")
    for name in ["stage", "gate", "target", "measured", "samples", "status"]:
        table.add_column(name, justify="right" if name == "samples" else "left")
    for gate in result.gates:
        measured = gate.measured_text or ("–" if gate.measured is None else f"{gate.measured:g}")
        if gate.bound_ms >= 0.1 and gate.measured is not None:
            measured += f" ± {gate.bound_ms:,.1f} ms"  # the generator's error bound
        window = f" (over {gate.window_s:g}s)" if gate.window_s else ""
        default = " (default)" if gate.default else ""
        table.add_row(
            gate.stage,
            gate.gate + window + default,
            gate.target,
            measured,
            f"{gate.samples:,}",
            _GATE_STATUS.get(gate.status, gate.status),
        )
    return table


_GATE_STATUS = {
    "passed": "[green]passed[/green]",
    "failed": "[red]FAILED[/red]",
    "insufficient": "[yellow]too few samples[/yellow]",
    "uncertain": "[yellow]uncertain (generator bound)[/yellow]",
    "not_available": "[dim]not measured[/dim]",
}


def _header(result: RunResult) -> Text:
    run = result.run
    if result.interrupted:
        state = Text("INCOMPLETE (interrupted)", style="bold yellow")
    elif not result.complete:
        state = Text("INCOMPLETE", style="bold yellow")
    else:
        state = Text("complete", style="bold green")
    text = Text.assemble(
        ("loadlens run ", "bold"),
        (run.run_id, "bold cyan"),
        "\n",
        f"scenario {run.scenario} → {run.target}, {run.workers} worker(s), ",
        state,
    )
    return text


def _totals(result: RunResult) -> Table:
    total = result.total
    duration = run_duration(result)
    table = Table(title="Totals", show_header=False, title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    rate = total.count / duration if duration > 0 else 0.0
    table.add_row("requests", f"{total.count:,}")
    table.add_row("throughput", f"{rate:,.1f} req/s")
    table.add_row("failed", f"{total.errors:,} ({fmt_percent(total.error_rate)})")
    table.add_row("data sent", fmt_bytes(total.bytes_sent))
    table.add_row("data received", fmt_bytes(total.bytes_received))
    table.add_row("duration", f"{duration:,.1f} s")
    return table


def _stages(result: RunResult) -> Table:
    table = Table(title="Stages", title_justify="left")
    for name, justify in [
        ("stage", "left"),
        ("load", "left"),
        ("latency from", "left"),
        ("requests", "right"),
        ("req/s", "right"),
        ("failed", "right"),
        ("p95 ms", "right"),
    ]:
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for stage in result.stages:
        table.add_row(
            stage.info.name,
            _load(stage),
            f"{stage.info.latency_origin} send",
            f"{stage.total.count:,}" if stage.ran else "not run",
            f"{stage_rate(stage):,.1f}",
            fmt_percent(stage.total.error_rate),
            fmt_ms(stage.total.latency.p95),
        )
    return table


def _operations(result: RunResult) -> Table:
    table = Table(title="Operations (latency in ms)", title_justify="left")
    for name in ["operation", "count", "success", "avg", "p50", "p95", "p99", "max"]:
        table.add_column(name, justify="left" if name == "operation" else "right")
    for name, stats in result.operations.items():
        _op_row(table, name, stats)
    if len(result.operations) > 1:
        _op_row(table, "all", result.total, style="bold")
    return table


def _op_row(table: Table, name: str, stats: OpStats, style: str = "") -> None:
    latency = stats.latency
    success = 1.0 - stats.error_rate if stats.count else 0.0
    table.add_row(
        name,
        f"{stats.count:,}",
        fmt_percent(success),
        fmt_ms(latency.mean),
        fmt_ms(latency.p50),
        fmt_ms(latency.p95),
        fmt_ms(latency.p99),
        fmt_ms(latency.max),
        style=style,
    )


def _outcomes(result: RunResult) -> Table | None:
    rows: list[tuple[str, str, int]] = []
    for name, stats in result.operations.items():
        for key, count in sorted(stats.outcomes.items(), key=lambda kv: -kv[1]):
            rows.append((name, key, count))
    if not rows:
        return None
    table = Table(title="Outcomes: HTTP statuses and errors", title_justify="left")
    table.add_column("operation")
    table.add_column("outcome")
    table.add_column("count", justify="right")
    table.add_column("share of op", justify="right")
    for name, key, count in rows:
        share = count / result.operations[name].count
        table.add_row(name, describe_outcome(key), f"{count:,}", fmt_percent(share))
    return table


def _health(result: RunResult) -> Text:
    health = result.health
    return Text(
        f"generator: max CPU {health.max_cpu_percent:.0f} % of a core per worker, "
        f"max event-loop lag {health.max_loop_lag_ms:.1f} ms, "
        f"late iterations {health.late:,}, dropped iterations {health.dropped:,}",
        style="dim",
    )


def _load(stage: StageResult) -> str:
    load = stage.info.load
    model = load.get("model")
    ramp = f", ramp {stage.info.ramp_s:g}s" if stage.info.ramp_s else ""
    if model == "closed":
        return f"{load['users']} users{ramp}, {stage.info.duration_s:g}s"
    if model == "open":
        return f"{load['rate']:g}/s{ramp}, {stage.info.duration_s:g}s"
    return str(model)
