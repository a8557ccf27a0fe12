"""Latency histograms: HDR histograms of microseconds, their text encoding, and their summary.

How it works: every latency lives in an `hdrh` HdrHistogram covering 1 µs .. 1 h at 3
significant digits. Recording one value at a time through `hdrh` costs about 1.7 µs, so the
recorder buffers raw values and hands them here in bulk: `record_values` maps a whole numpy
array to counts-array indices at once (the same arithmetic `hdrh` uses per value) and adds the
counts in place. Summaries read the counts array with numpy too, because `hdrh` walks its
23,552 counters in Python for every percentile it is asked. Both shortcuts are checked
against `hdrh`'s own methods in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.ctypeslib  # imported now: a lazy import under load can fail for want of fds
import numpy.typing as npt
from hdrh.histogram import HdrHistogram as _HdrHistogram

# hdrh ships no type information; the alias keeps strict mypy honest about where it is blind.
HdrHistogram = Any

LOWEST_US = 1
HIGHEST_US = 3_600_000_000  # one hour: a longer request is clamped to it, never dropped
SIGNIFICANT_DIGITS = 3

_US_PER_MS = 1000.0
_PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)

IntArray = npt.NDArray[np.int64]

# Values a BulkHistogram keeps as a list before recording them: about 0.2 ms of work each time.
FOLD_EVERY: Final = 4096


def new_histogram() -> HdrHistogram:
    """An empty latency histogram with loadlens' range and precision."""
    return _HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


def encode_histogram(h: HdrHistogram) -> str:
    """The histogram as compressed base64 text (HdrHistogram V2 format); "" when empty."""
    if h.get_total_count() == 0:
        return ""
    encoded: bytes = h.encode()
    return encoded.decode("ascii")


def decode_histogram(text: str) -> HdrHistogram:
    """The histogram that `encode_histogram` wrote; "" gives an empty one."""
    if not text:
        return new_histogram()
    return _HdrHistogram.decode(text)


def merge_into(target: HdrHistogram, source: HdrHistogram) -> None:
    """Add every count of `source` to `target` (lossless for histograms of the same shape)."""
    if source.get_total_count():
        target.add(source)


def record_values(h: HdrHistogram, values: IntArray) -> int:
    """Record an array of microsecond latencies; return how many were clamped to the range."""
    if values.size == 0:
        return 0
    clamped = int(np.count_nonzero(values > HIGHEST_US)) + int(np.count_nonzero(values < LOWEST_US))
    values = np.clip(values, LOWEST_US, HIGHEST_US)
    counters = _counters(h)
    # bincount is linear, unlike sorting for np.unique: ~1 ms for 100k values. Only up to the
    # highest index met: the whole counts array (~47k for 1 µs .. 1 h) cost more than 4,096
    # values' own work, at each fold.
    counts = np.bincount(_counts_indices(h, values))
    counters[: counts.size] += counts.astype(np.uint64)
    # The same bookkeeping hdrh's record_value does, once for the whole array.
    h.total_count += int(values.size)
    h.min_value = min(h.min_value, int(values.min()))
    h.max_value = max(h.max_value, int(values.max()))
    return clamped


def shift_into(target: HdrHistogram, source: HdrHistogram, delta_us: int) -> None:
    """Add `source` to `target` with every value moved by `delta_us` (kept within the range).

    Each counter moves as the highest value it stands for (what percentiles report), so a
    percentile of the result is the source's moved by `delta_us`, to the histogram's precision.
    """
    if delta_us == 0:
        merge_into(target, source)
        return
    counters = _counters(source)
    indices = np.flatnonzero(counters).astype(np.int64)
    if indices.size == 0:
        return
    lowest, width = _index_ranges(source, indices)
    moved = np.clip(lowest + width - 1 + delta_us, LOWEST_US, HIGHEST_US)
    counts = counters[indices]
    np.add.at(_counters(target), _counts_indices(target, moved), counts)
    target.total_count += int(counts.sum())
    target.min_value = min(target.min_value, int(moved.min()))
    target.max_value = max(target.max_value, int(moved.max()))


def count_beyond(h: HdrHistogram, value_us: int, *, above: bool) -> int:
    """How many recorded values surely lie above `value_us` (their whole counter's range does),
    or, with `above=False`, surely below it."""
    counters = _counters(h)
    indices = np.flatnonzero(counters).astype(np.int64)
    if indices.size == 0:
        return 0
    lowest, width = _index_ranges(h, indices)
    beyond = lowest > value_us if above else lowest + width - 1 < value_us
    return int(counters[indices][beyond].sum())


def value_at(h: HdrHistogram, percentile: float) -> float:
    """The value (ms) at a percentile, as `LatencySummary` computes it; 0 when empty."""
    counters = _counters(h)
    indices = np.flatnonzero(counters).astype(np.int64)
    if indices.size == 0:
        return 0.0
    cumulative = np.cumsum(counters[indices].astype(np.int64))
    target = max(int(percentile * int(cumulative[-1]) / 100.0 + 0.5), 1)
    at = int(np.searchsorted(cumulative, target, side="left"))
    lowest, width = _index_ranges(h, indices[at : at + 1])
    return float(lowest[0] + width[0] - 1) / _US_PER_MS


def recorded(h: HdrHistogram) -> tuple[IntArray, IntArray]:
    """Each counter that holds values: the highest value (µs) its range holds, and its count,
    in ascending order. What hdrh's recorded iterator yields, read from the counts array at
    once: the iterator steps through every sub-bucket in Python (~20 ms a histogram)."""
    counters = _counters(h)
    indices = np.flatnonzero(counters).astype(np.int64)
    lowest, width = _index_ranges(h, indices)
    highest: IntArray = lowest + width - 1
    counts: IntArray = counters[indices].astype(np.int64)
    return highest, counts


