"""`loadlens capacity FILE --slo "p95<200ms, error_rate<1%"`: the highest sustainable rate.

Each probe is a short run of the scenario's flows at one arrival rate: a warm-up stage, then a
probe stage whose gates are the SLO. `analysis.capacity.CapacitySearch` chooses the rates
(grow, bisect, confirm) and stops within the time budget; every probe keeps its own run
directory under the search's directory, beside `capacity.json` and `capacity.html`.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from loadlens.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, LoadlensError, UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from loadlens.analysis.capacity import CapacityOutcome, CapacityPlan, Probe, ProbeKind
    from loadlens.model.scenario import Scenario
    from loadlens.model.threshold import Threshold


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
@click.option(
    "--slo", required=True, help='Gates every probe must meet: "p95<200ms, error_rate<1%".'
)
@click.option("--budget", default="5m", show_default=True, help="Time the search may take.")
@click.option("--start-rate", type=float, default=10.0, show_default=True, help="First rate, /s.")
@click.option("--growth", type=float, default=2.0, show_default=True, help="Growth factor.")
@click.option("--precision", type=float, default=0.05, show_default=True, help="Bisection stop.")
@click.option("--max-rate", type=float, default=1e6, show_default=True, help="Highest rate, /s.")
@click.option("--probe", "probe_s", default="10s", show_default=True, help="Probe length.")
@click.option("--warmup", "warmup_s", default="3s", show_default=True, help="Warm-up length.")
@click.option("--confirm", "confirm_s", default="30s", show_default=True, help="Confirmation.")
@click.option(
    "--out",
    default="loadlens-runs",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where runs go.",
)
@click.option("--workers", type=int, default=None, help="Worker processes (default: one per core).")
@click.option("--target", metavar="URL", help="Target URL, overriding the scenario's `target`.")
@click.option("--quiet", is_flag=True, help="No live view.")
def capacity(
    file: str,
    slo: str,
    budget: str,
    start_rate: float,
    growth: float,
    precision: float,
    max_rate: float,
    probe_s: str,
    warmup_s: str,
    confirm_s: str,
    out: Path,
    workers: int | None,
    target: str | None,
    quiet: bool,
) -> None:
    """Find the highest arrival rate the service sustains within an SLO."""
    from loadlens.analysis.capacity import CapacityPlan, parse_slo
    from loadlens.cli.main import abort
    from loadlens.cli.run import check_workers, console_for_output
    from loadlens.spec import load_scenario
    from loadlens.spec.durations import parse_duration
    from loadlens.spec.validate_gates import gates_for

    try:
        check_workers(workers)
        try:
            plan = CapacityPlan(
                start_rate=start_rate,
                growth=growth,
                precision=precision,
                probe_s=parse_duration(probe_s),
                warmup_s=parse_duration(warmup_s),
                confirm_s=parse_duration(confirm_s),
                budget_s=parse_duration(budget),
                max_rate=max_rate,
            )
            texts = parse_slo(slo)
        except ValueError as error:
            raise UsageError(str(error)) from None
        scenario = load_scenario(file, target_override=target)
        gates = gates_for(scenario, texts, origin="--slo")
        code = search(scenario, gates, plan, out, workers, quiet, console_for_output())
    except LoadlensError as error:
        abort(error)
        return
    raise SystemExit(code)


def search(
    scenario: Scenario,
    gates: tuple[Threshold, ...],
    plan: CapacityPlan,
    out: Path,
    workers: int | None,
    quiet: bool,
    console: Console,
) -> int:
    """Run probes until the search stops; print and store what it found."""
    from loadlens.analysis.capacity import CapacitySearch
    from loadlens.engine.rundir import new_run_id
    from loadlens.report.capacity_html import render_capacity_html

    directory = out / new_run_id(f"capacity-{scenario.name}")
    directory.mkdir(parents=True)
    searching = CapacitySearch(plan)
    started = time.monotonic()
    interrupted = False
    while (proposal := searching.next_rate(time.monotonic() - started)) is not None:
        rate, kind = proposal
        probe, interrupted = run_probe(scenario, gates, plan, rate, kind, directory, workers, quiet)
        console.print(
            f"probe {len(searching.outcome().probes) + 1}: {rate:,.1f}/s ({kind}) "
            f"{'held' if probe.passed else 'broke'}: {probe.reason}"
        )
        if interrupted:
            break
        searching.record(probe)
    outcome = searching.outcome()
    (directory / "capacity.json").write_text(
        json.dumps({"slo": [g.text for g in gates], **outcome.to_dict()}, indent=1, sort_keys=True),
        encoding="utf-8",
    )
    (directory / "capacity.html").write_text(
        render_capacity_html(outcome, [g.text for g in gates], scenario.name), encoding="utf-8"
    )
    print_outcome(outcome, console)
    console.print(f"result: {directory / 'capacity.json'}", soft_wrap=True)
    console.print(f"report: {directory / 'capacity.html'}", soft_wrap=True)
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if outcome.capacity is not None else EXIT_FAILED


def run_probe(
    scenario: Scenario,
    gates: tuple[Threshold, ...],
    plan: CapacityPlan,
    rate: float,
    kind: ProbeKind,
    directory: Path,
    workers: int | None,
    quiet: bool,
) -> tuple[Probe, bool]:
    """One probe at `rate`; (the probe, whether the user interrupted it)."""
    from loadlens.analysis.capacity import Probe, ProbeKind
    from loadlens.analysis.generator import behind_schedule, saturation, undelivered
    from loadlens.cli.judging import attach_judge
    from loadlens.engine.compiled import compile_scenario
    from loadlens.engine.coordinator import Coordinator, RunOptions, default_workers
    from loadlens.model.plan import OpenLoad, Stage
    from loadlens.model.verdict import GateStatus

    hold = plan.confirm_s if kind is ProbeKind.CONFIRM else plan.probe_s
    load = OpenLoad(rate=rate, max_in_flight=max(100, int(rate * 10)))
    probe_stage = Stage(f"probe {rate:g}/s", load, duration=hold, gates=gates)
    warmup = Stage("warm-up", load, duration=plan.warmup_s)
    stages = (warmup, probe_stage) if plan.warmup_s > 0 else (probe_stage,)
    probing = dataclasses.replace(scenario, plan=stages, thresholds=())
    coordinator = Coordinator(
        compile_scenario(probing),
        RunOptions(out=directory, workers=workers or default_workers(), continue_on_fail=True),
    )
    attach_judge(coordinator)
    result = coordinator.run().result
    stage = result.stages[coordinator.plan_indices()[-1]]
    total = stage.total
    duration = max((stage.ended_at or 0.0) - (stage.started_at or 0.0), 1e-9)
    throughput = total.ok / duration
    measured = {
        "p95_ms": total.latency.p95,
        "error_rate": total.error_rate,
        "throughput": throughput,
        "concurrency": throughput * total.latency.mean / 1000.0,  # Little's law
    }
    judged = [g for g in result.gates if g.stage == stage.info.name]
    failed = [g for g in judged if g.status is GateStatus.FAILED]
    thin = [g for g in judged if g.status is GateStatus.INSUFFICIENT]
    generator = [
        *saturation(result, scenario.generator),
        *undelivered(result),
        *behind_schedule(result),
    ]
    if generator:
        # the generator could not send this rate: the service was not what broke
        reason, passed = "generator saturated: " + "; ".join(generator), False
    elif failed:
        reason = "; ".join(f"{g.gate}: measured {g.measured_text or g.measured}" for g in failed)
        passed = False
    else:
        reason = "every SLO gate held"
        if thin:
            reason += " (too few samples to judge: " + ", ".join(g.gate for g in thin) + ")"
        passed = True
    return Probe(rate, passed, measured, reason, kind), result.interrupted


def print_outcome(outcome: CapacityOutcome, console: Console) -> None:
    """The capacity, its uncertainty, every probe, and the USL fit."""
    from rich.table import Table

    table = Table(title="Probes", title_justify="left")
    for name in ["rate /s", "kind", "SLO", "p95 ms", "errors", "throughput /s", "reason"]:
        table.add_column(name, justify="left" if name in ("kind", "SLO", "reason") else "right")
    for row in outcome.table():
        table.add_row(
            f"{row.rate:,.1f}",
            row.kind,
            "held" if row.passed else "broke",
            _num(row.p95_ms),
            _num(None if row.error_rate is None else 100 * row.error_rate, "%"),
            _num(row.throughput),
            row.reason,
        )
    console.print(table)
    if outcome.capacity is None:
        console.print(f"capacity: not found ({outcome.stopped_because})")
    else:
        confirmed = {True: "confirmed", False: "confirmation failed", None: "not confirmed"}
        console.print(
            f"capacity: {outcome.capacity:,.1f} req/s ({confirmed[outcome.confirmed]}); "
            f"last pass {_num(outcome.last_pass)}/s, first failure {_num(outcome.first_fail)}/s; "
            f"stopped: {outcome.stopped_because}"
        )
    usl = outcome.usl
    if usl is not None:
        # a peak only where the probes show one (κ's interval above 0, N* within the probed
        # concurrency): an extrapolated N* from nearly flat data means nothing
        peak = (
            f"peak {usl.peak_throughput:,.0f}/s at concurrency {usl.peak_concurrency:,.1f}"
            if usl.supported_peak
            and usl.peak_concurrency is not None
            and usl.peak_throughput is not None
            else "no peak claimed within the probed concurrency"
        )
        console.print(
            f"USL fit over {usl.points} probes: σ = {usl.sigma:.4f}, κ = {usl.kappa:.6f}, "
            f"λ = {usl.lambda_:,.1f}/s per unit of concurrency, R² = {usl.r_squared:.3f}; {peak}"
        )


def _num(value: float | None, unit: str = "") -> str:
    return "–" if value is None else f"{value:,.1f}{unit}"
