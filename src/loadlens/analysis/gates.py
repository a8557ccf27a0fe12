"""Judging one gate on measured counts and a merged latency histogram.

A gate sees a `Measurement`: the outcome counts and the lossless merge of the latency
histograms of the operations it selects, over the whole stage or one window, plus the
generator's late and dropped iterations and how many seconds it spans. Percentiles come from
the merged histogram, never from averaging per-operation or per-second percentiles.

The generator's error bound (analysis/generator.py) comes as a `Bounded`: the same latencies
with each worker second's base lag subtracted and added, how many of them a stall may have
delayed further, and by at most how much. From these `_interval` gives the lowest and highest
value the gate's metric could take; a latency gate FAILS only when it fails at both ends,
PASSES only when it passes at both, and is UNCERTAIN when the interval straddles the target.
Error-rate and other count gates never see the bound; a throughput gate that fails while the
generator was saturated is UNCERTAIN (the generator could send no more).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from loadlens.analysis import confidence
from loadlens.metrics.frame import LAG_LEVELS_MS, Health
from loadlens.metrics.histogram import (
    LatencySummary,
    decode_histogram,
    merge_into,
    new_histogram,
    value_at,
)
from loadlens.metrics.result import OpStats
from loadlens.model.outcome import OutcomeKind, is_success_key
from loadlens.model.threshold import Comparison, Metric, Threshold, Unit
from loadlens.model.verdict import GateResult, GateStatus

_SUMMARY_PERCENTILES = {50.0: "p50", 90.0: "p90", 95.0: "p95", 99.0: "p99", 99.9: "p999"}


@dataclass(slots=True)
class Bounded:
    """The selected latencies with each worker second's error bound subtracted and added."""

    low: Any = field(default_factory=new_histogram)  # each latency less its second's base lag
    high: Any = field(default_factory=new_histogram)  # ... plus it
    # per LAG_LEVELS_MS level: how many of them a stall may have delayed by more than it
    affected: list[int] = field(default_factory=lambda: [0] * len(LAG_LEVELS_MS))
    bound_ms: float = 0.0  # the largest lag of a second in it: no request waited longer
    cause: str = ""  # that second's cause
    saturated: str = ""  # why the generator was the limit, when it was (throughput gates)

    def add_bound(self, bound_ms: float, cause: str) -> None:
        """Keep the largest bound and its cause."""
        if bound_ms > self.bound_ms:
            self.bound_ms, self.cause = bound_ms, cause

    def add_affected(self, affected: Sequence[int]) -> None:
        """Add per-level counts of requests that may have been delayed."""
        for level, n in enumerate(affected):
            self.affected[level] += n

    def levels(self) -> list[tuple[float, int]]:
        """(x ms, at most how many requests were delayed by more than x), for each level below
        the largest lag, and (the largest lag, 0)."""
        pairs = [
            (x, n) for x, n in zip(LAG_LEVELS_MS, self.affected, strict=True) if x < self.bound_ms
        ]
        return [*pairs, (self.bound_ms, 0)]


@dataclass(slots=True)
class Measurement:
    """What a gate is judged on: selected operations over a stage or a window."""

    outcomes: dict[str, int] = field(default_factory=dict)
    histogram: Any = field(default_factory=new_histogram)  # latencies in µs, merged
    seconds: float = 0.0  # the time the counts span, for `rps`
    late: int = 0
    dropped: int = 0
    observed: Mapping[str, Sequence[float]] = field(default_factory=dict)  # service samples
    bounded: Bounded | None = None  # None: judged without an error bound (e.g. from disk)

    @property
    def count(self) -> int:
        """Requests measured."""
        return sum(self.outcomes.values())

    def add_outcomes(self, outcomes: Mapping[str, int]) -> None:
        """Fold outcome counts in."""
        for key, n in outcomes.items():
            self.outcomes[key] = self.outcomes.get(key, 0) + n


