"""Change points in a history of runs: E-divisive means with a t-test for significance.

How it works (Matteson & James 2014, with the changes of Fleming et al., ICPE 2023): for a
segment of the series, every split point `τ` with at least `min_size` values on each side is
scored by the energy divergence between the two sides,

    Q(τ) = m·k/(m+k) · (2·mean|a − b| − mean|a − a'| − mean|b − b'|)

(a on the left, b on the right, m and k their sizes). The best split is kept if a Welch t-test
between its two sides says the means differ (p ≤ a threshold); then both sides are split in
turn. Pairwise distances are read from one 2-D prefix sum, so each score costs O(1) after an
O(n²) set-up: a few milliseconds for the few hundred runs a history holds.

As in Hunter, the split pass uses a relaxed threshold (10 × `max_pvalue`, at most 0.05) so
that two close changes can both be found, and a merge pass then re-tests every point between
its neighbours and drops the weakest until each passes `max_pvalue`. The t-test (not E-divisive's
permutation test) keeps the result deterministic. The p-values come from the Student t
distribution computed here, so numpy is the only dependency.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

SPLIT_PVALUE_FACTOR = 10.0  # the split pass is this much laxer than the merge pass
MAX_SPLIT_PVALUE = 0.05


@dataclass(frozen=True, slots=True)
class ChangePoint:
    """A step in a series: `index` is the first value after it."""

    index: int
    mean_before: float
    mean_after: float
    stdev_before: float
    stdev_after: float
    pvalue: float

    @property
    def relative_change(self) -> float:
        """`mean_after / mean_before − 1`; ±inf when the mean before was 0."""
        if self.mean_before == 0:
            return 0.0 if self.mean_after == 0 else math.copysign(math.inf, self.mean_after)
        return self.mean_after / self.mean_before - 1.0


def detect(
    values: Sequence[float], *, max_pvalue: float = 0.001, min_size: int = 3
) -> list[ChangePoint]:
    """The change points of a series, in index order."""
    if min_size < 1:
        raise ValueError(f"min_size must be at least 1, not {min_size}")
    series = np.asarray(values, dtype=np.float64)
    if series.size < 2 * min_size or not np.all(np.isfinite(series)):
        return []
    prefix = _distance_prefix(series)
    split_pvalue = min(max_pvalue * SPLIT_PVALUE_FACTOR, max(MAX_SPLIT_PVALUE, max_pvalue))
    indices = sorted(_split(series, prefix, 0, series.size, split_pvalue, min_size))
    indices = _merge(series, indices, max_pvalue)
    return [_describe(series, indices, i) for i in range(len(indices))]


def _distance_prefix(series: FloatArray) -> FloatArray:
    """P[i, j] = sum of |x_a − x_b| over a < i, b < j (so any block sum is four lookups)."""
    distances = np.abs(series[:, None] - series[None, :])
    prefix = np.zeros((series.size + 1, series.size + 1), dtype=np.float64)
    prefix[1:, 1:] = distances.cumsum(axis=0).cumsum(axis=1)
    return prefix


def _block(prefix: FloatArray, r0: int, r1: int, c0: int, c1: int) -> float:
    return float(prefix[r1, c1] - prefix[r0, c1] - prefix[r1, c0] + prefix[r0, c0])


def _best_split(prefix: FloatArray, lo: int, hi: int, min_size: int) -> tuple[int, float]:
    """The split of [lo, hi) with the largest divergence, and that divergence."""
    best, best_q = -1, 0.0
    for tau in range(lo + min_size, hi - min_size + 1):
        m, k = tau - lo, hi - tau
        between = _block(prefix, lo, tau, tau, hi) / (m * k)
        # the blocks count each unordered pair twice and the zero diagonal once per element
        within_a = _block(prefix, lo, tau, lo, tau) / (m * (m - 1)) if m > 1 else 0.0
        within_b = _block(prefix, tau, hi, tau, hi) / (k * (k - 1)) if k > 1 else 0.0
        q = m * k / (m + k) * (2.0 * between - within_a - within_b)
        if q > best_q:
            best, best_q = tau, q
    return best, best_q


def _split(
    series: FloatArray, prefix: FloatArray, lo: int, hi: int, max_pvalue: float, min_size: int
) -> list[int]:
    if hi - lo < 2 * min_size:
        return []
    tau, q = _best_split(prefix, lo, hi, min_size)
    if tau < 0 or q <= 0.0 or welch_pvalue(series[lo:tau], series[tau:hi]) > max_pvalue:
        return []
    return [
        *_split(series, prefix, lo, tau, max_pvalue, min_size),
        tau,
        *_split(series, prefix, tau, hi, max_pvalue, min_size),
    ]


def _merge(series: FloatArray, indices: list[int], max_pvalue: float) -> list[int]:
    """Drop the weakest point until every one is significant between its neighbours."""
    indices = list(indices)
    while indices:
        pvalues = [_pvalue_between(series, indices, i) for i in range(len(indices))]
        weakest = int(np.argmax(pvalues))
        if pvalues[weakest] <= max_pvalue:
            break
        del indices[weakest]
    return indices


def _bounds(size: int, indices: list[int], i: int) -> tuple[int, int, int]:
    lo = indices[i - 1] if i > 0 else 0
    hi = indices[i + 1] if i + 1 < len(indices) else size
    return lo, indices[i], hi


def _pvalue_between(series: FloatArray, indices: list[int], i: int) -> float:
    lo, mid, hi = _bounds(series.size, indices, i)
    return welch_pvalue(series[lo:mid], series[mid:hi])


def _describe(series: FloatArray, indices: list[int], i: int) -> ChangePoint:
    lo, mid, hi = _bounds(series.size, indices, i)
    before, after = series[lo:mid], series[mid:hi]
    return ChangePoint(
        index=mid,
        mean_before=float(before.mean()),
        mean_after=float(after.mean()),
        stdev_before=_stdev(before),
        stdev_after=_stdev(after),
        pvalue=welch_pvalue(before, after),
    )


def _stdev(values: FloatArray) -> float:
    return float(values.std(ddof=1)) if values.size > 1 else 0.0


def welch_pvalue(a: FloatArray, b: FloatArray) -> float:
    """Two-sided p-value of Welch's t-test that `a` and `b` have the same mean."""
    if a.size < 1 or b.size < 1:
        return 1.0
    diff = float(a.mean() - b.mean())
    va = float(a.var(ddof=1)) / a.size if a.size > 1 else 0.0
    vb = float(b.var(ddof=1)) / b.size if b.size > 1 else 0.0
    se2 = va + vb
    scale = max(abs(float(a.mean())), abs(float(b.mean())), 1.0)
    if se2 <= (1e-12 * scale) ** 2:
        # no spread on either side: identical means are no change, different ones certain
        return 1.0 if abs(diff) <= 1e-12 * scale else 0.0
    t = diff / math.sqrt(se2)
    dof_denominator = (va * va / (a.size - 1) if a.size > 1 else 0.0) + (
        vb * vb / (b.size - 1) if b.size > 1 else 0.0
    )
    dof = se2 * se2 / dof_denominator if dof_denominator > 0 else 1.0
    return student_t_sf2(t, dof)


def student_t_sf2(t: float, dof: float) -> float:
    """P(|T| ≥ |t|) for Student's t with `dof` degrees of freedom."""
    x = dof / (dof + t * t)
    return min(1.0, max(0.0, _regularized_beta(x, dof / 2.0, 0.5)))


def _regularized_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b), by the continued fraction of the incomplete beta function (Lentz's method)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    # The fraction converges fast for x < (a + 1) / (a + b + 2); use the symmetry otherwise.
    if x > (a + 1.0) / (a + b + 2.0):
        return 1.0 - _regularized_beta(1.0 - x, b, a)
    return math.exp(log_front) * _beta_fraction(x, a, b) / a


def _beta_fraction(x: float, a: float, b: float) -> float:
    tiny, epsilon = 1e-300, 1e-15
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 500):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1.0) < epsilon:
            break
    return result
