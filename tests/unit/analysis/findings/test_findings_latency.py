"""Latency and validity findings: tail (D5), drift (D6), saturation (D7), measurement (D10),
integrity (D9), a clean run, and results without diagnostics."""

from __future__ import annotations

import dataclasses

import numpy as np

from loadlens.analysis.findings import diagnose
from loadlens.analysis.verdict import decide
from loadlens.metrics.result import RunResult, SeriesOp
from loadlens.model.finding import Attribution, Evidence, Finding, FindingClass, Severity
from loadlens.model.integrity import InvariantResult
from loadlens.model.observation import MetricSeries, ObservationResult
from loadlens.model.verdict import VerdictKind
from tests.unit.analysis.findings.finding_samples import (
    diag,
    majors,
    op,
    point,
    run,
    stage,
    texts,
)


def test_a_tail_present_at_the_lowest_load_is_a_slow_operation() -> None:
    stages = []
    for index, users in enumerate([1, 10]):
        login = op({"ok:200": 1000}, [5.0] * 900 + [300.0] * 100)
        get = op({"ok:200": 4000}, 4.0)
        stages.append(stage(index, {"login": login, "get": get}, users=users))
    findings = diagnose(run(stages))
    top = findings[0]
    assert top.kind is FindingClass.LATENCY_TAIL and top.attribution is Attribution.SERVICE_BUG
    assert top.operation == "login" and "slow operation" in top.headline
    assert "slow mode at the lowest load: 10.0% of 1,000 requests" in texts(top)
    assert "60× the median" in texts(top)
    assert "not queueing" in texts(top)
    assert majors(findings) == [top]  # 10 % [CI 8.8 %, ...] at 60× [CI 60×, ...]


def test_a_tail_that_grows_with_load_is_queueing() -> None:
    low = op({"ok:200": 1000}, 5.0)
    high = op({"ok:200": 1000}, [5.0] * 850 + [200.0] * 150)
    findings = diagnose(run([stage(0, {"get": low}, users=1), stage(1, {"get": high}, users=50)]))
    top = findings[0]
    assert top.kind is FindingClass.LATENCY_TAIL
    assert top.attribution is Attribution.SERVICE_CAPACITY and "queueing" in top.headline


def _drift_run(slope: float, rss: bool = True) -> RunResult:
    rng = np.random.default_rng(7)
    series = [
        point(0, t, {"get": SeriesOp(100, 100, 0, 100, 50.0 + slope * t + rng.normal(0, 1), 0, 0)})
        for t in range(120)
    ]
    result = run([stage(0, {"get": op({"ok:200": 12000}, 60.0)}, users=10, duration=120)], series)
    if rss:
        samples = tuple((float(t), 100e6 + 1e5 * t) for t in range(0, 120, 5))
        result.observation = ObservationResult(5.0, (MetricSeries("process.rss", samples),))
    return result


def test_latency_growing_at_steady_load_is_leak_like_drift() -> None:
    findings = diagnose(_drift_run(0.5))
    top = findings[0]
    assert top.kind is FindingClass.DRIFT and top.attribution is Attribution.SERVICE_BUG
    assert top.severity is Severity.MAJOR and top.stage == "s1"
    slope = next(e for e in top.evidence if e.label == "slope")
    assert slope.value is not None and 0.45 < slope.value < 0.55
    assert "`process.rss` grows" in texts(top)
    assert majors(findings) == [top]


def test_a_flat_series_is_no_drift() -> None:
    assert not [f for f in diagnose(_drift_run(0.0)) if f.kind is FindingClass.DRIFT]


def test_throughput_plateau_with_rising_latency_is_saturation() -> None:
    users = [10, 20, 40, 80, 160]
    rates = [100.0, 180.0, 250.0, 260.0, 262.0]
    stages = []
    for index, (n, x) in enumerate(zip(users, rates, strict=True)):
        latency = n / x * 1000.0  # Little's law with no think time
        stages.append(stage(index, {"get": op({"ok:200": int(x * 30)}, latency)}, users=n))
    findings = diagnose(run(stages))
    top = findings[0]
    assert top.kind is FindingClass.SATURATION
    # the knee: from 40 users on each doubling of load adds < 25 % of it as throughput
    assert top.attribution is Attribution.SERVICE_CAPACITY and top.stage == "s3"
    assert "plateaus at ≈262 req/s from 40 users" in top.headline
    assert "USL: σ =" in texts(top)
    assert majors(findings) == [top]


def test_throughput_that_follows_load_is_no_saturation() -> None:
    stages = [
        stage(i, {"get": op({"ok:200": 300 * n}, 10.0)}, users=n)
        for i, n in enumerate([1, 2, 4, 8])
    ]
    assert majors(diagnose(run(stages))) == []


def _open_stage_run(in_flight: list[int], p50: list[float], rate: float = 300.0) -> RunResult:
    """One open stage at `rate`/s whose seconds hold these in-flight counts and medians."""
    count = int(rate * len(in_flight))
    one = stage(0, {"get": op({"ok:200": count}, p50)}, rate=rate, duration=len(in_flight) + 1)
    series = []
    for second, (n, median) in enumerate(zip(in_flight, p50, strict=True)):
        ops = {"get": SeriesOp(count=int(rate), ok=int(rate), samples=int(rate), p50=median)}
        p = point(0, second, ops)
        p.total.p50 = median
        p.health.in_flight = n
        series.append(p)
    return run([one], series)