def selected(threshold: Threshold, names: Iterable[str]) -> list[str]:
    """The operations among `names` that the gate selects (all when it has no filter)."""
    if threshold.operations is None:
        return list(names)
    return [name for name in names if name in threshold.operations]


def evaluate_stage(
    threshold: Threshold,
    operations: Mapping[str, OpStats],
    duration_s: float,
    health: Health | None = None,
    *,
    stage: str = "",
    observed: Mapping[str, Sequence[float]] | None = None,
    bounded: Bounded | None = None,
) -> GateResult:
    """Judge a gate over a whole stage from its per-operation stats (histograms merged) and,
    for a service metric, the samples observed during the stage; `bounded`: the generator's
    error bound over the same operations."""
    measurement = Measurement(seconds=duration_s, observed=observed or {}, bounded=bounded)
    for name in selected(threshold, operations):
        stats = operations[name]
        measurement.add_outcomes(stats.outcomes)
        merge_into(measurement.histogram, decode_histogram(stats.histogram))
    if health is not None:
        measurement.late, measurement.dropped = health.late, health.dropped
    return judge(threshold, measurement, stage=stage)


def judge(
    threshold: Threshold,
    measurement: Measurement,
    *,
    stage: str = "",
    window_s: float | None = None,
    at_second: int | None = None,
) -> GateResult:
    """The gate's result on one measurement: PASSED, FAILED, INSUFFICIENT or NOT_AVAILABLE."""
    measured, samples = measure(threshold, measurement)
    required = threshold.min_samples
    if threshold.metric is Metric.OBSERVED and measured is None:
        status = GateStatus.NOT_AVAILABLE  # not observed (no source, or every sample missed)
    elif measured is None:
        status = GateStatus.INSUFFICIENT
    elif samples < required:
        # fewer samples than a percentile usually needs: judged only when already clear
        status = _early(threshold, measurement) or GateStatus.INSUFFICIENT
    else:
        status = GateStatus.PASSED if threshold.passes(measured) else GateStatus.FAILED
    bound_ms, cause = 0.0, ""
    bounded = measurement.bounded
    if bounded is not None and measured is not None and status is not GateStatus.INSUFFICIENT:
        status, bound_ms, cause = _within_bound(threshold, bounded, measured, status)
    return GateResult(
        gate=threshold.describe(),
        stage=stage,
        status=status,
        measured=measured,
        samples=samples,
        target=threshold.target(),
        window_s=window_s,
        required=required,
        measured_text="" if measured is None else display(threshold, measured),
        at_second=at_second,
        bound_ms=bound_ms,
        bound_cause=cause,
    )


def _early(threshold: Threshold, m: Measurement) -> GateStatus | None:
    """A percentile gate's status when a confidence bound decides it already (confidence.py)."""
    if not confidence.applies(threshold):
        return None
    b = m.bounded
    if b is None or b.bound_ms <= 0:
        return confidence.decided(threshold, m.histogram)
    return confidence.decided(threshold, m.histogram, b.low, b.high, b.levels())


def _within_bound(
    threshold: Threshold, bounded: Bounded, measured: float, status: GateStatus
) -> tuple[GateStatus, float, str]:
    """The status judged against the generator's error bound, the bound on the gate's value
    and its cause (module docstring)."""
    if threshold.metric in (Metric.RPS, Metric.COUNT):
        if status is GateStatus.FAILED and bounded.saturated:
            return GateStatus.UNCERTAIN, 0.0, bounded.saturated
        return status, 0.0, ""
    if threshold.unit is not Unit.LATENCY or bounded.bound_ms <= 0:
        return status, 0.0, ""
    low, high = _interval(threshold, bounded)
    low, high = min(low, measured), max(high, measured)
    bound = max(measured - low, high - measured)
    verdicts = {threshold.passes(value) for value in (low, measured, high)}
    straddles = (
        threshold.op is Comparison.BETWEEN
        and low < threshold.low
        and (threshold.high is not None and high > threshold.high)
    )
    if verdicts == {True}:
        return GateStatus.PASSED, bound, bounded.cause
    if verdicts == {False} and not straddles:
        return GateStatus.FAILED, bound, bounded.cause
    return GateStatus.UNCERTAIN, bound, bounded.cause


