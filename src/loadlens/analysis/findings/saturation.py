"""D7: saturation — throughput stops following load while latency climbs.

How it works. Over ≥ MIN_STAGES stages of rising load (users, or arrival rate), each stage's
throughput X is its *completed* requests per second (a request cancelled at the stage's end,
never sent or lost to a transport error is not throughput: counting them hid plateaus), with a
95 % interval from the per-second counts (Poisson, widened by their over-dispersion). The peak
is the highest X; the knee is the earliest stage from which every step to the next stage turned
less than MAJOR_EFFICIENCY of its added load into throughput. From the knee to the last stage,
two effects are measured, each with its interval:

- scaling efficiency e = (X_last/X_knee − 1)/(L_last/L_knee − 1): the share of the added load
  that became throughput (1 for a service that keeps up, ≤ 0 for a plateau or a fall);
- the latency climb, the median latency at the last stage over the knee's (order-statistic
  intervals of both medians, combined conservatively).

Saturation is claimed when the load rose ≥ MIN_LOAD_GROWTH past the knee, e's upper bound is
below MAX_EFFICIENCY and the climb's lower bound is ≥ MIN_CLIMB; it is major when e's upper
bound is below MAJOR_EFFICIENCY and the climb's lower bound ≥ MAJOR_CLIMB, minor otherwise.
Within one open stage, no progression needed (backlog.py): work that arrives faster than it
completes piles up, the requests in flight growing through the stage's hold. Saturation is
claimed when the 95 % lower bound of the share of arrivals not served is ≥ MIN_UNSERVED and the
median latency rose ≥ MIN_CLIMB through the hold; major at ≥ MAJOR_UNSERVED and MAJOR_CLIMB.
With both rules met, one finding carries both evidences, major when either is.
Little's law gives the concurrency in the system per stage (N = X·R); with ≥ USL_STAGES stages
the Universal Scalability Law is fitted (analysis/usl.py), and a peak is claimed only where the
fit's κ interval excludes 0 and the peak lies within the measured concurrency.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass

import numpy as np

from loadlens.analysis.bootstrap import Distribution
from loadlens.analysis.findings import backlog
from loadlens.analysis.findings import common as c
from loadlens.analysis.findings.backlog import Backlog
from loadlens.analysis.usl import fit_usl
from loadlens.metrics.result import RunResult, StageResult
from loadlens.model.finding import Attribution, Evidence, Finding, FindingClass, Severity

MIN_STAGES = 3
MIN_LOAD_GROWTH = 1.5
MAX_EFFICIENCY = 0.5  # upper bound of e: less than half of the added load became throughput
MAJOR_EFFICIENCY = 0.25
MIN_CLIMB = 1.3  # lower bound of the median latency's rise
MAJOR_CLIMB = 1.5
USL_STAGES = 4
# Within one open stage (backlog.py): the 95 % lower bound of the share of arrivals not served.
# 5 %: work piling up at a twentieth of the offered rate is a queue that no stall or slow drift
# makes (a drift of R grows N by a share of dR/dt, ms per second: ≪ 1 %); at 20 % the wait
# grows by a fifth of a second every second: requests time out within the minute.
MIN_UNSERVED = 0.05
MAJOR_UNSERVED = 0.2
_Z95 = 1.959964


@dataclass(frozen=True, slots=True)
class _Stage:
    stage: StageResult
    load: float
    rate: float  # completed requests per second
    rate_low: float
    rate_high: float
    median: tuple[float, float, float]  # ms: estimate, 95 % low, high
    mean: float


def _completed(stage: StageResult) -> int:
    return sum(n for key, n in stage.total.outcomes.items() if c.is_completed(key))


def _dispersion(result: RunResult, stage: StageResult) -> float:
    """Variance over mean of the stage's per-second counts (≥ 1; 1 when too few seconds)."""
    counts = [p.total.count for p in result.series if p.stage == stage.info.index][:-1]
    if len(counts) < 3 or not sum(counts):
        return 1.0
    return max(1.0, float(np.var(counts, ddof=1)) / float(np.mean(counts)))


