"""Bootstrap intervals for percentile differences, drawn straight from HDR histograms.

How it works: a histogram is a list of distinct values (each bucket's highest equivalent
value, as the percentiles in result.json are reported) with their counts. A percentile is the
value at rank k = max(1, round(q·n)) (as `LatencySummary` reads it, so point estimates match the
report). Resampling n latencies with replacement and taking the k-th smallest is the same, in
distribution, as drawing U ~ Beta(k, n − k + 1) and reading the histogram's inverse CDF at U:
exact, and a thousand resamples of a million-request run cost a thousand Beta draws and a
binary search, not a billion values (or a multinomial over every bucket).

Latencies within a run are autocorrelated (queueing), so an i.i.d. bootstrap gives intervals
somewhat too narrow; the tolerance of `compare` is there so that small, significant-looking
shifts are not called regressions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from loadlens.metrics.histogram import decode_histogram, recorded

DEFAULT_RESAMPLES = 1000
_US_PER_MS = 1000.0
_Z95 = 1.959964


@dataclass(frozen=True, slots=True)
class Distribution:
    """A latency histogram as sorted distinct values (ms) and their counts."""

    values: npt.NDArray[np.float64]
    counts: npt.NDArray[np.int64]

    @property
    def total(self) -> int:
        """How many latencies it holds."""
        return int(self.counts.sum())

    @classmethod
    def from_encoded(cls, text: str) -> Distribution:
        """The distribution of an encoded histogram (`OpStats.histogram`)."""
        return cls.from_histogram(decode_histogram(text))

    @classmethod
    def from_histogram(cls, h: Any) -> Distribution:
        """The distribution of an hdrh histogram."""
        highest, counts = recorded(h)
        return cls(highest.astype(np.float64) / _US_PER_MS, counts)

    def median_interval(self) -> tuple[float, float, float]:
        """The median and its distribution-free 95 % interval (order statistics around n/2,
        binomial ranks); zeros when empty."""
        n = self.total
        if n == 0:
            return 0.0, 0.0, 0.0
        cumulative = np.cumsum(self.counts)
        half = _Z95 * math.sqrt(n) / 2.0
        ranks = [n / 2.0, max(n / 2.0 - half, 1.0), min(n / 2.0 + half, float(n))]
        at = np.searchsorted(cumulative, np.ceil(ranks), side="left")
        median, low, high = (float(self.values[min(int(i), self.values.size - 1)]) for i in at)
        return median, low, high

    def share_above(self, value: float) -> float:
        """The fraction of its latencies above `value`; 0 when empty."""
        total = self.total
        return float(self.counts[self.values > value].sum()) / total if total else 0.0

    def percentiles(self, quantiles: Sequence[float]) -> npt.NDArray[np.float64]:
        """The percentiles (0..100) of the distribution itself; zeros when empty."""
        if self.total == 0:
            return np.zeros(len(quantiles))
        row: npt.NDArray[np.float64] = _read(
            self.values, np.cumsum(self.counts)[None, :], quantiles
        )[0]
        return row


def _read(
    values: npt.NDArray[np.float64], cumulative: npt.NDArray[np.int64], quantiles: Sequence[float]
) -> npt.NDArray[np.float64]:
    """Percentiles of each row of running counts: shape (rows, len(quantiles))."""
    total = cumulative[:, -1:]
    targets = np.maximum((np.asarray(quantiles)[None, :] * total / 100.0 + 0.5).astype(np.int64), 1)
    at = np.empty(targets.shape, dtype=np.int64)
    for row in range(cumulative.shape[0]):
        at[row] = np.searchsorted(cumulative[row], targets[row], side="left")
    result: npt.NDArray[np.float64] = values[np.minimum(at, values.size - 1)]
    return result


def resample_percentiles(
    dist: Distribution, quantiles: Sequence[float], resamples: int, rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    """Percentiles of `resamples` bootstrap resamples: shape (resamples, len(quantiles)).

    The k-th smallest of n draws from a distribution F is F⁻¹(U), U ~ Beta(k, n − k + 1), so
    each resample's percentile is drawn directly, without drawing its n latencies.
    """
    n = dist.total
    if n == 0:
        return np.zeros((resamples, len(quantiles)))
    cumulative = np.cumsum(dist.counts)
    result = np.empty((resamples, len(quantiles)), dtype=np.float64)
    for column, q in enumerate(quantiles):
        rank = max(int(q * n / 100.0 + 0.5), 1)
        u = rng.beta(rank, n - rank + 1, size=resamples)
        at = np.searchsorted(cumulative, u * n, side="left")
        result[:, column] = dist.values[np.minimum(at, dist.values.size - 1)]
    return result


@dataclass(frozen=True, slots=True)
class Interval:
    """A bootstrap interval of the difference `b − a`."""

    low: float
    high: float

    @property
    def excludes_zero(self) -> bool:
        """Whether the difference is significant at the interval's confidence."""
        return self.low > 0.0 or self.high < 0.0


def difference_intervals(
    a: Distribution,
    b: Distribution,
    quantiles: Sequence[float],
    *,
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> list[Interval]:
    """Percentile bootstrap intervals of `pX(b) − pX(a)`, one per quantile; deterministic."""
    rng = np.random.default_rng(seed)
    deltas = resample_percentiles(b, quantiles, resamples, rng) - resample_percentiles(
        a, quantiles, resamples, rng
    )
    tail = (1.0 - confidence) / 2.0 * 100.0
    low = np.percentile(deltas, tail, axis=0)
    high = np.percentile(deltas, 100.0 - tail, axis=0)
    return [Interval(float(lo), float(hi)) for lo, hi in zip(low, high, strict=True)]