def _interval(threshold: Threshold, bounded: Bounded) -> tuple[float, float]:
    """The lowest and highest value a latency metric could take within the error bound."""
    n = int(bounded.low.get_total_count())
    if n == 0:
        return 0.0, 0.0
    most = bounded.bound_ms
    if threshold.metric is Metric.PERCENTILE:
        assert threshold.percentile is not None
        p = threshold.percentile
        # at most n_x values moved by more than x: the percentile lies between the values
        # n_x/n either side of it, moved by x (analysis/generator.py); the tightest x wins
        lows, highs = [], []
        for x, moved in bounded.levels():
            share = 100 * min(moved / n, 1.0)
            lows.append(value_at(bounded.low, p - share) - x if p - share >= 0 else -math.inf)
            highs.append(value_at(bounded.high, p + share) + x if p + share <= 100 else math.inf)
        return max(*lows, 0.0), min(highs)
    low_summary, high_summary = LatencySummary.of(bounded.low), LatencySummary.of(bounded.high)
    if threshold.metric is Metric.AVG:
        # the mean moves by at most the sum over levels of (share above x) × (next x - x)
        spread = _mean_shift(bounded, n)
        return low_summary.mean - spread, high_summary.mean + spread
    if threshold.metric is Metric.MIN:
        return low_summary.min - most, high_summary.min + most
    return low_summary.max - most, high_summary.max + most


def _mean_shift(bounded: Bounded, n: int) -> float:
    """At most how far the mean moved: each request by its delay, at most x for all but n_x."""
    pairs = bounded.levels()
    shift = 0.0
    for (x, moved), (next_x, _) in itertools.pairwise(pairs):
        shift += min(moved / n, 1.0) * (next_x - x)
    return shift + (pairs[0][0] if pairs else 0.0)


def measure(threshold: Threshold, m: Measurement) -> tuple[float | None, int]:
    """The measured value in canonical units (None if none) and the sample count behind it."""
    metric = threshold.metric
    if metric in (Metric.PERCENTILE, Metric.AVG, Metric.MIN, Metric.MAX):
        return _latency(threshold, m.histogram)
    if metric is Metric.ERROR_RATE:
        return _error_rate(threshold.selector, m.outcomes)
    if metric is Metric.RATE:
        return _rate(threshold.selector, m.outcomes)
    if metric is Metric.RPS:
        return (m.count / m.seconds if m.seconds > 0 else 0.0), m.count
    if metric is Metric.COUNT:
        return float(m.count), m.count
    if metric is Metric.DROPPED:
        return float(m.dropped), m.count
    if metric is Metric.LATE:
        return float(m.late), m.count
    # OBSERVED: the mean of the service metric's samples taken during the stage
    values = m.observed.get(threshold.selector, ())
    return (sum(values) / len(values), len(values)) if values else (None, 0)


def _latency(threshold: Threshold, histogram: Any) -> tuple[float | None, int]:
    total = int(histogram.get_total_count())
    if total == 0:
        return None, 0
    if threshold.metric is Metric.PERCENTILE:
        assert threshold.percentile is not None
        field_name = _SUMMARY_PERCENTILES.get(threshold.percentile)
        if field_name is None:  # an unusual percentile: hdrh's own (slower) walk
            return float(histogram.get_value_at_percentile(threshold.percentile)) / 1000, total
        value: float = getattr(LatencySummary.of(histogram), field_name)
        return value, total
    summary = LatencySummary.of(histogram)
    if threshold.metric is Metric.AVG:
        return summary.mean, total
    return (summary.min if threshold.metric is Metric.MIN else summary.max), total


