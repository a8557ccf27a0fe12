"""Two runs side by side: what changed per operation, and whether it is a real change.

A change is judged in two steps. First significance: a bootstrap interval of the percentile
difference (resampled from both runs' HDR histograms, see `bootstrap`) that excludes zero, or
a two-proportion z-test on the error rates. Then size: a significant change counts as a
regression (or an improvement) only if its relative size exceeds the tolerance, so a large
run's tiny but significant shift reads as "unchanged". Counts and throughput are shown with
their change but not judged: in a closed model they follow the latency.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from loadlens.analysis.bootstrap import DEFAULT_RESAMPLES, Distribution, difference_intervals
from loadlens.metrics.result import OpStats, RunResult

TOTAL = "(all)"  # the row of every operation together
LATENCY_METRICS = ("p50", "p95", "p99")
_QUANTILES = (50.0, 95.0, 99.0)
MIN_TAIL_SAMPLES = 5  # a percentile needs this many samples above it to be judged (D8: ~20)


class Change(enum.StrEnum):
    """What a comparison concluded about one metric."""

    REGRESSION = "regression"
    IMPROVEMENT = "improvement"
    UNCHANGED = "unchanged"
    INSUFFICIENT = "insufficient"  # too few samples to judge
    NOT_JUDGED = "-"  # shown for context only (counts, throughput)


@dataclass(frozen=True, slots=True)
class MetricChange:
    """One metric of one operation in run A and in run B."""

    metric: str
    a: float
    b: float
    change: Change
    low: float | None = None  # the interval of `b − a`, where one was computed
    high: float | None = None
    pvalue: float | None = None  # where a test gives one

    @property
    def delta(self) -> float:
        """`b − a`."""
        return self.b - self.a

    @property
    def relative(self) -> float | None:
        """`b / a − 1`; None when a is 0 (a change from nothing has no ratio)."""
        return None if self.a == 0 else self.b / self.a - 1.0


@dataclass(frozen=True, slots=True)
class OperationComparison:
    """Every compared metric of one operation (or of all, under TOTAL)."""

    operation: str
    in_a: bool
    in_b: bool
    metrics: tuple[MetricChange, ...]

    def metric(self, name: str) -> MetricChange:
        """The named metric (`count`, `rps`, `error_rate`, `p50`, `p95`, `p99`)."""
        for m in self.metrics:
            if m.metric == name:
                return m
        raise KeyError(name)

    @property
    def regressions(self) -> tuple[MetricChange, ...]:
        """The metrics that regressed."""
        return tuple(m for m in self.metrics if m.change is Change.REGRESSION)


@dataclass(frozen=True, slots=True)
class Comparison:
    """Run A (the baseline) against run B (the candidate)."""

    a_id: str
    b_id: str
    scenario_a: str
    scenario_b: str
    tolerance: float
    confidence: float
    operations: tuple[OperationComparison, ...]  # in A's order, then B's new ones, then TOTAL

    def operation(self, name: str) -> OperationComparison:
        """The comparison of one operation (TOTAL for all together)."""
        for op in self.operations:
            if op.operation == name:
                return op
        raise KeyError(name)

    @property
    def regressed(self) -> bool:
        """Whether any metric of any operation regressed."""
        return any(op.regressions for op in self.operations)


def run_duration_s(result: RunResult) -> float:
    """Seconds the run's stages were running (its wall time when stages lack times)."""
    seconds = sum(
        s.ended_at - s.started_at
        for s in result.stages
        if s.ran and s.started_at is not None and s.ended_at is not None
    )
    if seconds <= 0 and result.run.ended_at is not None:
        seconds = result.run.ended_at - result.run.started_at
    return max(seconds, 0.0)


def rate(count: int, seconds: float) -> float:
    """Requests per second; 0 over no time."""
    return count / seconds if seconds > 0 else 0.0


# Changes smaller than these are never called a regression or an improvement.
DEFAULT_LATENCY_FLOOR_MS = 5.0
ERROR_RATE_FLOOR = 0.001  # 0.1 percentage point


