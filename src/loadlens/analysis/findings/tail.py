"""D5: a slow mode in an operation's latencies — an intrinsically slow path, or queueing.

How it works. A tail is found as a mixture, not as a p95/p50 ratio (a 5 % slow mode can sit
just above p95, where a ratio of percentiles misses it by a hair). From the operation's
histogram over the run: the median m, and the *slow mode*, the requests slower than
SLOW_FACTOR × m (and at least MIN_GAP_MS above it). The effect has two sizes, each with a 95 %
interval: the share k of requests in the slow mode (Wilson) and how far out it lies, the slow
mode's median over m (order-statistic intervals of both medians, combined conservatively). The
p-value is a one-sided binomial test of k against BACKGROUND (scheduling noise on a busy host
puts some requests far out in any run). Severity follows from the intervals: major when the
lower bounds show ≥ MAJOR_SHARE of requests ≥ MAJOR_RATIO× the median, minor when only the
test is significant, nothing otherwise.

Service time or waiting. With ≥ 2 stages of different load that each have STAGE_MIN_SAMPLES
latencies, the slow share per stage (above the run's threshold) is tested for a trend with load
(Cochran–Armitage). A slow mode present at the lowest load (that stage's own slow mode, read
with its own median, with LOWEST_STAGE_SAMPLES latencies or more; else a binomial test of its
share above the run's threshold against BACKGROUND) is a slow operation, whether or not
queueing adds to it at higher loads, and is then described as measured at that stage (where
queueing does not blur it); one absent at the lowest load whose share rises with load is
queueing; one neither there nor rising is load-dependent. With one load level the queueing
test cannot run and the finding says so; a slow mode at a single load level is reported as a
slow operation. The phase sums say whether time went to waiting for a connection (the client's
pool or the server's accept queue); when the generator started at least GENERATOR_SHARE × as
many open-model iterations late as the slow mode holds, the slow mode may be its lateness
(info, measurement). Examples are recorded requests in the slow mode, slowest first.

Whose slow mode. An operation's slow mode is its own when its slow share is significantly
above the other operations' share above the same latency (one-sided Fisher, and at least
SPECIFIC_LIFT×). Slow modes that are not, in two operations or more (every operation is slow at
times alike), are one note about the whole service (info: nothing names a cause), attributed to
measurement when the generator reported its own stalls in the run, for then the host may be
what was slow; one such operation alone is noise and no finding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from loadlens.analysis.bootstrap import Distribution
from loadlens.analysis.findings import common as c
from loadlens.analysis.generator import generator_notes
from loadlens.analysis.stats import binomial_excess, fisher_exact, trend_test, wilson
from loadlens.metrics.result import RunResult, StageResult
from loadlens.model.finding import Attribution, Evidence, Finding, FindingClass, Severity

MIN_SAMPLES = 200  # latencies of an operation before a tail is judged
MIN_SLOW = 10  # requests in the slow mode before it is a mode and not a few outliers
SLOW_FACTOR = 5.0  # a request this many times the median belongs to the slow mode
MIN_GAP_MS = 10.0  # ... and this far above it (sub-millisecond medians jitter 5× easily)
BACKGROUND = 0.01  # the share of far-out requests noise alone can give (null hypothesis)
MAJOR_SHARE = 0.02  # lower bound of the slow share for a major finding
MAJOR_RATIO = 10.0  # lower bound of slow-median / median for a major finding
STAGE_MIN_SAMPLES = 20  # a stage's slow share enters the trend test with this many latencies
LOWEST_STAGE_SAMPLES = 100  # the lowest stage's own slow mode is read with this many
CONNECT_SHARE = 0.5  # time waiting for a connection above this share of a response's time
GENERATOR_SHARE = 0.5  # late starts ≥ this × the slow requests: the generator may have made them
SPECIFIC_LIFT = 2.0  # an operation's slow share against the others' for a slow mode its own
_Z95 = 1.959964


@dataclass(frozen=True, slots=True)
class SlowMode:
    """The slow mode of a latency distribution, with its effect sizes and test."""

    samples: int
    median_ms: float
    threshold_ms: float
    slow: int
    slow_median_ms: float
    share_low: float
    share_high: float
    ratio_low: float
    ratio_high: float
    p: float

    @property
    def share(self) -> float:
        """The fraction of requests in the slow mode."""
        return self.slow / self.samples

    @property
    def ratio(self) -> float:
        """The slow mode's median over the distribution's median."""
        return self.slow_median_ms / self.median_ms

    @property
    def severity(self) -> Severity | None:
        """Major, minor, or None (not significant), from the intervals and the test."""
        if self.p >= c.SIGNIFICANCE:
            return None
        if self.share_low >= MAJOR_SHARE and self.ratio_low >= MAJOR_RATIO:
            return Severity.MAJOR
        return Severity.MINOR


def slow_mode(distribution: Distribution, min_samples: int = MIN_SAMPLES) -> SlowMode | None:
    """The slow mode of `distribution` (ms), or None when it has too few latencies."""
    n = distribution.total
    if n < min_samples:
        return None
    values, counts = distribution.values, distribution.counts
    median, median_low, median_high = distribution.median_interval()
    if median <= 0:
        return None
    threshold = max(SLOW_FACTOR * median, median + MIN_GAP_MS)
    above = values > threshold
    slow = int(counts[above].sum())
    p = binomial_excess(slow, n, BACKGROUND)
    if slow < MIN_SLOW:
        return None
    slow_median, slow_low, slow_high = Distribution(values[above], counts[above]).median_interval()
    share_low, share_high = wilson(slow, n)
    return SlowMode(
        samples=n,
        median_ms=median,
        threshold_ms=threshold,
        slow=slow,
        slow_median_ms=slow_median,
        share_low=share_low,
        share_high=share_high,
        ratio_low=slow_low / max(median_high, 1e-9),
        ratio_high=slow_high / max(median_low, 1e-9),
        p=p,
    )


def _refused(outcomes: dict[str, int]) -> int:
    return sum(n for key, n in outcomes.items() if c.is_policy(key))


def accepted(distribution: Distribution, refused: int) -> Distribution:
    """The distribution without `refused` responses, read as its fastest ones: a refusal (429,
    503 + Retry-After) costs the service nothing, and would otherwise pull the median down."""
    if refused <= 0:
        return distribution
    counts = distribution.counts.copy()
    left = refused
    for i in range(counts.size):
        taken = min(int(counts[i]), left)
        counts[i] -= taken
        left -= taken
        if not left:
            break
    keep = counts > 0
    return Distribution(distribution.values[keep], counts[keep])


def _slow_count(stage: StageResult, op: str, threshold_ms: float) -> tuple[int, int]:
    """(requests above threshold, accepted requests with a latency) of `op` in `stage`."""
    stats = stage.operations[op]
    d = accepted(Distribution.from_encoded(stats.histogram), _refused(stats.outcomes))
    return int(d.counts[d.values > threshold_ms].sum()), d.total


def find(result: RunResult) -> list[Finding]:
    """One finding per operation with a slow mode of its own; one for the slow modes that every
    operation shares (service-wide stalls)."""
    accepted_by_op = {
        op: accepted(Distribution.from_encoded(stats.histogram), _refused(stats.outcomes))
        for op, stats in result.operations.items()
    }
    findings = []
    shared: list[tuple[str, SlowMode, float]] = []
    for op, distribution in accepted_by_op.items():
        mode = slow_mode(distribution)
        if mode is None or mode.severity is None:
            continue
        others = [d for name, d in accepted_by_op.items() if name != op]
        specific, others_share = _specific(mode, others)
        if specific:
            findings.append(_finding(result, op, mode))
        else:
            shared.append((op, mode, others_share))
    if len(shared) >= 2:  # one operation's mode that others match is noise, not a stall
        findings.append(_shared(result, shared))
    return findings


def _specific(mode: SlowMode, others: list[Distribution]) -> tuple[bool, float]:
    """Whether the slow mode is the operation's own: its share above the threshold against the
    other operations' share above the same latency (one-sided Fisher, and ≥ SPECIFIC_LIFT×).
    With no other operation there is nothing to share it with."""
    slow = sum(int(d.counts[d.values > mode.threshold_ms].sum()) for d in others)
    total = sum(d.total for d in others)
    if not total:
        return True, 0.0
    share = slow / total
    p = fisher_exact(mode.slow, mode.samples - mode.slow, slow, total - slow, "greater")
    return p < c.SIGNIFICANCE and mode.share >= SPECIFIC_LIFT * share, share


def _shared(result: RunResult, shared: list[tuple[str, SlowMode, float]]) -> Finding:
    """Slow modes every operation shows alike: stalls of the whole service (or of the host)."""
    ops = ", ".join(f"`{op}`" for op, _, _ in shared)
    stalled = generator_notes(result)
    evidence = [
        Evidence(
            "shared_mode",
            f"`{op}`: {c.pct(mode.share)} at {mode.ratio:,.0f}× its median "
            f"({mode.slow_median_ms:,.1f} ms); the other operations: {c.pct(others)} above "
            f"{mode.threshold_ms:,.1f} ms (not specific to `{op}`)",
            mode.share,
        )
        for op, mode, others in shared
    ]
    if stalled:
        evidence.append(
            Evidence(
                "generator_stalls",
                "the load generator reported its own stalls in this run ("
                + "; ".join(stalled[:2])
                + "): the host, not the service, may be what was slow",
            )
        )
    return Finding(
        kind=FindingClass.LATENCY_TAIL,
        # with the generator stalling too, the host is as likely as the service
        attribution=Attribution.MEASUREMENT if stalled else Attribution.SERVICE_CAPACITY,
        # no operation stands out and nothing names a cause: a note, not a diagnosis
        severity=Severity.INFO,
        confidence=c.UNCALIBRATED,
        headline=f"LATENCY TAIL (service-wide stalls) — a slow mode shared by {ops}",
        evidence=tuple(evidence),
        advice=(
            "every operation is slow at times alike: look for what stalls the whole service "
            "(garbage collection, a blocked event loop, CPU starvation on the host)"
        ),
    )


@dataclass(frozen=True, slots=True)
class _Load:
    """What the stages say about service time against queueing."""

    evidence: list[Evidence]
    counter: list[Evidence]
    queueing: bool
    unexplained: bool  # load-dependent, but neither rising with load nor there at the lowest
    lowest: SlowMode | None = None  # the slow mode at the lowest load, when it is there


def _by_load(result: RunResult, op: str, mode: SlowMode) -> _Load:
    stages = [
        s
        for s in c.ran_stages(result)
        if op in s.operations and s.operations[op].latency.count >= STAGE_MIN_SAMPLES
    ]
    loads = [c.stage_load(s) for s in stages]
    rows = [
        (s, load, *_slow_count(s, op, mode.threshold_ms))
        for s, load in zip(stages, loads, strict=True)
        if load is not None
    ]
    evidence: list[Evidence] = []
    counter: list[Evidence] = []
    for s, _, slow, n in rows:
        evidence.append(
            Evidence(
                "stage_share",
                f"`{s.info.name}` ({c.describe_stage_load(s)}): {c.pct(c.ratio(slow, n))} of "
                f"{n:,} requests above {mode.threshold_ms:,.1f} ms",
                c.ratio(slow, n),
            )
        )
    if len({load for _, load, _, _ in rows}) < 2:
        evidence.append(
            Evidence(
                "one_load",
                "measured at one load level only: service time and queueing were not told "
                "apart by load (add a lower-load stage to test it)",
            )
        )
        return _Load(evidence, counter, False, False)
    rows.sort(key=lambda row: row[1])
    trend = trend_test(
        [slow for _, _, slow, _ in rows],
        [n for _, _, _, n in rows],
        [math.log(load) if load > 0 else 0.0 for _, load, _, _ in rows],
    )
    low_share = c.ratio(rows[0][2], rows[0][3])
    high_share = c.ratio(rows[-1][2], rows[-1][3])
    rising = trend.p_rising < c.SIGNIFICANCE and high_share >= 2 * low_share
    # present at the lowest load: that stage's own slow mode, read with its own median (the
    # run's median may be inflated by queueing at higher loads), when it has the samples;
    # else its share above the run's threshold against the background
    own = _stage_mode(rows[0][0], op)
    at_lowest = own is not None or (
        rows[0][3] < MIN_SAMPLES
        and binomial_excess(rows[0][2], rows[0][3], BACKGROUND) < c.SIGNIFICANCE
    )
    queueing = rising and not at_lowest
    if rising and at_lowest:
        evidence.append(
            Evidence(
                "also_queueing",
                "present at the lowest load and growing with load "
                f"({c.pct(high_share)} at the highest): queueing adds to a slow path",
            )
        )
    text = (
        f"slow share against load over {len(rows)} stages: Cochran–Armitage z = {trend.z:.1f}, "
        f"{c.fmt_p(trend.p_rising)} (one-sided, rising)"
    )
    evidence.append(Evidence("load_trend", text, trend.z))
    if not rising and at_lowest:
        counter.append(
            Evidence(
                "not_queueing",
                "not queueing: the slow mode is there at the lowest load (above the "
                f"{c.pct(BACKGROUND)} background) and its share does not rise with load "
                f"({c.fmt_p(trend.p_rising)} over {len(rows)} stages)",
            )
        )
    return _Load(evidence, counter, queueing, not rising and not at_lowest, own)


def _stage_mode(stage: StageResult, op: str) -> SlowMode | None:
    stats = stage.operations[op]
    distribution = Distribution.from_encoded(stats.histogram)
    mode = slow_mode(accepted(distribution, _refused(stats.outcomes)), LOWEST_STAGE_SAMPLES)
    return mode if mode is not None and mode.severity is not None else None


def _finding(result: RunResult, op: str, whole: SlowMode) -> Finding:
    stages = [s for s in c.ran_stages(result) if op in s.operations]
    load = _by_load(result, op, whole)
    mode = load.lowest or whole
    where = " at the lowest load" if load.lowest is not None else ""
    evidence = [
        Evidence(
            "slow_mode",
            f"slow mode{where}: {c.pct(mode.share)} of {mode.samples:,} requests "
            f"[95% CI {c.pct(mode.share_low)}, {c.pct(mode.share_high)}] at a median of "
            f"{mode.slow_median_ms:,.1f} ms, {mode.ratio:,.0f}× the median of "
            f"{mode.median_ms:,.2f} ms [CI {mode.ratio_low:,.0f}×, {mode.ratio_high:,.0f}×]",
            mode.share,
        ),
        Evidence(
            "binomial_p",
            f"share above {mode.threshold_ms:,.1f} ms against a background of "
            f"{c.pct(BACKGROUND)}: binomial {c.fmt_p(mode.p)}",
            mode.p,
        ),
    ]
    evidence.extend(load.evidence)
    connect = _connect_share(stages, op)
    if connect is not None:
        evidence.append(
            Evidence(
                "connect_share",
                f"time waiting for a connection: {c.pct(connect)} of response time "
                "(the rest: sending, server wait, receiving)",
                connect,
            )
        )
    # requests of the slow mode itself, not the noise just above its threshold
    examples = _slowest(stages, op, max(mode.threshold_ms, mode.slow_median_ms / 2))
    if not examples:
        evidence.append(
            Evidence("examples", "no request of the slow mode was among the recorded examples")
        )
    late = _late_starts(result)
    generator_made = late >= GENERATOR_SHARE * mode.slow
    if late:
        evidence.append(
            Evidence(
                "late_starts",
                f"the generator started {late:,} iterations late (open model: their latency "
                f"counts from the intended time) against {mode.slow:,} requests in the slow mode",
                float(late),
            )
        )
    severity = mode.severity or Severity.MINOR
    if generator_made:
        attribution, what = Attribution.MEASUREMENT, "generator lateness"
        severity = Severity.INFO
        advice = (
            "as many iterations started late as there are slow requests: the slow mode may be "
            "the generator's own lateness; re-run with more workers or less load per worker"
        )
    elif connect is not None and connect >= CONNECT_SHARE:
        attribution, what = Attribution.LOAD_GENERATOR, "connection waits"
        advice = (
            "most time went to getting a connection: raise the client pool or check the "
            "server's accept backlog"
        )
    elif load.queueing:
        attribution, what = Attribution.SERVICE_CAPACITY, "queueing"
        advice = (
            "the slow share grows with load: find the saturated resource (pool, workers, locks)"
        )
    elif load.unexplained:
        attribution, what = Attribution.SERVICE_CAPACITY, "load-dependent"
        severity = Severity.MINOR
        advice = (
            "the slow mode is absent at the lowest load but does not grow steadily with it: "
            "look at what changes between the stages (pools, caches, background work)"
        )
    else:
        attribution, what = Attribution.SERVICE_BUG, "slow operation"
        advice = (
            f"{c.pct(mode.share)} of `{op}` requests take {mode.ratio:,.0f}× the median: find "
            "what those requests share (an account, a key, a cold path, a costly hash) and "
            "profile that path"
        )
    return Finding(
        kind=FindingClass.LATENCY_TAIL,
        attribution=attribution,
        severity=severity,
        confidence=c.UNCALIBRATED,
        headline=(
            f"LATENCY TAIL ({what}) — {c.pct(mode.share)} of `{op}` requests at "
            f"{mode.ratio:,.0f}× the median ({mode.slow_median_ms:,.1f} ms against "
            f"{mode.median_ms:,.2f} ms)"
        ),
        evidence=tuple(evidence),
        counter_evidence=tuple(load.counter),
        examples=examples,
        advice=advice,
        operation=op,
    )


def _late_starts(result: RunResult) -> int:
    """Open-model iterations the generator started late over the run (0 for closed models)."""
    return sum(p.health.late for p in result.series)


def _connect_share(stages: list[StageResult], op: str) -> float | None:
    connect = total = 0
    for stage in stages:
        diagnostics = stage.diagnostics.get(op)
        if diagnostics is None or not diagnostics.phases.responses:
            continue
        phases = diagnostics.phases
        connect += phases.connect_us
        total += phases.connect_us + phases.send_us + phases.wait_us + phases.receive_us
    return c.ratio(connect, total) if total else None


def _slowest(stages: list[StageResult], op: str, threshold_ms: float) -> tuple[dict[str, Any], ...]:
    found = [
        x
        for x in c.examples(stages, op, lambda _: True, limit=10_000)
        if (x.get("latency_ms") or 0.0) > threshold_ms
    ]
    found.sort(key=lambda x: -(x.get("latency_ms") or 0.0))
    return tuple(found[:3])
