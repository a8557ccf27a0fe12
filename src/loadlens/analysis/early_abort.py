"""When an abort gate on a percentile may stop a stage: as soon as the answer is known.

`p95 < 100ms abort` fails when more than 5 % of the requests take longer than 100 ms. Instead
of waiting for a fixed number of samples, the stage stops once a one-sided 95 % Wilson score
bound on the share of requests over 100 ms exceeds 5 %: with 6 requests of 20 over it the
lower bound is 16 %, so the gate has failed whatever the rest of the stage brings, with 95 %
confidence. A `>` gate is the mirror image (the share under the target exceeds the
percentile). The counts come from the latencies with the generator's error bound subtracted
(`<`) or added (`>`), so a busy host cannot stop a stage (docs/thresholds.md).
"""

from __future__ import annotations

import math

from loadlens.analysis.gates import Measurement
from loadlens.metrics.histogram import count_beyond
from loadlens.model.threshold import Comparison, Metric, Threshold

Z_ONE_SIDED_95 = 1.6448536269514722  # the standard normal's 95th percentile


def wilson_lower(hits: int, n: int, z: float = Z_ONE_SIDED_95) -> float:
    """The lower end of the one-sided Wilson score interval on a proportion hits / n."""
    if n <= 0:
        return 0.0
    p = hits / n
    z2 = z * z
    centre = p + z2 / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max((centre - spread) / (1 + z2 / n), 0.0)


def decided(threshold: Threshold) -> bool:
    """Whether a gate's abort is decided by the confidence bound (a percentile, `<` or `>`)."""
    return threshold.metric is Metric.PERCENTILE and threshold.op in (
        Comparison.LT,
        Comparison.LE,
        Comparison.GT,
        Comparison.GE,
    )


def surely_fails(threshold: Threshold, m: Measurement) -> bool:
    """Whether a percentile gate has failed with 95 % confidence on what was measured so far."""
    assert threshold.percentile is not None
    target_us = round(threshold.low * 1000)
    below = threshold.op in (Comparison.LT, Comparison.LE)
    histogram = m.histogram
    if m.bounded is not None:
        histogram = m.bounded.low if below else m.bounded.high
    n = int(histogram.get_total_count())
    if below:  # fails when the share over the target exceeds the tail
        share = 1 - threshold.percentile / 100
        return wilson_lower(count_beyond(histogram, target_us, above=True), n) > share
    share = threshold.percentile / 100  # fails when the share under it exceeds the percentile
    return wilson_lower(count_beyond(histogram, target_us, above=False), n) > share
