"""How the generator's own health is judged: the scenario's `generator:` block.

docs/thresholds.md ("The generator's error bound") explains each limit; docs/scenario-format.md
shows the block.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class LagBound(enum.StrEnum):
    """Which of a second's event-loop lag probes bounds that second's latencies."""

    MAX = "max"  # the longest stall: sound for every request of the second
    P99 = "p99"  # the 99th percentile of the probes: ignores one stall in a hundred probes


@dataclass(frozen=True, slots=True)
class GeneratorLimits:
    """When a worker counts as saturated, and how its lag bounds each second's latencies."""

    # A worker second at or above this CPU (percent of one core) is saturated: the generator,
    # not the host, was the limit.
    max_cpu_percent: float = 90.0
    # Throughput gates (rps, count) that fail are UNCERTAIN when more than this share of a
    # stage's worker seconds were saturated: the generator could not send more.
    saturated_seconds: float = 0.20
    lag_bound: LagBound = LagBound.MAX
