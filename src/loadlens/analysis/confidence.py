"""Whether a percentile gate is decided already, with 95 % confidence, on the samples so far.

`p95 < 100ms` fails when more than 5 % of the requests take 100 ms or more. Instead of asking
for a fixed number of samples, the share of requests over the target is bounded by a one-sided
95 % Wilson score interval: when its lower end exceeds the 5 % allowed the gate has failed
(with 6 of 20 over it the lower end is 16 %), when its upper end stays under 5 % it has passed
(0 of 60 over it: under 4.4 %). A `>` gate is the mirror image: the share under the target
against the percentile. The counts allow for the generator's error bound (analysis/gates.py):
a request counts as over the target only if it is over it even after its possible delay is
taken off, and as possibly over it if it might be once the delay is added.

Used for abort gates (stop a stage as soon as the answer is known, analysis/judge.py) and for
percentile gates with fewer samples than `Threshold.min_samples` (judged when the answer is
already clear, INSUFFICIENT only when it is not). docs/thresholds.md explains both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from loadlens.analysis import stats
from loadlens.metrics.histogram import count_beyond
from loadlens.model.threshold import Comparison, Metric, Threshold
from loadlens.model.verdict import GateStatus

# Each end of a two-sided 90 % interval is a one-sided 95 % bound.
_TWO_SIDED = 0.90


def wilson_lower(hits: int, n: int) -> float:
    """The one-sided 95 % lower Wilson score bound on a proportion hits / n (0 when n is 0)."""
    return stats.wilson(hits, n, _TWO_SIDED)[0] if n > 0 else 0.0


def wilson_upper(hits: int, n: int) -> float:
    """The one-sided 95 % upper Wilson score bound on a proportion hits / n (1 when n is 0)."""
    return stats.wilson(hits, n, _TWO_SIDED)[1]


def applies(threshold: Threshold) -> bool:
    """Whether a gate can be decided this way: a percentile compared with `<` or `>`."""
    return threshold.metric is Metric.PERCENTILE and threshold.op in (
        Comparison.LT,
        Comparison.LE,
        Comparison.GT,
        Comparison.GE,
    )


def decided(
    threshold: Threshold,
    histogram: Any,
    low: Any = None,
    high: Any = None,
    levels: Sequence[tuple[float, int]] = ((0.0, 0),),
) -> GateStatus | None:
    """FAILED or PASSED when the samples already say so with 95 % confidence, else None.

    `low` / `high`: the latencies less / plus their base lag; `levels`: (x ms, at most how many
    of them waited more than x) (analysis/gates.py `Bounded.levels`); without them,
    `histogram` as measured."""
    assert threshold.percentile is not None
    low = histogram if low is None else low
    high = histogram if high is None else high
    n = int(histogram.get_total_count())
    if n == 0:
        return None
    target = round(threshold.low * 1000)
    steps = [(round(x * 1000), moved) for x, moved in levels]
    if threshold.op in (Comparison.LT, Comparison.LE):
        allowed = 1 - threshold.percentile / 100  # the share that may be over the target
        # over it even if delayed by x: over target + x, unless among those delayed more
        surely = max(count_beyond(low, target + x, above=True) - moved for x, moved in steps)
        possibly = min(
            n - count_beyond(high, target - x, above=False) + moved for x, moved in steps
        )
    else:
        allowed = threshold.percentile / 100  # the share that may be under the target
        surely = max(count_beyond(high, target - x, above=False) - moved for x, moved in steps)
        possibly = min(n - count_beyond(low, target + x, above=True) + moved for x, moved in steps)
    surely, possibly = max(surely, 0), min(possibly, n)
    if wilson_lower(surely, n) > allowed:
        return GateStatus.FAILED
    if wilson_upper(min(possibly, n), n) < allowed:
        return GateStatus.PASSED
    return None