def test_work_piling_up_within_one_open_stage_is_saturation() -> None:
    # 300/s offered, 200/s served: 100 more in flight every second, waits growing with them
    in_flight = [100 * s + (7 if s % 2 else -7) for s in range(1, 11)]
    p50 = [float(n) * 1000.0 / 200.0 for n in in_flight]
    findings = diagnose(_open_stage_run(in_flight, p50))
    top = findings[0]
    assert (top.kind, top.attribution, top.severity) == (
        FindingClass.SATURATION,
        Attribution.SERVICE_CAPACITY,
        Severity.MAJOR,
    )
    backlog = next(e for e in top.evidence if e.label == "backlog")
    assert backlog.value is not None and 0.3 <= backlog.value <= 0.37, backlog.text


def test_a_steady_or_once_stalled_open_stage_is_no_saturation() -> None:
    steady = [4, 6, 3, 5, 4, 7, 5, 3, 6, 4]
    assert majors(diagnose(_open_stage_run(steady, [3.0] * 10))) == []
    # a host stall: 300 requests pile up in one second and drain over the next two
    stalled = [4, 6, 3, 305, 150, 5, 4, 7, 5, 3]
    medians = [3.0, 3.0, 3.0, 900.0, 400.0, 3.0, 3.0, 3.0, 3.0, 3.0]
    found = diagnose(_open_stage_run(stalled, medians))
    assert not [f for f in found if f.kind is FindingClass.SATURATION], found


def test_a_saturated_generator_is_named_and_leaves_a_pass_inconclusive() -> None:
    # it could not deliver the planned load, so passing gates say nothing; it is a minor
    # finding (the gates were judged against its error bound) and a reason of the verdict
    series = [
        point(0, t, {"get": SeriesOp(100, 100, 0, 100, 5, 6, 7)}, cpu=99.0) for t in range(10)
    ]
    result = run([stage(0, {"get": op({"ok:200": 1000})}, users=5)], series)
    findings = diagnose(result)
    assert findings[0].attribution is Attribution.LOAD_GENERATOR
    assert findings[0].severity is Severity.MINOR
    assert "saturated: worker CPU ≥ 90 % in 10 of 10 seconds" in findings[0].evidence[0].text
    verdict = decide(result, [], findings=findings)
    assert verdict.kind is VerdictKind.INCONCLUSIVE
    assert verdict.reasons[0] == (
        "the planned load was not delivered: stage `s1`: the generator was saturated: worker "
        "CPU ≥ 90 % in 10 of 10 seconds (max 99 %)"
    )


def test_a_violated_invariant_is_a_service_bug_with_its_rows() -> None:
    result = run([stage(0, {"book": op({"ok:201": 500})}, users=5)])
    row = {"resource": "R17", "total": 10, "used": 7, "scheduled": 5}
    result.invariants = [InvariantResult("no overbooking", "sql", False, 3, (row,))]
    findings = diagnose(result)
    top = findings[0]
    assert top.kind is FindingClass.INTEGRITY and top.attribution is Attribution.SERVICE_BUG
    assert top.examples == (row,) and "resource = R17" in texts(top)
    assert decide(result, [], findings=findings).kind is VerdictKind.NO_GO


def test_a_clean_run_has_no_major_finding_and_stays_go() -> None:
    stages = [
        stage(
            i,
            {"get": op({"ok:200": 300 * n}, 10.0), "post": op({"ok:201": 100 * n}, 20.0)},
            {"get": diag({"q:page": {"ok:200": 300 * n}})},
            users=n,
        )
        for i, n in enumerate([1, 2, 4])
    ]
    result = run(stages)
    findings = diagnose(result)
    assert majors(findings) == []
    assert decide(result, [], findings=findings).kind is VerdictKind.GO


def test_failures_without_diagnostics_yield_no_attribution() -> None:
    # an older result: outcomes but no features, templates or samples
    get = op({"ok:200": 50, "status:500": 50})
    findings = diagnose(run([stage(0, {"get": get}, users=5)]))
    assert majors(findings) == []


def test_findings_are_sorted_and_survive_the_result_json() -> None:
    result = run([stage(0, {"book": op({"ok:201": 500})}, users=5)])
    result.invariants = [InvariantResult("a", "sql", False, 1, ({"x": 1},))]
    result.findings = [
        *diagnose(result),
        Finding(
            FindingClass.DRIFT,
            Attribution.SERVICE_BUG,
            Severity.INFO,
            0.5,
            "h",
            (Evidence("slope", "t", 0.1),),
        ),
    ]
    again = RunResult.from_dict(result.to_dict())
    assert again.findings == result.findings
    ranks = [f.sort_key for f in diagnose(result)]
    assert ranks == sorted(ranks)
    assert dataclasses.replace(result.findings[0]).to_dict()["class"] == "integrity"
