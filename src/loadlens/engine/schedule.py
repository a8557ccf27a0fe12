"""Load shapes over a stage's time: users or arrival rate at time t, and arrival times.

A stage ramps linearly from its start level to its level during `ramp` seconds, then holds.
For the open model, arrival k (0-based) is due when the integral of the rate reaches k + phase;
the integral is quadratic during the ramp and linear after, so its inverse is closed-form. A
counted stage's schedule stops after its `limit` arrivals (or at its length, if sooner).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class UserRamp:
    """Closed model: how many users one worker runs at a time."""

    start: int
    end: int
    ramp: float  # seconds

    def users_at(self, t: float) -> int:
        """Users that should be active `t` seconds into the stage."""
        if self.ramp <= 0 or t >= self.ramp:
            return self.end
        return round(self.start + (self.end - self.start) * max(t, 0.0) / self.ramp)


@dataclass(frozen=True, slots=True)
class ArrivalSchedule:
    """Open model: arrival times of one worker's share of the rate."""

    start_rate: float  # per second
    rate: float
    ramp: float  # seconds
    length: float  # ramp + hold, seconds
    phase: float = 0.0  # fraction of an arrival this worker is offset by, in [0, 1)
    limit: int = -1  # at most this many arrivals (a counted stage's share); -1: no limit

    def arrival_time(self, k: int) -> float:
        """Seconds after the stage start at which arrival k is due (inf if never)."""
        n = k + self.phase
        r0, r1, ramp = self.start_rate, self.rate, self.ramp
        in_ramp = (r0 + r1) / 2 * ramp if ramp > 0 else 0.0
        if n < in_ramp:
            if n <= 0:
                return 0.0
            slope = (r1 - r0) / ramp
            # n = r0 t + slope t² / 2  →  t = 2n / (r0 + sqrt(r0² + 2 slope n)): the root's
            # form without the cancellation of (-r0 + sqrt(…)) / slope, so a flat ramp needs no
            # special case and a vanishing one (an infinite slope) gives 0, not inf / inf.
            return 2 * n / (r0 + math.sqrt(max(r0 * r0 + 2 * slope * n, 0.0)))
        if r1 <= 0:
            return math.inf
        return max(ramp, 0.0) + (n - in_ramp) / r1

    def arrivals_by(self, t: float) -> int:
        """How many arrivals are due `t` seconds into the stage (the inverse of arrival_time,
        to within float rounding at an arrival's exact time)."""
        if t < 0:
            return 0
        r0, r1, ramp = self.start_rate, self.rate, self.ramp
        if ramp > 0 and t < ramp:
            integral = r0 * t + (r1 - r0) * t * (t / ramp) / 2  # t / ramp < 1: finite
        else:
            in_ramp = (r0 + r1) / 2 * ramp if ramp > 0 else 0.0
            integral = in_ramp + r1 * (t - max(ramp, 0.0))
        if integral < self.phase:
            return 0
        return min(math.floor(integral - self.phase) + 1, self.expected_arrivals())

    def expected_arrivals(self) -> int:
        """How many arrivals fall inside the stage."""
        r0, r1, ramp = self.start_rate, self.rate, self.ramp
        total = (r0 + r1) / 2 * ramp + r1 * (self.length - ramp)
        arrivals = max(0, math.ceil(total - self.phase))
        return arrivals if self.limit < 0 else min(arrivals, self.limit)


def starting_connections(rate: float, start_rate: float) -> int:
    """The connections an open stage opens before it starts: one per 1,000 arrivals/s of its
    highest rate (what 1 ms of latency keeps busy), at least 4."""
    return max(4, math.ceil(max(rate, start_rate) / 1000))