def compare(
    a: RunResult,
    b: RunResult,
    *,
    tolerance: float = 0.05,
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    latency_floor_ms: float = DEFAULT_LATENCY_FLOOR_MS,
) -> Comparison:
    """Compare run B against baseline A, operation by operation and overall."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie between 0 and 1, not {confidence}")
    seconds = (run_duration_s(a), run_duration_s(b))
    names = list(a.operations) + [name for name in b.operations if name not in a.operations]
    judge = _Judge(tolerance, confidence, resamples, seed, latency_floor_ms)
    rows = [
        judge.operation(name, a.operations.get(name), b.operations.get(name), seconds)
        for name in names
    ]
    rows.append(judge.operation(TOTAL, a.total, b.total, seconds))
    return Comparison(
        a_id=a.run.run_id,
        b_id=b.run.run_id,
        scenario_a=a.run.scenario,
        scenario_b=b.run.scenario,
        tolerance=tolerance,
        confidence=confidence,
        operations=tuple(rows),
    )


@dataclass(frozen=True, slots=True)
class _Judge:
    tolerance: float
    confidence: float
    resamples: int
    seed: int
    latency_floor_ms: float

    def operation(
        self, name: str, a: OpStats | None, b: OpStats | None, seconds: tuple[float, float]
    ) -> OperationComparison:
        sa, sb = a or _EMPTY, b or _EMPTY
        metrics = [
            MetricChange("count", sa.count, sb.count, Change.NOT_JUDGED),
            MetricChange(
                "rps", rate(sa.count, seconds[0]), rate(sb.count, seconds[1]), Change.NOT_JUDGED
            ),
            self.error_rate(sa, sb),
            *self.latencies(sa, sb),
        ]
        return OperationComparison(name, a is not None, b is not None, tuple(metrics))

    def error_rate(self, a: OpStats, b: OpStats) -> MetricChange:
        if a.count == 0 or b.count == 0:
            return MetricChange("error_rate", a.error_rate, b.error_rate, Change.INSUFFICIENT)
        pvalue = two_proportion_pvalue(a.errors, a.count, b.errors, b.count)
        significant = pvalue < 1.0 - self.confidence
        return MetricChange(
            "error_rate",
            a.error_rate,
            b.error_rate,
            self.classify(a.error_rate, b.error_rate, significant, ERROR_RATE_FLOOR),
            pvalue=pvalue,
        )

    def latencies(self, a: OpStats, b: OpStats) -> list[MetricChange]:
        da, db = Distribution.from_encoded(a.histogram), Distribution.from_encoded(b.histogram)
        pa, pb = da.percentiles(_QUANTILES), db.percentiles(_QUANTILES)
        if da.total == 0 or db.total == 0:
            return [
                MetricChange(name, float(x), float(y), Change.INSUFFICIENT)
                for name, x, y in zip(LATENCY_METRICS, pa, pb, strict=True)
            ]
        intervals = difference_intervals(
            da, db, _QUANTILES, confidence=self.confidence, resamples=self.resamples, seed=self.seed
        )
        rows = []
        for name, q, x, y, interval in zip(
            LATENCY_METRICS, _QUANTILES, pa, pb, intervals, strict=True
        ):
            tail = min(da.total, db.total) * (1.0 - q / 100.0)
            change = (
                Change.INSUFFICIENT
                if tail < MIN_TAIL_SAMPLES
                else self.classify(
                    float(x), float(y), interval.excludes_zero, self.latency_floor_ms
                )
            )
            rows.append(MetricChange(name, float(x), float(y), change, interval.low, interval.high))
        return rows

    def classify(self, a: float, b: float, significant: bool, floor: float) -> Change:
        """Higher is worse for every judged metric (latency, error rate). A change is judged only
        when significant, larger than the relative tolerance, and larger than `floor` in the
        metric's own unit: on a shared machine a latency may move by a few milliseconds between
        runs for reasons that are not the service's."""
        if not significant or a == b or abs(b - a) < floor:
            return Change.UNCHANGED
        size = math.inf if a == 0 else abs(b / a - 1.0)
        if size <= self.tolerance:
            return Change.UNCHANGED
        return Change.REGRESSION if b > a else Change.IMPROVEMENT


_EMPTY = OpStats.from_dict(
    {
        "count": 0,
        "ok": 0,
        "outcomes": {},
        "bytes_sent": 0,
        "bytes_received": 0,
        "latency": dict.fromkeys(
            ("count", "min", "mean", "p50", "p90", "p95", "p99", "p999", "max", "stdev"), 0
        ),
        "histogram": "",
    }
)


def two_proportion_pvalue(x1: int, n1: int, x2: int, n2: int) -> float:
    """Two-sided p-value of the pooled two-proportion z-test that x1/n1 and x2/n2 are equal."""
    pooled = (x1 + x2) / (n1 + n2)
    variance = pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)
    if variance <= 0.0:
        return 1.0  # both 0 % or both 100 %: no evidence of a difference
    z = (x2 / n2 - x1 / n1) / math.sqrt(variance)
    return math.erfc(abs(z) / math.sqrt(2.0))