def _status_of(key: str) -> str | None:
    """The HTTP status in an outcome key (`ok:201`, `status:404`), or None."""
    kind, _, detail = key.partition(":")
    if kind in (OutcomeKind.OK.value, OutcomeKind.STATUS.value) and detail.isdigit():
        return detail
    return None


def _matches_status(status: str | None, patterns: Iterable[str]) -> bool:
    if status is None:
        return False
    return any(p == status or (p.endswith("xx") and status[0] == p[0]) for p in patterns)


def _error_rate(selector: str, outcomes: Mapping[str, int]) -> tuple[float | None, int]:
    excluded = selector.removeprefix("exclude=").split(",") if selector else []
    count = errors = 0
    for key, n in outcomes.items():
        if _matches_status(_status_of(key), excluded):
            continue
        count += n
        errors += 0 if is_success_key(key) else n
    return (errors / count if count else None), count


def _rate(selector: str, outcomes: Mapping[str, int]) -> tuple[float | None, int]:
    kind, _, value = selector.partition("=")
    count = hits = 0
    if kind == "check":
        # Of the requests whose checks ran (an expected status), those that passed `value`.
        failed_key = f"{OutcomeKind.CHECK_FAILED.value}:{value}"
        for key, n in outcomes.items():
            if is_success_key(key) or key.startswith(OutcomeKind.CHECK_FAILED.value):
                count += n
                hits += 0 if key == failed_key else n
    else:
        patterns = value.split(",")
        for key, n in outcomes.items():
            count += n
            if kind == "status":
                hits += n if _matches_status(_status_of(key), patterns) else 0
            elif key == value or key.startswith(value + ":"):
                hits += n
    return (hits / count if count else None), count


def display(threshold: Threshold, value: float) -> str:
    """A measured value for people: `34.2 ms`, `1.52 %`, `98.3/s`, `1,204`."""
    unit = threshold.unit
    if unit is Unit.LATENCY:
        return f"{value:,.1f} ms"
    if unit is Unit.FRACTION:
        return f"{value * 100:.3g} %"
    if unit is Unit.PER_SECOND:
        return f"{value:,.1f}/s"
    if unit is Unit.COUNT:
        return f"{int(value):,}"
    return f"{value:g}"


def describe_result(result: GateResult) -> str:
    """One line: `stage `load`: p95{op:read} < 20ms failed: measured 34.2 ms (1,204 samples)`."""
    where = f"stage `{result.stage}`: " if result.stage else ""
    window = ""
    if result.window_s is not None and result.at_second is not None:
        window = f" in the {result.window_s:g}s up to second {result.at_second}"
    if result.status is GateStatus.INSUFFICIENT:
        return (
            f"{where}{result.gate} could not be judged: {result.samples:,} samples"
            f"{window}, {result.required:,} needed"
        )
    if result.status is GateStatus.NOT_AVAILABLE:
        return f"{where}{result.gate} could not be judged: the metric was not measured"
    default = " (a default gate)" if result.default else ""
    if result.status is GateStatus.UNCERTAIN:
        within = f" ± {result.bound_ms:,.1f} ms" if result.bound_ms else ""
        return (
            f"{where}{result.gate}{default} is uncertain: measured {result.measured_text}"
            f"{within}{window} ({result.samples:,} samples); the generator's error bound "
            f"straddles the target: {result.bound_cause}"
        )
    verb = "passed" if result.status is GateStatus.PASSED else "failed"
    bound = ""
    if result.bound_ms >= 1.0:
        bound = f", even allowing ± {result.bound_ms:,.1f} ms for the generator's own delays"
    if result.samples < result.required:
        bound += (
            f"; fewer than the {result.required:,} usually needed, but clear with 95 % confidence"
        )
    return (
        f"{where}{result.gate}{default} {verb}: measured {result.measured_text}{window} "
        f"({result.samples:,} samples{bound})"
    )
