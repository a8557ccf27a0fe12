"""The statistics the diagnosis needs: SciPy's tested implementations behind a small API.

Each function follows the textbook (or R's) definition so its results can be checked against
published values; the tests do so. Where `scipy.stats` has the method it is used; what is
written here is only what SciPy lacks.

- `fisher_exact`: Fisher's exact test on a 2×2 table (`scipy.stats.fisher_exact`; two-sided
  as R's `fisher.test`).
- `wilson`: the Wilson score interval of a proportion (`binomtest(...).proportion_ci`).
- `binomial_excess`: is a proportion above a background rate (a one-sided binomial test, as
  `scipy.stats.binomtest`, through `scipy.special.betainc`)? This and `benjamini_hochberg` are
  what every run's diagnosis calls, so neither imports `scipy.stats` (~1 s of a run's wrap-up).
- `trend_test`: the Cochran–Armitage test for a trend in proportions across ordered groups
  (R's `prop.trend.test`; SciPy has none), signed so a positive z means the rate rises.
- `theil_sen`: the median of pairwise slopes with Sen's (1968) confidence interval
  (`scipy.stats.theilslopes`), and `kendall_trend`: the Mann–Kendall test of a monotone trend,
  with the variance of its statistic inflated for lag-1 autocorrelation (`effective_size`).
- `mann_whitney`: the rank-sum test (`scipy.stats.mannwhitneyu`, asymptotic, tie-corrected),
  and `mann_whitney_greater`, its one-sided p-value.
- `benjamini_hochberg`: false-discovery-rate adjusted p-values (as
  `scipy.stats.false_discovery_control`; written out, see below).
- `welch`: the difference of two means from sums and sums of squares, with its interval
  (Student's t through `scipy.special`, for the same reason as `binomial_excess`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

_NORMAL = NormalDist()


class _LazyScipyStats:
    """`scipy.stats`, imported at its first use: it is ~70 MB of a process's memory, and the
    coordinator judges its gates during a run without it (the Wilson interval below is
    closed-form), so a run's processes stay smaller while the load is on."""

    def __getattr__(self, name: str) -> Any:
        from scipy import stats

        return getattr(stats, name)


scipy_stats = _LazyScipyStats()


def preload() -> None:
    """Import now what the diagnosis will need at a run's end (`scipy.special`, ~0.25 s): the
    CLI calls it while the workers boot, when this process would otherwise wait."""
    import scipy.special  # noqa: F401


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
    if a + b + c + d == 0:
        return 1.0
    return float(scipy_stats.fisher_exact([[a, b], [c, d]], alternative=alternative).pvalue)


