"""The statistics toolbox against published values (R, SciPy) and known lines."""

from __future__ import annotations

import numpy as np
import pytest

from loadlens.analysis.stats import (
    benjamini_hochberg,
    fisher_exact,
    kendall_trend,
    mann_whitney,
    theil_sen,
    trend_test,
    welch,
    wilson,
)


def test_fisher_matches_r_on_the_tea_tasting_table() -> None:
    # R: fisher.test(matrix(c(3, 1, 1, 3), 2))$p.value == 0.4857
    assert fisher_exact(3, 1, 1, 3) == pytest.approx(0.485714, abs=1e-6)
    # R: fisher.test(matrix(c(3, 1, 1, 3), 2), alternative = "greater")$p.value == 0.2429
    assert fisher_exact(3, 1, 1, 3, "greater") == pytest.approx(0.242857, abs=1e-6)


def test_fisher_matches_r_on_the_dieting_table() -> None:
    # R: fisher.test(matrix(c(1, 11, 9, 3), 2))$p.value == 0.002759
    assert fisher_exact(1, 9, 11, 3) == pytest.approx(0.0027595, rel=1e-4)
    assert fisher_exact(1, 9, 11, 3, "less") == pytest.approx(0.0013797, rel=1e-4)


def test_fisher_stays_finite_on_huge_tables() -> None:
    p = fisher_exact(1879, 134, 0, 1987, "greater")
    assert 0.0 <= p < 1e-300
    assert fisher_exact(0, 0, 5, 5) == 1.0


def test_wilson_matches_the_diagnosis_notes() -> None:
    low, high = wilson(0, 1987)
    assert low == 0.0 and high == pytest.approx(0.0019, abs=5e-5)
    low, high = wilson(1879, 2013)
    assert (round(low, 3), round(high, 3)) == (0.922, 0.944)
    assert wilson(0, 0) == (0.0, 1.0)


def test_cochran_armitage_matches_r_prop_trend_test() -> None:
    # R: prop.trend.test(c(83, 90, 129, 70), c(86, 93, 136, 82)): X-squared = 8.2249, p = 0.004132
    trend = trend_test([83, 90, 129, 70], [86, 93, 136, 82], [1, 2, 3, 4])
    assert trend.z**2 == pytest.approx(8.2249, abs=1e-4)
    assert trend.p_two_sided == pytest.approx(0.004132, abs=1e-6)
    assert trend.z < 0 and trend.p_rising > 0.99  # the proportion falls


def test_a_flat_rate_has_no_trend() -> None:
    trend = trend_test([47, 47, 47], [100, 100, 100], [5, 20, 50])
    assert trend.z == pytest.approx(0.0) and trend.p_two_sided == pytest.approx(1.0)


def test_theil_sen_recovers_an_exact_line() -> None:
    x = list(range(10))
    line = theil_sen(x, [2.0 * v + 1.0 for v in x])
    assert (line.slope, line.intercept, line.low, line.high) == (2.0, 1.0, 2.0, 2.0)


def test_theil_sen_ci_contains_a_ramp_of_005_ms_per_second() -> None:
    # diagnosis.md §11: a linear ramp of +0.05 ms/s; the interval must contain 0.05
    rng = np.random.default_rng(1)
    t = np.arange(600.0)
    y = 50.0 + 0.05 * t + rng.normal(0.0, 2.0, t.size)
    line = theil_sen(t, y)
    assert line.low < 0.05 < line.high
    assert kendall_trend(y).p_rising < 1e-30


def test_a_level_shift_is_a_monotone_trend_but_a_small_slope() -> None:
    # diagnosis.md §11: 100 → 112 at index 60
    rng = np.random.default_rng(2)
    y = np.concatenate([100 + rng.normal(0, 1, 60), 112 + rng.normal(0, 1, 60)])
    assert kendall_trend(y).p_rising < 1e-10
    assert 0.0 < theil_sen(np.arange(120.0), y).slope < 0.3


def test_mann_whitney_matches_scipy() -> None:
    # scipy.stats.mannwhitneyu([1..5], [6..10]) (asymptotic, continuity) p = 0.01219
    u, p = mann_whitney([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
    assert u == 0.0 and p == pytest.approx(0.012186, abs=1e-5)


def test_benjamini_hochberg_matches_r_p_adjust() -> None:
    # R: p.adjust(c(0.01, 0.04, 0.03, 0.2), "BH") == 0.04 0.0533 0.0533 0.2
    adjusted = benjamini_hochberg([0.01, 0.04, 0.03, 0.2])
    assert adjusted == pytest.approx([0.04, 0.053333, 0.053333, 0.2], abs=1e-5)


def test_mann_whitney_on_counts_equals_it_on_the_values_they_stand_for() -> None:
    # Latency histograms hold buckets and counts; expanding them to one value per request
    # cost 1.5 GB at the end of a 10-minute run of 90 million requests.
    from loadlens.analysis.stats import mann_whitney_greater, mann_whitney_greater_counts

    rng = np.random.default_rng(7)
    for _ in range(100):
        x = rng.integers(0, 30, int(rng.integers(1, 300))).astype(float)
        y = rng.integers(0, 40, int(rng.integers(1, 300))).astype(float)
        (xv, xc), (yv, yc) = np.unique(x, return_counts=True), np.unique(y, return_counts=True)
        expected = mann_whitney_greater(x, y)
        assert mann_whitney_greater_counts(xv, xc, yv, yc) == pytest.approx(expected, rel=1e-9)
    same = np.array([5.0])
    assert mann_whitney_greater_counts(same, np.array([10]), same, np.array([20])) == 1.0


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ([41.0, 43.5, 39.8, 44.1, 42.2, 40.9], [1.2, 0.9, 1.4, 1.1]),
        ([5.0, 5.5, 4.8, 5.1, 5.3], [5.2, 4.9, 5.4, 5.0, 5.1, 5.6, 4.7]),
    ],
)
def test_welch_from_sums_matches_scipy_on_the_values(a: list[float], b: list[float]) -> None:
    from scipy import stats

    test = stats.ttest_ind(a, b, equal_var=False)
    interval = test.confidence_interval(0.95)
    result = welch(len(a), sum(a), sum(x * x for x in a), len(b), sum(b), sum(x * x for x in b))
    assert result.difference == pytest.approx(np.mean(a) - np.mean(b), rel=1e-9)
    assert result.p == pytest.approx(test.pvalue, rel=1e-6)
    assert (result.low, result.high) == pytest.approx((interval.low, interval.high), rel=1e-6)
