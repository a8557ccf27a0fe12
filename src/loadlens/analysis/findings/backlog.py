"""Queueing within one open stage: arrivals that the service does not complete pile up.

How it works. In an open-model stage, work arrives at a fixed rate λ (iterations per second)
whatever the service does. A service that keeps up holds a steady number of requests in flight
(Little's law, N = λ·R, with R steady); one whose capacity μ is below λ cannot: each second about
λ − μ more arrive than complete, so N grows through the stage and so does the time each request
waits (R = N/X with X flat at μ). The generator records N every second (`health.in_flight`:
requests sent and awaiting their response, summed over workers; an iteration has at most one,
so an arrival the service has not served is one of them unless it is thinking between steps)
and the arrivals it could not start because `max_in_flight` was reached (`health.dropped`:
arrivals not served either). Arrivals the generator itself holds back (late, kept waiting for a
connection) are not in N: a slow generator does not look like a queue at the service.

Over the stage's hold (its whole seconds after the ramp, where λ is constant, and before its
end: the grace after it drains the queue), the backlog's growth is the mean of the
per-second increments of N plus the dropped arrivals per second. Increments, not the levels,
are averaged: the levels of a queue are a random walk, strongly autocorrelated, while its
increments (arrivals minus completions in one second) are close to independent, so their
t-interval holds. The unserved share u = growth/λ is the share of the offered load the service
did not serve; its 95 % lower bound is what the rule reads (saturation.py). A brief stall of the
host makes one large increment and its catch-up a negative one: the mean stays near 0 and the
interval is wide, so it is not mistaken for a queue; a latency that drifts up slowly (a leak)
grows N by λ·dR/dt, a share of dR/dt (ms per second: ≪ 1 %), far below a queue's.
The median latency of the hold's last third over its first third (per-second medians) says
how much the wait grew meanwhile.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from loadlens.analysis.stats import scipy_stats
from loadlens.metrics.result import RunResult, SeriesPoint, StageResult

MIN_SECONDS = 5  # hold seconds (increments + 1) needed to read a growth with an interval


@dataclass(frozen=True, slots=True)
class Backlog:
    """How fast the work in flight grew through one open stage's hold."""

    stage: StageResult
    rate: float  # λ: arrivals per second offered
    seconds: int  # hold seconds read
    in_flight_start: int
    in_flight_end: int
    dropped: int  # arrivals not started in those seconds (max_in_flight reached)
    growth: float  # per second: mean increment of N plus drops per second
    growth_low: float  # its 95 % lower bound
    unserved: float  # growth / λ
    unserved_low: float  # growth_low / λ
    median_start: float  # ms: median of the per-second medians over the hold's first third
    median_end: float  # ms: the same over its last third

    @property
    def climb(self) -> float:
        """How many times the median latency grew through the hold."""
        return self.median_end / max(self.median_start, 1e-9)


def measure(result: RunResult, stage: StageResult) -> Backlog | None:
    """The backlog's growth through `stage`'s hold, or None (not open, too few seconds)."""
    load = stage.info.load
    rate = load.get("rate")
    if load.get("model") != "open" or not isinstance(rate, int | float) or rate <= 0:
        return None
    points = _hold(result, stage)
    if len(points) < MIN_SECONDS:
        return None
    levels = [p.health.in_flight for p in points]
    drops = [p.health.dropped for p in points[1:]]
    steps = [b - a + d for a, b, d in zip(levels, levels[1:], drops, strict=False)]
    growth = statistics.fmean(steps)
    spread = statistics.stdev(steps) / math.sqrt(len(steps))
    growth_low = growth - float(scipy_stats.t.ppf(0.975, len(steps) - 1)) * spread
    medians = [p.total.p50 for p in points if p.total.samples]
    if len(medians) < 2:
        return None
    third = max(len(medians) // 3, 1)
    return Backlog(
        stage=stage,
        rate=float(rate),
        seconds=len(points),
        in_flight_start=levels[0],
        in_flight_end=levels[-1],
        dropped=sum(drops),
        growth=growth,
        growth_low=growth_low,
        unserved=growth / rate,
        unserved_low=growth_low / rate,
        median_start=statistics.median(medians[:third]),
        median_end=statistics.median(medians[-third:]),
    )


def _hold(result: RunResult, stage: StageResult) -> list[SeriesPoint]:
    """The stage's whole seconds after its ramp and before its end (the grace that follows,
    where no work arrives and in-flight work drains or is cancelled, is not the stage's load)."""
    first = math.ceil(stage.info.ramp_s)
    last = math.floor(stage.info.ramp_s + stage.info.duration_s) - 1
    points = [p for p in result.series if p.stage == stage.info.index and first <= p.second <= last]
    return sorted(points, key=lambda p: p.second)