def _median(stage: StageResult) -> tuple[float, float, float]:
    d = Distribution.from_encoded(stage.total.histogram)
    n = d.total
    if not n:
        return 0.0, 0.0, 0.0
    cumulative = np.cumsum(d.counts)
    half = _Z95 * math.sqrt(n) / 2.0
    ranks = [n / 2.0, max(n / 2.0 - half, 1.0), min(n / 2.0 + half, float(n))]
    at = np.searchsorted(cumulative, np.ceil(ranks), side="left")
    estimate, low, high = (float(d.values[min(int(i), d.values.size - 1)]) for i in at)
    return estimate, low, high


def _row(result: RunResult, stage: StageResult) -> _Stage | None:
    load = c.stage_load(stage)
    if load is None or stage.started_at is None or stage.ended_at is None:
        return None
    span = stage.ended_at - stage.started_at
    if span <= 0:
        return None
    completed = _completed(stage)
    half = _Z95 * math.sqrt(max(completed, 1) * _dispersion(result, stage)) / span
    rate = completed / span
    return _Stage(
        stage=stage,
        load=load,
        rate=rate,
        rate_low=max(rate - half, 0.0),
        rate_high=rate + half,
        median=_median(stage),
        mean=stage.total.latency.mean,
    )


def find(result: RunResult) -> list[Finding]:
    """At most one finding: where throughput stops following load, or work piles up."""
    rows = [
        row
        for s in c.ran_stages(result)
        if s.total.latency.count and (row := _row(result, s)) is not None
    ]
    queue = _first_queue(result)
    across = _across_stages(rows)
    if across is None:
        return [] if queue is None else [_queue_finding(rows, queue)]
    finding = _finding(rows, *across)
    if queue is None:
        return [finding]
    major = finding.severity is Severity.MAJOR or _queue_major(queue)
    return [
        dataclasses.replace(
            finding,
            severity=Severity.MAJOR if major else Severity.MINOR,
            evidence=(*finding.evidence, *_queue_lines(queue)),
        )
    ]


def _across_stages(
    rows: list[_Stage],
) -> tuple[_Stage, _Stage, float, float, float, float, float, bool] | None:
    """The cross-stage rule: (knee, last, peak, e, e's upper bound, climb, its lower bound,
    major), or None when throughput followed load (or too few rising stages to tell)."""
    if len(rows) < MIN_STAGES or any(b.load <= a.load for a, b in itertools.pairwise(rows)):
        return None  # too few stages, or not a progression of rising load
    peak = max(r.rate for r in rows)
    knee, last = rows[_knee(rows)], rows[-1]
    load_growth = last.load / knee.load
    if knee is last or load_growth < MIN_LOAD_GROWTH or knee.rate_low <= 0:
        return None
    ratio_high = last.rate_high / knee.rate_low
    ratio = last.rate / knee.rate
    efficiency = (ratio - 1) / (load_growth - 1)
    efficiency_high = (ratio_high - 1) / (load_growth - 1)
    climb = last.median[0] / max(knee.median[0], 1e-9)
    climb_low = last.median[1] / max(knee.median[2], 1e-9)
    if efficiency_high >= MAX_EFFICIENCY or climb_low < MIN_CLIMB:
        return None
    major = efficiency_high < MAJOR_EFFICIENCY and climb_low >= MAJOR_CLIMB
    return knee, last, peak, efficiency, efficiency_high, climb, climb_low, major


def _first_queue(result: RunResult) -> Backlog | None:
    """The earliest open stage whose hold piled up work it did not serve (backlog.py)."""
    for stage in c.ran_stages(result):
        queue = backlog.measure(result, stage)
        if queue is not None and queue.unserved_low >= MIN_UNSERVED and queue.climb >= MIN_CLIMB:
            return queue
    return None