class BulkHistogram:
    """Integer values (µs) appended to a list and recorded into an HDR histogram in bulk.

    The owner appends to `values` on its hot path and calls `fold` once the list holds
    FOLD_EVERY of them, and before reading `histogram`. Folding in chunks as values come keeps
    the work spread over the second: turning a second's 50,000 values into a histogram in one
    piece, when the frame is taken, stalled the event loop ~3 ms (and 10–15 ms with the other
    per-second work) at 50,000 requests a second, and every arrival due meanwhile went late.
    """

    __slots__ = ("clamped", "histogram", "values")

    def __init__(self) -> None:
        self.values: list[int] = []
        self.histogram: HdrHistogram | None = None  # made at the first fold
        self.clamped = 0  # values outside LOWEST_US .. HIGHEST_US, recorded at the nearer end

    def fold(self) -> None:
        """Record the kept values into the histogram and empty the list (the same list)."""
        values = self.values
        if not values:
            return
        if self.histogram is None:
            self.histogram = new_histogram()
        array = np.fromiter(values, dtype=np.int64, count=len(values))
        self.clamped += record_values(self.histogram, array)
        values.clear()


def _counters(h: HdrHistogram) -> npt.NDArray[np.uint64]:
    """A writable numpy view of the histogram's counts array (no copy)."""
    view: npt.NDArray[np.uint64] = np.ctypeslib.as_array(h.counts)
    return view


def _counts_indices(h: HdrHistogram, values: IntArray) -> IntArray:
    """hdrh's `_counts_index_for`, vectorised (values must lie within the histogram's range)."""
    half_magnitude = int(h.sub_bucket_half_count_magnitude)
    unit_magnitude = int(h.unit_magnitude)
    masked = values | np.int64(h.sub_bucket_mask)
    # frexp's exponent is the bit length for integers below 2**53.
    bit_length = np.frexp(masked.astype(np.float64))[1].astype(np.int64)
    bucket = bit_length - unit_magnitude - (half_magnitude + 1)
    sub_bucket = values >> (bucket + unit_magnitude)
    result: IntArray = ((bucket + 1) << half_magnitude) + sub_bucket - int(h.sub_bucket_half_count)
    return result


def _index_ranges(h: HdrHistogram, indices: IntArray) -> tuple[IntArray, IntArray]:
    """The lowest value and the width of the value range of each counts index."""
    half_magnitude = int(h.sub_bucket_half_count_magnitude)
    half_count = int(h.sub_bucket_half_count)
    unit_magnitude = int(h.unit_magnitude)
    bucket = (indices >> half_magnitude) - 1
    sub_bucket = (indices & (half_count - 1)) + half_count
    first = bucket < 0
    sub_bucket = np.where(first, sub_bucket - half_count, sub_bucket)
    bucket = np.where(first, 0, bucket)
    lowest: IntArray = sub_bucket << (bucket + unit_magnitude)
    width: IntArray = np.left_shift(np.int64(1), bucket + unit_magnitude)
    return lowest, width


@dataclass(frozen=True, slots=True)
class LatencySummary:
    """The shape of a latency histogram, in milliseconds; `count` says how many requests."""

    count: int
    min: float
    mean: float
    p50: float
    p90: float
    p95: float
    p99: float
    p999: float
    max: float
    stdev: float

    @classmethod
    def of(cls, h: HdrHistogram) -> LatencySummary:
        """Summarise a histogram the way hdrh would, but in one numpy pass; zeros when empty."""
        counters = _counters(h)
        indices = np.flatnonzero(counters).astype(np.int64)
        if indices.size == 0:
            return cls(0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        counts = counters[indices].astype(np.int64)
        lowest, width = _index_ranges(h, indices)
        highest = lowest + width - 1
        cumulative = np.cumsum(counts)
        total = int(cumulative[-1])
        # hdrh: the first counter whose running total reaches round(p% of total), at least 1;
        # reported as the highest value equivalent to it.
        targets = np.maximum((np.array(_PERCENTILES) * total / 100.0 + 0.5).astype(np.int64), 1)
        at = np.searchsorted(cumulative, targets, side="left")
        p50, p90, p95, p99, p999 = (float(v) / _US_PER_MS for v in highest[at])
        middles = (lowest + (width >> 1)).astype(np.float64)
        mean = float(np.dot(middles, counts)) / total
        stdev = float(np.sqrt(np.dot((middles - mean) ** 2, counts) / total))
        return cls(
            count=total,
            min=float(lowest[0]) / _US_PER_MS,
            mean=mean / _US_PER_MS,
            p50=p50,
            p90=p90,
            p95=p95,
            p99=p99,
            p999=p999,
            max=float(highest[-1]) / _US_PER_MS,
            stdev=stdev / _US_PER_MS,
        )

    def to_dict(self) -> dict[str, float | int]:
        """A JSON-ready mapping."""
        return {
            "count": self.count,
            "min": self.min,
            "mean": self.mean,
            "p50": self.p50,
            "p90": self.p90,
            "p95": self.p95,
            "p99": self.p99,
            "p999": self.p999,
            "max": self.max,
            "stdev": self.stdev,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LatencySummary:
        """The inverse of `to_dict`."""
        return cls(
            count=int(d["count"]),
            min=float(d["min"]),
            mean=float(d["mean"]),
            p50=float(d["p50"]),
            p90=float(d["p90"]),
            p95=float(d["p95"]),
            p99=float(d["p99"]),
            p999=float(d["p999"]),
            max=float(d["max"]),
            stdev=float(d["stdev"]),
        )
