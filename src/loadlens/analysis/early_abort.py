"""When an abort gate on a percentile may stop a stage: as soon as the answer is known.

`p95 < 100ms abort` stops the stage once a one-sided 95 % Wilson score bound on the share of
requests over 100 ms exceeds 5 % (analysis/confidence.py), instead of waiting for a fixed
number of samples: with 6 requests of 20 over it the lower bound is 16 %, so the gate has
failed whatever the rest of the stage brings. The counts allow for the generator's error bound,
so a busy host cannot stop a stage (docs/thresholds.md).
"""

from __future__ import annotations

from loadlens.analysis import confidence
from loadlens.analysis.gates import Measurement
from loadlens.model.threshold import Threshold
from loadlens.model.verdict import GateStatus


def decided(threshold: Threshold) -> bool:
    """Whether a gate's abort is decided by the confidence bound (a percentile, `<` or `>`)."""
    return confidence.applies(threshold)


def surely_fails(threshold: Threshold, m: Measurement) -> bool:
    """Whether a percentile gate has failed with 95 % confidence on what was measured so far."""
    bounded = m.bounded
    if bounded is None:
        return confidence.decided(threshold, m.histogram) is GateStatus.FAILED
    status = confidence.decided(threshold, m.histogram, bounded.low, bounded.high, bounded.levels())
    return status is GateStatus.FAILED