def _queue_major(queue: Backlog) -> bool:
    return queue.unserved_low >= MAJOR_UNSERVED and queue.climb >= MAJOR_CLIMB


def _queue_lines(queue: Backlog) -> tuple[Evidence, ...]:
    name = queue.stage.info.name
    drops = f" and {queue.dropped:,} arrivals dropped (max in flight)" if queue.dropped else ""
    return (
        Evidence(
            "backlog",
            f"`{name}` ({queue.rate:g}/s offered, {queue.seconds} s of its hold): requests in "
            f"flight {queue.in_flight_start:,} → {queue.in_flight_end:,}{drops}, growing "
            f"{queue.growth:,.1f}/s [95% CI ≥ {queue.growth_low:,.1f}]: "
            f"{c.pct(queue.unserved)} [≥ {c.pct(max(queue.unserved_low, 0.0))}] of the arrivals "
            "were not served as they came (completions fell behind arrivals)",
            queue.unserved,
        ),
        Evidence(
            "queue_wait",
            f"`{name}`: the median latency per second rose {queue.median_start:,.1f} → "
            f"{queue.median_end:,.1f} ms (×{queue.climb:,.1f}) from the hold's first third to "
            "its last: by Little's law (N = X·R) the growing work in flight is waiting",
            queue.climb,
        ),
    )


def _queue_finding(rows: list[_Stage], queue: Backlog) -> Finding:
    """Saturation seen within one open stage: arrivals outpaced completions throughout."""
    stage = queue.stage
    row = next((r for r in rows if r.stage is stage), None)
    served = "" if row is None else f"completions ≈{row.rate:,.0f} req/s; "
    stage_lines = tuple(
        Evidence(
            "stage",
            f"`{r.stage.info.name}`: {c.describe_stage_load(r.stage)}, X = {r.rate:,.1f} req/s "
            f"[95% CI {r.rate_low:,.1f}, {r.rate_high:,.1f}] completed, R median "
            f"{r.median[0]:,.1f} ms",
            r.rate,
        )
        for r in rows
    )
    return Finding(
        kind=FindingClass.SATURATION,
        attribution=Attribution.SERVICE_CAPACITY,
        severity=Severity.MAJOR if _queue_major(queue) else Severity.MINOR,
        confidence=c.UNCALIBRATED,
        headline=(
            f"CAPACITY — at {c.describe_stage_load(stage)} (stage `{stage.info.name}`) work "
            f"arrives faster than the service completes it: {served}in flight "
            f"{queue.in_flight_start:,} → {queue.in_flight_end:,}, median latency "
            f"{queue.median_start:,.1f} → {queue.median_end:,.1f} ms"
        ),
        evidence=(*_queue_lines(queue), *stage_lines, *_cancelled(rows)),
        counter_evidence=(
            Evidence(
                "not_a_stall",
                "not a passing stall: the work in flight grew second after second through the "
                "hold (mean of its per-second increments, a t-interval), not in one jump",
            ),
        ),
        advice=(
            "find the saturated resource (connection or worker pool, CPU, a lock): the offered "
            f"{c.describe_stage_load(stage)} exceeds what it serves, so requests queue and "
            "their latency grows without bound"
        ),
        stage=stage.info.name,
    )


def _step_efficiency(a: _Stage, b: _Stage) -> float:
    """The share of the load added from a to b that became throughput (point estimate)."""
    if a.rate <= 0:
        return 1.0
    return (b.rate / a.rate - 1) / (b.load / a.load - 1)


def _knee(rows: list[_Stage]) -> int:
    """The earliest stage from which every step to the next scaled below MAJOR_EFFICIENCY
    (the last stage when none did: then there is no plateau)."""
    knee = len(rows) - 1
    for i in range(len(rows) - 2, -1, -1):
        if _step_efficiency(rows[i], rows[i + 1]) >= MAJOR_EFFICIENCY:
            break
        knee = i
    return knee


