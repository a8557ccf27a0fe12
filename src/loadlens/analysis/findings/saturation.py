"""D7: saturation — throughput plateaus across stages while latency climbs.

Over ≥ MIN_STAGES stages of rising load (users, or arrival rate), the knee is the first stage
from which the load rose ≥ MIN_LOAD_GROWTH to the last stage while throughput rose less than
MAX_THROUGHPUT_GROWTH and mean latency rose ≥ MIN_LATENCY_GROWTH. Little's law gives the
concurrency in the system per stage (N = X·R); with ≥ USL_STAGES stages the Universal
Scalability Law is fitted on it (analysis/usl.py).
"""

from __future__ import annotations

import itertools

from loadlens.analysis.findings import common as c
from loadlens.analysis.usl import fit_usl
from loadlens.metrics.result import RunResult, StageResult
from loadlens.model.finding import Attribution, Evidence, Finding, FindingClass, Severity

MIN_STAGES = 3
MIN_LOAD_GROWTH = 1.5
MAX_THROUGHPUT_GROWTH = 1.10
MIN_LATENCY_GROWTH = 1.3
USL_STAGES = 4


def _rate(stage: StageResult) -> float:
    """Completed requests per second: those cancelled at the stage's end, never sent or lost
    to a transport error are not throughput (counting them can hide a plateau)."""
    if stage.started_at is None or stage.ended_at is None:
        return 0.0
    span = stage.ended_at - stage.started_at
    completed = sum(n for key, n in stage.total.outcomes.items() if c.is_completed(key))
    return completed / span if span > 0 else 0.0


def find(result: RunResult) -> list[Finding]:
    """At most one finding: where throughput stops following load."""
    stages = [s for s in c.ran_stages(result) if c.stage_load(s) and s.total.latency.count]
    if len(stages) < MIN_STAGES:
        return []
    loads = [c.stage_load(s) or 0.0 for s in stages]
    if any(b <= a for a, b in itertools.pairwise(loads)):
        return []  # not a progression of rising load
    rates = [_rate(s) for s in stages]
    latency = [s.total.latency.mean for s in stages]
    last = len(stages) - 1
    knee = next(
        (
            i
            for i in range(last)
            if loads[last] / loads[i] >= MIN_LOAD_GROWTH
            and rates[i] > 0
            and rates[last] / rates[i] < MAX_THROUGHPUT_GROWTH
            and latency[i] > 0
            and latency[last] / latency[i] >= MIN_LATENCY_GROWTH
        ),
        None,
    )
    if knee is None:
        return []
    plateau = max(rates[knee:])
    rows = [
        Evidence(
            "stage",
            f"`{s.info.name}`: {c.describe_stage_load(s)}, X = {x:,.1f} req/s, "
            f"R mean {r:,.1f} ms / p95 {s.total.latency.p95:,.1f} ms, "
            f"N = X·R = {x * r / 1000:,.1f}, {c.pct(s.total.error_rate)} failed",
            x,
        )
        for s, x, r in zip(stages, rates, latency, strict=True)
    ]
    evidence = [
        Evidence(
            "plateau",
            f"from `{stages[knee].info.name}` to `{stages[last].info.name}` load ×"
            f"{loads[last] / loads[knee]:.2f}, throughput ×{rates[last] / rates[knee]:.2f}, "
            f"mean latency ×{latency[last] / latency[knee]:.2f}",
            rates[last] / rates[knee],
        ),
        *rows,
    ]
    if len(stages) >= USL_STAGES:
        evidence.append(_usl(stages, rates, latency))
    knee_stage = stages[knee]
    return [
        Finding(
            kind=FindingClass.SATURATION,
            attribution=Attribution.SERVICE_CAPACITY,
            severity=Severity.MAJOR,
            confidence=c.UNCALIBRATED,
            headline=(
                f"CAPACITY — throughput plateaus at ≈{plateau:,.0f} req/s from "
                f"{c.describe_stage_load(knee_stage)} (stage `{knee_stage.info.name}`); "
                f"mean latency climbs {latency[knee]:,.1f} → {latency[last]:,.1f} ms"
            ),
            evidence=tuple(evidence),
            counter_evidence=(
                Evidence(
                    "littles_law",
                    "latency grows with the concurrency in the system (N = X·R) while "
                    "throughput stays: queueing at a saturated resource, not slower code",
                ),
            ),
            advice=(
                "find the saturated resource (connection or worker pool, CPU, a lock); "
                f"above ≈{plateau:,.0f} req/s more load only adds latency"
            ),
            stage=knee_stage.info.name,
        )
    ]


def _usl(stages: list[StageResult], rates: list[float], latency: list[float]) -> Evidence:
    closed = all(s.info.load.get("model") == "closed" for s in stages)
    concurrency = [
        (c.stage_load(s) or 0.0) if closed else x * r / 1000
        for s, x, r in zip(stages, rates, latency, strict=True)
    ]
    try:
        fit = fit_usl(concurrency, rates)
    except ValueError as exc:
        return Evidence("usl", f"USL not fitted: {exc}")
    kappa = (
        f"κ = {fit.kappa:.3g} [95% CI {fit.kappa_low:.3g}, {fit.kappa_high:.3g}]"
        if fit.kappa_low is not None and fit.kappa_high is not None
        else f"κ = {fit.kappa:.3g} (no interval: as many parameters as points)"
    )
    if fit.supported_peak and fit.peak_concurrency is not None and fit.peak_throughput:
        peak = f"peak N* = {fit.peak_concurrency:,.1f}, X_max = {fit.peak_throughput:,.1f} req/s"
    else:
        peak = (
            "no peak claimed: the data does not show one within the measured concurrency "
            f"{fit.measured_low or 0:,.1f}–{fit.measured_high or 0:,.1f}"
        )
    return Evidence(
        "usl",
        f"USL: σ = {fit.sigma:.3g} (contention), {kappa} (coherency), "
        f"R² = {fit.r_squared:.3f}; {peak}",
        fit.r_squared,
    )
