"""Comparing two runs: bootstrap intervals on percentiles, z-test on errors, a tolerance."""

from __future__ import annotations

import numpy as np
import pytest

from loadlens.analysis.bootstrap import Distribution, difference_intervals
from loadlens.analysis.compare import TOTAL, Change, compare, two_proportion_pvalue
from tests.unit.store.synthetic import lognormal, make_result, op_stats


def test_distribution_percentiles_match_the_summary() -> None:
    stats = op_stats(lognormal(20, 5000, seed=1))
    dist = Distribution.from_encoded(stats.histogram)
    p50, p95, p99 = dist.percentiles([50, 95, 99])
    assert (p50, p95, p99) == (stats.latency.p50, stats.latency.p95, stats.latency.p99)
    assert dist.total == 5000


def test_bootstrap_is_deterministic() -> None:
    a = Distribution.from_encoded(op_stats(lognormal(20, 2000, seed=1)).histogram)
    b = Distribution.from_encoded(op_stats(lognormal(22, 2000, seed=2)).histogram)
    assert difference_intervals(a, b, [95]) == difference_intervals(a, b, [95])


def test_a_slower_operation_is_a_regression_and_the_other_unchanged() -> None:
    a = make_result("a", {"login": (lognormal(20, 3000, 1), 0), "read": (lognormal(5, 3000, 2), 0)})
    b = make_result("b", {"login": (lognormal(30, 3000, 3), 0), "read": (lognormal(5, 3000, 4), 0)})
    comparison = compare(a, b)
    login, read = comparison.operation("login"), comparison.operation("read")
    p95 = login.metric("p95")
    assert p95.change is Change.REGRESSION
    assert p95.low is not None and p95.low > 0
    assert p95.relative == pytest.approx(0.5, abs=0.1)
    assert {m.change for m in read.metrics} <= {Change.UNCHANGED, Change.NOT_JUDGED}
    assert comparison.regressed


def test_a_faster_run_is_an_improvement() -> None:
    a = make_result("a", {"read": (lognormal(30, 3000, 1), 0)})
    b = make_result("b", {"read": (lognormal(20, 3000, 2), 0)})
    assert compare(a, b).operation("read").metric("p50").change is Change.IMPROVEMENT


def test_a_significant_change_within_the_tolerance_is_unchanged() -> None:
    a = make_result("a", {"read": (lognormal(20.0, 50_000, 1), 0)})
    b = make_result("b", {"read": (lognormal(20.6, 50_000, 2), 0)})  # +3 %
    strict = compare(a, b, tolerance=0.0, latency_floor_ms=0.0).operation("read").metric("p50")
    lenient = compare(a, b, tolerance=0.05, latency_floor_ms=0.0).operation("read").metric("p50")
    assert strict.change is Change.REGRESSION
    assert lenient.change is Change.UNCHANGED


def test_a_significant_change_below_the_latency_floor_is_unchanged() -> None:
    a = make_result("a", {"read": (lognormal(1.0, 50_000, 1), 0)})
    b = make_result("b", {"read": (lognormal(3.0, 50_000, 2), 0)})  # +200 %, but +2 ms
    floor = compare(a, b).operation("read").metric("p50")
    no_floor = compare(a, b, latency_floor_ms=0.0).operation("read").metric("p50")
    assert floor.change is Change.UNCHANGED
    assert no_floor.change is Change.REGRESSION


def test_more_errors_are_a_regression() -> None:
    a = make_result("a", {"pay": (lognormal(10, 2000, 1), 4)})
    b = make_result("b", {"pay": (lognormal(10, 2000, 2), 60)})
    rate = compare(a, b).operation("pay").metric("error_rate")
    assert rate.change is Change.REGRESSION
    assert rate.pvalue is not None and rate.pvalue < 1e-6


def test_few_samples_are_insufficient_for_p99() -> None:
    a = make_result("a", {"rare": (lognormal(10, 200, 1), 0)})
    b = make_result("b", {"rare": (lognormal(30, 200, 2), 0)})
    op = compare(a, b).operation("rare")
    assert op.metric("p99").change is Change.INSUFFICIENT
    assert op.metric("p50").change is Change.REGRESSION


def test_operations_of_only_one_run_and_the_total_are_listed() -> None:
    a = make_result("a", {"old": (lognormal(10, 500, 1), 0)})
    b = make_result("b", {"new": (lognormal(10, 500, 2), 0)})
    comparison = compare(a, b)
    assert [op.operation for op in comparison.operations] == ["old", "new", TOTAL]
    old = comparison.operation("old")
    assert (old.in_a, old.in_b) == (True, False)
    assert old.metric("p95").change is Change.INSUFFICIENT
    assert comparison.operation("new").metric("rps").a == 0.0


def test_throughput_is_shown_not_judged() -> None:
    a = make_result("a", {"read": (lognormal(10, 1000, 1), 0)})
    b = make_result("b", {"read": (lognormal(10, 2000, 2), 0)})
    rps = compare(a, b).operation("read").metric("rps")
    assert (rps.a, rps.b, rps.change) == (100.0, 200.0, Change.NOT_JUDGED)


def test_two_proportion_test() -> None:
    assert two_proportion_pvalue(0, 100, 0, 100) == 1.0
    assert two_proportion_pvalue(10, 1000, 10, 1000) == pytest.approx(1.0)
    assert two_proportion_pvalue(10, 1000, 40, 1000) < 1e-4


def test_bad_confidence_is_refused() -> None:
    a = make_result("a", {"read": (np.array([1.0]), 0)})
    with pytest.raises(ValueError, match="confidence"):
        compare(a, a, confidence=1.5)