def _finding(
    rows: list[_Stage],
    knee: _Stage,
    last: _Stage,
    peak: float,
    efficiency: float,
    efficiency_high: float,
    climb: float,
    climb_low: float,
    major: bool,
) -> Finding:
    stage_lines = [
        Evidence(
            "stage",
            f"`{r.stage.info.name}`: {c.describe_stage_load(r.stage)}, X = {r.rate:,.1f} req/s "
            f"[95% CI {r.rate_low:,.1f}, {r.rate_high:,.1f}] completed, R median "
            f"{r.median[0]:,.1f} ms / mean {r.mean:,.1f} ms, N = X·R = "
            f"{r.rate * r.mean / 1000:,.1f}, {c.pct(r.stage.total.error_rate)} not ok",
            r.rate,
        )
        for r in rows
    ]
    evidence = [
        Evidence(
            "efficiency",
            f"from `{knee.stage.info.name}` to `{last.stage.info.name}` load ×"
            f"{last.load / knee.load:.2f}, throughput ×{last.rate / knee.rate:.2f}: scaling "
            f"efficiency {efficiency:+.2f} [95% CI ≤ {efficiency_high:+.2f}] of the added load "
            "became throughput",
            efficiency,
        ),
        Evidence(
            "latency_climb",
            f"median latency ×{climb:,.1f} [95% CI ≥ ×{climb_low:,.1f}] "
            f"({knee.median[0]:,.1f} → {last.median[0]:,.1f} ms)",
            climb,
        ),
        *stage_lines,
    ]
    if len(rows) >= USL_STAGES:
        evidence.append(_usl(rows))
    evidence.extend(_cancelled(rows))
    return Finding(
        kind=FindingClass.SATURATION,
        attribution=Attribution.SERVICE_CAPACITY,
        severity=Severity.MAJOR if major else Severity.MINOR,
        confidence=c.UNCALIBRATED,
        headline=(
            f"CAPACITY — throughput plateaus at ≈{peak:,.0f} req/s from "
            f"{c.describe_stage_load(knee.stage)} (stage `{knee.stage.info.name}`); median "
            f"latency climbs {knee.median[0]:,.1f} → {last.median[0]:,.1f} ms"
        ),
        evidence=tuple(evidence),
        counter_evidence=_littles_law(knee, last),
        advice=(
            "find the saturated resource (connection or worker pool, CPU, a lock); "
            f"above ≈{peak:,.0f} req/s more load only adds latency"
        ),
        stage=knee.stage.info.name,
    )


def _cancelled(rows: list[_Stage]) -> tuple[Evidence, ...]:
    cancelled = sum(
        n for r in rows for k, n in r.stage.total.outcomes.items() if k.startswith("cancelled")
    )
    if not cancelled:
        return ()
    text = f"{cancelled:,} requests cancelled at stages' ends are not counted as throughput"
    return (Evidence("cancelled", text, float(cancelled)),)


def _littles_law(knee: _Stage, last: _Stage) -> tuple[Evidence, ...]:
    """'Not slower code' only when the concurrency in the system did rise (N = X·R)."""
    before, after = knee.rate * knee.mean / 1000, last.rate * last.mean / 1000
    if after <= before:
        return ()
    return (
        Evidence(
            "littles_law",
            f"not slower code: from `{knee.stage.info.name}` on, the concurrency in the system "
            f"(N = X·R) rose {before:,.1f} → {after:,.1f} while throughput did not follow: "
            "requests wait at a saturated resource",
        ),
    )


def _usl(rows: list[_Stage]) -> Evidence:
    closed = all(r.stage.info.load.get("model") == "closed" for r in rows)
    concurrency = [r.load if closed else r.rate * r.mean / 1000 for r in rows]
    try:
        fit = fit_usl(concurrency, [r.rate for r in rows])
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
