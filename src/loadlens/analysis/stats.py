"""The small statistics the diagnosis needs: SciPy's tested implementations where it has
them, hand-written (to the textbook or R's definition) where it does not.

Each function's results can be checked against published values; the tests do so.

- `fisher_exact`: Fisher's exact test on a 2×2 table (`scipy.stats.fisher_exact`; two-sided
  as R's `fisher.test`: the tables no more probable than the observed one).
- `wilson`: the Wilson score interval of a proportion; sane at 0 % and 100 %.
- `trend_test`: the Cochran–Armitage test for a trend in proportions across ordered groups
  (R's `prop.trend.test`), signed so a positive z means the rate rises with the score.
- `theil_sen`: the median of pairwise slopes with Sen's (1968) confidence interval (as SciPy's
  `theilslopes`), and `kendall_trend`: the Mann–Kendall test of a monotone trend.
- `mann_whitney`: the rank-sum test, normal approximation with tie correction
  (`scipy.stats.mannwhitneyu`).
- `benjamini_hochberg`: false-discovery-rate adjusted p-values
  (`scipy.stats.false_discovery_control`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from scipy import stats as scipy_stats

_NORMAL = NormalDist()


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z (accurate far into the tail)."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def fisher_exact(a: int, b: int, c: int, d: int, alternative: str = "two-sided") -> float:
    """The p-value of Fisher's exact test on [[a, b], [c, d]] (`scipy.stats.fisher_exact`).

    `alternative` is "two-sided", "greater" (a is larger than independence predicts: the
    first row is enriched in the first column) or "less".
    """
    if min(a, b, c, d) < 0:
        raise ValueError("a contingency table holds counts, not negative numbers")
    if alternative not in ("two-sided", "greater", "less"):
        raise ValueError(f"unknown alternative {alternative!r}")
    result = scipy_stats.fisher_exact([[a, b], [c, d]], alternative=alternative)
    return min(1.0, float(result.pvalue))


def wilson(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of successes/trials; (0, 1) when there were no trials."""
    if trials <= 0:
        return 0.0, 1.0
    z = _NORMAL.inv_cdf(0.5 + confidence / 2.0)
    p = successes / trials
    denominator = 1.0 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True, slots=True)
class Trend:
    """A trend test's statistic (positive: rising) and its p-values."""

    z: float
    p_two_sided: float
    p_rising: float  # one-sided: the rate (or series) rises


def trend_test(events: Sequence[int], totals: Sequence[int], scores: Sequence[float]) -> Trend:
    """Cochran–Armitage test of a linear trend in events/totals across groups with `scores`.

    z² equals R's `prop.trend.test` statistic. Groups with no trials are ignored; with fewer
    than two groups, or no variation, there is no evidence of a trend (z = 0, p = 1).
    """
    rows = [(e, t, s) for e, t, s in zip(events, totals, scores, strict=True) if t > 0]
    n = sum(t for _, t, _ in rows)
    events_total = sum(e for e, _, _ in rows)
    if len(rows) < 2 or n == 0 or events_total in (0, n):
        return Trend(0.0, 1.0, 1.0)
    p = events_total / n
    mean_score = sum(t * s for _, t, s in rows) / n
    numerator = sum(e * (s - mean_score) for e, _, s in rows)
    variance = p * (1 - p) * sum(t * (s - mean_score) ** 2 for _, t, s in rows)
    if variance <= 0:
        return Trend(0.0, 1.0, 1.0)
    z = numerator / math.sqrt(variance)
    return Trend(z, min(1.0, 2 * normal_sf(abs(z))), normal_sf(z))


@dataclass(frozen=True, slots=True)
class Slope:
    """A Theil–Sen line with Sen's confidence interval for the slope."""

    slope: float
    intercept: float
    low: float
    high: float
    points: int


def theil_sen(x: Sequence[float], y: Sequence[float], confidence: float = 0.95) -> Slope:
    """The median of pairwise slopes of (x, y), its intercept and confidence interval."""
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    if xs.size != ys.size or xs.size < 2:
        raise ValueError("Theil–Sen needs at least two (x, y) points of equal length")
    i, j = np.triu_indices(xs.size, k=1)
    dx = xs[j] - xs[i]
    keep = dx != 0
    if not keep.any():
        raise ValueError("Theil–Sen needs at least two distinct x values")
    slopes = np.sort((ys[j] - ys[i])[keep] / dx[keep])
    slope = float(np.median(slopes))
    intercept = float(np.median(ys) - slope * np.median(xs))
    # Sen (1968), eq. 2.6: the variance of Kendall's S, corrected for ties in x and y.
    n = xs.size
    variance = (n * (n - 1) * (2 * n + 5) - _tie_term(xs) - _tie_term(ys)) / 18.0
    z = _NORMAL.inv_cdf(0.5 + confidence / 2.0)
    count = slopes.size
    spread = z * math.sqrt(max(variance, 0.0))
    low_index = max(round((count - spread) / 2.0) - 1, 0)
    high_index = min(round((count + spread) / 2.0), count - 1)
    return Slope(slope, intercept, float(slopes[low_index]), float(slopes[high_index]), int(n))


def _tie_term(values: np.ndarray) -> float:
    _, counts = np.unique(values, return_counts=True)
    counts = counts[counts > 1].astype(np.float64)
    return float(np.sum(counts * (counts - 1) * (2 * counts + 5)))


def kendall_trend(y: Sequence[float]) -> Trend:
    """The Mann–Kendall test of a monotone trend in a series against its order."""
    ys = np.asarray(y, dtype=np.float64)
    n = ys.size
    if n < 3:
        return Trend(0.0, 1.0, 1.0)
    i, j = np.triu_indices(n, k=1)
    s = float(np.sign(ys[j] - ys[i]).sum())
    variance = (n * (n - 1) * (2 * n + 5) - _tie_term(ys)) / 18.0
    if variance <= 0:
        return Trend(0.0, 1.0, 1.0)
    # continuity correction, as in the Mann–Kendall literature
    z = (s - math.copysign(1.0, s)) / math.sqrt(variance) if s else 0.0
    return Trend(z, min(1.0, 2 * normal_sf(abs(z))), normal_sf(z))


def mann_whitney(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """U of x and the two-sided p-value (`scipy.stats.mannwhitneyu`: normal approximation,
    tie-corrected, with continuity correction)."""
    if len(x) == 0 or len(y) == 0:
        raise ValueError("Mann–Whitney needs two non-empty samples")
    result = scipy_stats.mannwhitneyu(x, y, alternative="two-sided", method="asymptotic")
    p = float(result.pvalue)
    return float(result.statistic), 1.0 if math.isnan(p) else p


def mann_whitney_greater(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """The one-sided p-value that x tends to be larger than y (`scipy.stats.mannwhitneyu`,
    normal approximation, tie-corrected: fit for bucketed latencies, which tie a lot)."""
    if len(x) == 0 or len(y) == 0:
        raise ValueError("Mann–Whitney needs two non-empty samples")
    result = scipy_stats.mannwhitneyu(x, y, alternative="greater", method="asymptotic")
    p = float(result.pvalue)
    return 1.0 if math.isnan(p) else p


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini–Hochberg adjusted p-values, in the order given
    (`scipy.stats.false_discovery_control`)."""
    if len(p_values) == 0:
        return []
    adjusted = scipy_stats.false_discovery_control(np.asarray(p_values, dtype=np.float64))
    return [float(p) for p in adjusted]
