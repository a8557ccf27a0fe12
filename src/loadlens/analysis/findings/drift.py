"""D6: latency drifts upward within a stage at constant load — leak-like growth ("The Ramp").

Per stage × operation, over the stage's steady window (the first SKIP_FRACTION of its seconds
and its ramp dropped), the per-second p50 gets a Theil–Sen slope with Sen's 95 % interval and
a Mann–Kendall test. Drift is claimed when the interval lies above 0, the Mann–Kendall p <
SIGNIFICANCE and the rise over the window is ≥ MIN_RISE of the window's starting level, while
throughput did not rise by more than FLAT_THROUGHPUT (rising load would explain it). A growing
RSS or memory metric from observation supports it; a flat one is printed as well.
"""

from __future__ import annotations

import math

from loadlens.analysis.findings import common as c
from loadlens.analysis.stats import Slope, kendall_trend, theil_sen
from loadlens.metrics.result import RunResult, SeriesOp, StageResult
from loadlens.model.finding import Attribution, Evidence, Finding, FindingClass, Severity

SKIP_FRACTION = 0.1
MIN_POINTS = 20  # seconds in the steady window with enough samples
MIN_SECOND_SAMPLES = 5  # latencies behind a second's p50
MIN_RISE = 0.2
MAJOR_RISE = 0.5
FLAT_THROUGHPUT = 0.1
MEMORY_WORDS = ("rss", "memory", "heap")


def find(result: RunResult) -> list[Finding]:
    """At most one finding per operation: its stage with the steepest relative drift."""
    best: dict[str, tuple[float, Finding]] = {}
    for stage in c.ran_stages(result):
        for op in stage.operations:
            found = _drift(result, stage, op)
            if found is not None and found[0] > best.get(op, (0.0, None))[0]:
                best[op] = found
    return [finding for _, finding in best.values()]


def _steady(result: RunResult, stage: StageResult, op: str) -> list[tuple[int, SeriesOp]]:
    points = sorted(
        (p.second, p.ops[op]) for p in result.series if p.stage == stage.info.index and op in p.ops
    )
    skip = max(math.ceil(SKIP_FRACTION * len(points)), math.ceil(stage.info.ramp_s))
    return [(s, o) for s, o in points[skip:] if o.samples >= MIN_SECOND_SAMPLES]


def _drift(result: RunResult, stage: StageResult, op: str) -> tuple[float, Finding] | None:
    steady = _steady(result, stage, op)
    if len(steady) < MIN_POINTS:
        return None
    seconds = [float(s) for s, _ in steady]
    p50 = [o.p50 for _, o in steady]
    line = theil_sen(seconds, p50)
    trend = kendall_trend(p50)
    span = seconds[-1] - seconds[0]
    start = line.intercept + line.slope * seconds[0]
    if start <= 0 or line.low <= 0 or trend.p_rising >= c.SIGNIFICANCE:
        return None
    rise = line.slope * span / start
    if rise < MIN_RISE:
        return None
    counts = theil_sen(seconds, [float(o.count) for _, o in steady])
    count_start = counts.intercept + counts.slope * seconds[0]
    throughput_change = counts.slope * span / count_start if count_start > 0 else 0.0
    if throughput_change > FLAT_THROUGHPUT:
        return None
    evidence = [
        Evidence(
            "slope",
            f"Theil–Sen slope {line.slope:+.3g} ms/s [95% CI {line.low:.3g}, {line.high:.3g}] "
            f"over {len(steady)} s; Mann–Kendall z = {trend.z:.1f}, {c.fmt_p(trend.p_rising)}",
            line.slope,
        ),
        Evidence(
            "rise",
            f"p50 {start:,.1f} → {start + line.slope * span:,.1f} ms over the steady window "
            f"({c.pct(rise)})",
            rise,
        ),
        Evidence(
            "throughput",
            f"throughput {'flat' if abs(throughput_change) <= FLAT_THROUGHPUT else 'falling'} "
            f"({throughput_change * 100:+.1f}% over the window)",
            throughput_change,
        ),
    ]
    counter = [
        Evidence(
            "not_load",
            f"not rising load: requests per second changed {throughput_change * 100:+.1f}% "
            f"(≤ +{FLAT_THROUGHPUT:.0%}); warm-up and ramp left out",
            throughput_change,
        )
    ]
    memory = _memory(result)
    supported = False
    if memory is not None:
        name, slope = memory
        supported = slope.low > 0
        text = (
            f"`{name}` grows {slope.slope * 60:+,.3g}/min [CI {slope.low * 60:,.3g}, "
            f"{slope.high * 60:,.3g}] over the run"
        )
        (evidence if supported else counter).append(
            Evidence(
                "memory_slope", text if supported else f"{text}: no memory growth", slope.slope
            )
        )
    return rise, Finding(
        kind=FindingClass.DRIFT,
        attribution=Attribution.SERVICE_BUG,
        severity=Severity.MAJOR if rise >= MAJOR_RISE else Severity.MINOR,
        confidence=0.9 if supported else 0.75,
        headline=(
            f"DRIFT (leak-like) — stage `{stage.info.name}` ({c.describe_stage_load(stage)}): "
            f"`{op}` p50 rose {start:,.1f} → {start + line.slope * span:,.1f} ms "
            f"({c.pct(rise)}) at steady load"
        ),
        evidence=tuple(evidence),
        counter_evidence=tuple(counter),
        examples=(),
        advice=(
            "latency grows with time, not load: look for unbounded caches, tables, queues or "
            "leaks; run a longer soak with memory observed to confirm"
        ),
        operation=op,
        stage=stage.info.name,
    )


def _memory(result: RunResult) -> tuple[str, Slope] | None:
    if result.observation is None:
        return None
    for metric in result.observation.metrics:
        if any(w in metric.name.lower() for w in MEMORY_WORDS) and len(metric.samples) >= 5:
            times = [t for t, _ in metric.samples]
            if len(set(times)) < 2:
                continue
            return metric.name, theil_sen(times, [v for _, v in metric.samples])
    return None
