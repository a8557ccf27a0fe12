"""D5: a heavy latency tail (p95 ≫ p50) — an intrinsically slow operation, or queueing.

An operation qualifies with ≥ MIN_SAMPLES latencies (so ≥ 20 lie above its p95), p95/p50 ≥
MIN_RATIO and p95 − p50 ≥ MIN_GAP_MS. Tail attribution: the share of the run's requests above
the global p95 that belong to the operation, against its share of traffic (the lift). Service
time or waiting: if the tail is already there at the lowest-load stage, the operation is slow
(or bimodal) by itself; if its p95 grows with load, it is queueing. The phase sums say whether
time went to waiting for a connection (the client's pool or the server's accept queue).
"""

from __future__ import annotations

from typing import Any

from loadlens.analysis.findings import common as c
from loadlens.metrics.histogram import decode_histogram
from loadlens.metrics.result import RunResult, StageResult
from loadlens.model.finding import Attribution, Evidence, Finding, FindingClass, Severity

MIN_SAMPLES = 400  # 5 % of 400 = 20 requests above p95
MIN_RATIO = 5.0
MIN_GAP_MS = 10.0
STAGE_MIN_SAMPLES = 100  # a stage's own p95/p50 is read only with this many
QUEUEING_GROWTH = 2.0  # p95 at the highest-load stage ≥ this × at the lowest: queueing
CONNECT_SHARE = 0.5  # time waiting for a connection above this share of a response's time


def _count_above(histogram: Any, threshold_us: float) -> int:
    return sum(
        int(item.count_at_value_iterated_to)
        for item in histogram.get_recorded_iterator()
        if item.value_iterated_to > threshold_us
    )


def find(result: RunResult) -> list[Finding]:
    """One finding per operation with a heavy tail."""
    total = result.total.latency
    if total.count < MIN_SAMPLES:
        return []
    global_p95_us = total.p95 * 1000.0
    above: dict[str, int] = {}
    for op, stats in result.operations.items():
        above[op] = _count_above(decode_histogram(stats.histogram), global_p95_us)
    tail_total = sum(above.values())
    findings = []
    for op, stats in result.operations.items():
        latency = stats.latency
        if latency.count < MIN_SAMPLES or latency.p50 <= 0:
            continue
        ratio = latency.p95 / latency.p50
        if ratio < MIN_RATIO or latency.p95 - latency.p50 < MIN_GAP_MS:
            continue
        traffic = c.ratio(latency.count, total.count)
        tail_share = c.ratio(above[op], tail_total)
        findings.append(_finding(result, op, ratio, traffic, tail_share, total.p95))
    return findings


def _finding(
    result: RunResult, op: str, ratio: float, traffic: float, tail_share: float, p95: float
) -> Finding:
    latency = result.operations[op].latency
    stages = [s for s in c.ran_stages(result) if op in s.operations]
    measured = [s for s in stages if s.operations[op].latency.count >= STAGE_MIN_SAMPLES]
    evidence = [
        Evidence(
            "ratio",
            f"`{op}` p95/p50 = {ratio:.1f}× (p50 {latency.p50:,.1f} ms, p95 {latency.p95:,.1f} ms, "
            f"p99 {latency.p99:,.1f} ms; {latency.count:,} samples)",
            ratio,
        ),
        Evidence(
            "tail_share",
            f"{c.pct(traffic)} of traffic, {c.pct(tail_share)} of the requests above the "
            f"run's p95 ({p95:,.1f} ms); lift {tail_share / traffic if traffic else 0.0:.1f}",
            tail_share,
        ),
    ]
    counter: list[Evidence] = []
    intrinsic = queueing = False
    if measured:
        low, high = measured[0], measured[-1]
        lo, hi = low.operations[op].latency, high.operations[op].latency
        intrinsic = lo.p50 > 0 and lo.p95 / lo.p50 >= MIN_RATIO
        queueing = len(measured) >= 2 and lo.p95 > 0 and hi.p95 / lo.p95 >= QUEUEING_GROWTH
        evidence.append(
            Evidence(
                "lowest_stage",
                f"at the lowest load (`{low.info.name}`, {c.describe_stage_load(low)}): "
                f"p50 {lo.p50:,.1f} ms, p95 {lo.p95:,.1f} ms ({lo.p95 / max(lo.p50, 1e-9):.1f}×)",
                lo.p95,
            )
        )
        if len(measured) >= 2:
            evidence.append(
                Evidence(
                    "highest_stage",
                    f"at the highest (`{high.info.name}`, {c.describe_stage_load(high)}): "
                    f"p50 {hi.p50:,.1f} ms, p95 {hi.p95:,.1f} ms",
                    hi.p95,
                )
            )
        if intrinsic and not queueing:
            counter.append(
                Evidence(
                    "not_queueing",
                    "not queueing: the tail is already there at the lowest load and does not "
                    f"grow {QUEUEING_GROWTH:g}× with it",
                )
            )
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
    if connect is not None and connect >= CONNECT_SHARE:
        attribution, what = Attribution.LOAD_GENERATOR, "connection waits"
        advice = (
            "most time went to getting a connection: raise the client pool or check the "
            "server's accept backlog"
        )
    elif queueing:
        attribution, what = Attribution.SERVICE_CAPACITY, "queueing"
        advice = "the tail grows with load: find the saturated resource (pool, workers, locks)"
    elif intrinsic:
        attribution, what = Attribution.SERVICE_BUG, "slow operation"
        advice = (
            f"`{op}` is slow (or bimodal) by itself even at low load: profile it (hashing "
            "cost, cache misses, a cold path)"
        )
    else:
        attribution, what = Attribution.SERVICE_CAPACITY, "tail"
        advice = "too few stages to tell service time from queueing: add a low-load stage"
    return Finding(
        kind=FindingClass.LATENCY_TAIL,
        attribution=attribution,
        severity=Severity.MINOR,
        confidence=0.7 if (intrinsic != queueing) else 0.5,
        headline=(
            f"LATENCY TAIL ({what}) — `{op}` p95/p50 = {ratio:.1f}× (p50 {latency.p50:,.1f} ms, "
            f"p95 {latency.p95:,.1f} ms); {c.pct(tail_share)} of the slowest 5% for "
            f"{c.pct(traffic)} of traffic"
        ),
        evidence=tuple(evidence),
        counter_evidence=tuple(counter),
        examples=_slowest(stages, op),
        advice=advice,
        operation=op,
    )


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


def _slowest(stages: list[StageResult], op: str) -> tuple[dict[str, Any], ...]:
    found = list(c.examples(stages, op, lambda _: True, limit=50))
    found.sort(key=lambda x: -(x.get("latency_ms") or 0.0))
    return tuple(found[:3])