def wilson(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of successes/trials; (0, 1) when there were no trials."""
    if trials <= 0:
        return 0.0, 1.0
    # The score interval in closed form (scipy's `proportion_ci(method="wilson")`).
    z = _NORMAL.inv_cdf(1 - (1 - confidence) / 2)
    p = successes / trials
    denominator = 1 + z * z / trials
    center = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, center - half), min(1.0, center + half)


def binomial_excess(successes: int, trials: int, background: float) -> float:
    """The one-sided p-value that successes/trials exceeds `background` (1 when no trials)."""
    if trials <= 0 or successes <= 0:
        return 1.0
    if successes > trials:
        raise ValueError(f"{successes} successes in {trials} trials")
    if background <= 0.0 or background >= 1.0:
        return 0.0 if background <= 0.0 else 1.0  # any success is above a rate of nothing
    # P(X >= k) for X ~ Binomial(n, p) is the regularized incomplete beta I_p(k, n - k + 1):
    # the value `scipy.stats.binomtest(..., alternative="greater")` gives, through
    # `scipy.special`, which a run's wrap-up imports in a quarter of `scipy.stats`'s time.
    from scipy.special import betainc

    return float(betainc(successes, trials - successes + 1, background))


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
    if np.unique(xs).size < 2:
        raise ValueError("Theil–Sen needs at least two distinct x values")
    fit = scipy_stats.theilslopes(ys, xs, alpha=confidence)
    return Slope(
        float(fit.slope), float(fit.intercept), float(fit.low_slope), float(fit.high_slope), xs.size
    )


def lag1_autocorrelation(y: Sequence[float]) -> float:
    """The lag-1 autocorrelation of a series (0 for fewer than 3 points or no variance)."""
    ys = np.asarray(y, dtype=np.float64)
    if ys.size < 3:
        return 0.0
    centred = ys - ys.mean()
    denominator = float(np.dot(centred, centred))
    if denominator <= 0:
        return 0.0
    return float(np.dot(centred[:-1], centred[1:]) / denominator)


def effective_size(n: int, rho: float) -> float:
    """How many independent points n points with lag-1 autocorrelation rho are worth.

    The AR(1) variance inflation n·(1 − ρ)/(1 + ρ) (Bayley & Hammersley 1946); a negative ρ
    is taken as 0, so the correction only ever widens an interval.
    """
    rho = min(max(rho, 0.0), 0.99)
    return max(2.0, n * (1 - rho) / (1 + rho))


def kendall_trend(y: Sequence[float], *, autocorrelated: bool = False) -> Trend:
    """The Mann–Kendall test of a monotone trend in a series against its order.

    With `autocorrelated`, the variance of S is inflated by n / n_eff from the series' lag-1
    autocorrelation (of its residuals after the Theil–Sen trend), so a series whose
    neighbours move together does not get p-values that are too small (Hamed & Rao 1998,
    simplified to lag 1).
    """
    ys = np.asarray(y, dtype=np.float64)
    n = ys.size
    if n < 3:
        return Trend(0.0, 1.0, 1.0)
    i, j = np.triu_indices(n, k=1)
    s = float(np.sign(ys[j] - ys[i]).sum())
    variance = (n * (n - 1) * (2 * n + 5) - _tie_term(ys)) / 18.0
    if variance <= 0:
        return Trend(0.0, 1.0, 1.0)
    if autocorrelated:
        xs = np.arange(n, dtype=np.float64)
        fit = scipy_stats.theilslopes(ys, xs)
        residuals = ys - (fit.intercept + fit.slope * xs)
        variance *= n / effective_size(n, lag1_autocorrelation(residuals.tolist()))
    # continuity correction, as in the Mann–Kendall literature
    z = (s - math.copysign(1.0, s)) / math.sqrt(variance) if s else 0.0
    return Trend(z, min(1.0, 2 * normal_sf(abs(z))), normal_sf(z))


def _tie_term(values: np.ndarray) -> float:
    _, counts = np.unique(values, return_counts=True)
    counts = counts[counts > 1].astype(np.float64)
    return float(np.sum(counts * (counts - 1) * (2 * counts + 5)))


def mann_whitney(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """U of x and the two-sided p-value (normal approximation, tie-corrected, continuity)."""
    if len(x) == 0 or len(y) == 0:
        raise ValueError("Mann–Whitney needs two non-empty samples")
    both = np.concatenate([np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)])
    if np.unique(both).size < 2:
        return len(x) * len(y) / 2.0, 1.0
    test = scipy_stats.mannwhitneyu(x, y, alternative="two-sided", method="asymptotic")
    return float(test.statistic), float(test.pvalue)


def mann_whitney_greater(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """The one-sided p-value that x tends to be larger than y (`scipy.stats.mannwhitneyu`,
    normal approximation, tie-corrected: fit for bucketed latencies, which tie a lot)."""
    if len(x) == 0 or len(y) == 0:
        raise ValueError("Mann–Whitney needs two non-empty samples")
    result = scipy_stats.mannwhitneyu(x, y, alternative="greater", method="asymptotic")
    p = float(result.pvalue)
    return 1.0 if math.isnan(p) else p


def mann_whitney_greater_counts(
    x_values: np.ndarray, x_counts: np.ndarray, y_values: np.ndarray, y_counts: np.ndarray
) -> float:
    """`mann_whitney_greater` on two samples held as sorted distinct values and their counts
    (latency histograms): the same statistic, tie correction and continuity correction, in
    memory proportional to the buckets, not to the requests (90 million in a 10-minute run)."""
    n1, n2 = int(x_counts.sum()), int(y_counts.sum())
    if n1 == 0 or n2 == 0:
        raise ValueError("Mann–Whitney needs two non-empty samples")
    values = np.union1d(x_values, y_values)
    nx = np.zeros(values.size, dtype=np.float64)
    ny = np.zeros(values.size, dtype=np.float64)
    nx[np.searchsorted(values, x_values)] = x_counts
    ny[np.searchsorted(values, y_values)] = y_counts
    below = np.cumsum(ny) - ny  # y latencies strictly below each value
    u = float(np.sum(nx * (below + 0.5 * ny)))
    n = n1 + n2
    ties = nx + ny
    tie_term = float(np.sum(ties**3 - ties))
    variance = n1 * n2 / 12.0 * ((n + 1) - tie_term / (n * (n - 1)))
    if variance <= 0:
        return 1.0  # every latency equal: nothing tends to be larger
    z = (u - n1 * n2 / 2.0 - 0.5) / math.sqrt(variance)
    return normal_sf(z)


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini–Hochberg adjusted p-values, in the order given."""
    if not p_values:
        return []
    # p_(i) * m / i over the ascending p-values, made monotone from the largest down and
    # capped at 1 (`scipy.stats.false_discovery_control`'s "bh", without importing it).
    values = np.asarray(p_values, dtype=np.float64)
    order = np.argsort(values)
    count = len(values)
    scaled = values[order] * count / np.arange(1, count + 1)
    monotone = np.minimum.accumulate(scaled[::-1])[::-1]
    adjusted = np.empty(count, dtype=np.float64)
    adjusted[order] = np.minimum(monotone, 1.0)
    return [float(p) for p in adjusted]


@dataclass(frozen=True, slots=True)
class MeanDifference:
    """The difference of two means (a − b) with its 95 % interval and two-sided p-value."""

    difference: float
    low: float
    high: float
    p: float


def welch(
    n_a: int, sum_a: float, squares_a: float, n_b: int, sum_b: float, squares_b: float
) -> MeanDifference:
    """Welch's t-test of mean(a) − mean(b) from counts, sums and sums of squares."""
    if n_a < 2 or n_b < 2:
        raise ValueError("Welch's test needs at least two values on each side")
    mean_a, mean_b = sum_a / n_a, sum_b / n_b
    var_a = max(squares_a - n_a * mean_a * mean_a, 0.0) / (n_a - 1)
    var_b = max(squares_b - n_b * mean_b * mean_b, 0.0) / (n_b - 1)
    se_a, se_b = var_a / n_a, var_b / n_b
    difference = mean_a - mean_b
    se = math.sqrt(se_a + se_b)
    if se == 0:
        p = 0.0 if difference else 1.0
        return MeanDifference(difference, difference, difference, p)
    dof = (se_a + se_b) ** 2 / (se_a**2 / (n_a - 1) + se_b**2 / (n_b - 1))
    # Student's t through `scipy.special`, as `scipy.stats.t` computes it (`ppf` is `stdtrit`,
    # `sf(x)` is `stdtr(dof, -x)`): the Nagle check runs at every run's wrap-up, and
    # `scipy.stats` would add ~0.4 s of imports to it.
    from scipy.special import stdtr, stdtrit

    t = float(stdtrit(dof, 0.975))
    p = float(2 * stdtr(dof, -abs(difference) / se))
    return MeanDifference(difference, difference - t * se, difference + t * se, p)
