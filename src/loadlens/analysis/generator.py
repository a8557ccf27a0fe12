"""The generator's error bound: how much its own delays could have moved each second's latencies.

Why the event-loop lag bounds it (docs/thresholds.md, "The generator's error bound"): a worker
times a request from its send to the moment its event loop handles the response. When the
process is descheduled (the host is busy) or the loop is stuck in other work (the generator is
saturated), a response that has arrived waits until the loop runs again, and that wait is added
to its latency. Twenty times a second a probe times a 50 ms sleep; its overshoot (the lag) is
the stall it ran into. So, per worker second:

- every request may carry the second's median lag (`base_ms`: the timer's slack);
- a stall of L ms holds up only the requests in flight at the time, at most the worker's
  concurrency (its users, or its iterations in flight), and, in the open model, the arrivals
  due during it (the second's rate × L), each by at most L. Counting the probes later than
  each of a few levels x (`Health.lag_over`) gives `affected[x]`: how many requests of the
  second may have waited more than x; none waited more than the largest lag (`bound_ms`).
  A stall is recorded when the loop resumes, which may fall in the next second's frame, so
  the previous second's stalls and lag count too.

For a percentile p over n requests, at most affected[x] of them moved by more than x, so the
true percentile lies between the (p - affected[x]/n) quantile less x and the (p + affected[x]/n)
quantile plus x, for every level x (and within `bound_ms` of it): analysis/gates.py takes the
tightest. Lag never makes a request faster, but a stalled generator also sends later and so
loads the service less than planned: the interval is applied both ways. This is an estimate,
not a proof: a stall that ends before the probe wakes is not seen (the probe's rate keeps such
a stall under 50 ms), and the concurrency is the worker's at the end of the second.

Each bound carries its cause: a worker at or above `max_cpu` was saturated (the generator was
the limit); lag with the CPU below it, with involuntary context switches or stolen CPU, means
the host was busy (the process was descheduled); lag without either is the loop's own work.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from loadlens.metrics.frame import LAG_LEVELS_MS, STALL_MS, Health
from loadlens.metrics.result import RunResult, SeriesPoint
from loadlens.model.generator import GeneratorLimits, LagBound

SLACK_MS = STALL_MS  # below this much lag there is nothing to name: the timer's own slack
# Stolen CPU above this share of the host's time says the hypervisor, not we, were short.
STEAL_PERCENT = 1.0
# Open model: a stage that sent fewer than this share of the arrivals its rate planned did not
# deliver its load (late arrivals are still sent, so a busy host's stalls do not count here).
MIN_DELIVERED = 0.80
MIN_PLANNED = 20  # fewer planned arrivals than this: too few to tell a shortfall from rounding
# Open model: more than this share of a stage's arrivals started late (> 2 ms after their
# time) says the generator could not keep the schedule, whatever its CPU showed.
MAX_LATE_FRACTION = 0.05


@dataclass(frozen=True, slots=True)
class SecondBound:
    """The bound on one worker second's latencies, and why (module docstring)."""

    bound_ms: float  # the most any request of the second may have been delayed
    cause: str
    base_ms: float = 0.0  # what every request of the second may have been delayed
    # per LAG_LEVELS_MS level: how many requests may have been delayed by more than it
    affected: tuple[int, ...] = ()


def lag_of(health: Health, limits: GeneratorLimits) -> float:
    """The lag (ms) of one worker second that the scenario's `lag_bound` counts."""
    if limits.lag_bound is LagBound.P99:
        return health.loop_lag_p99_ms
    return health.loop_lag_ms


def worker_bound(
    health: Health,
    previous: Health | None,
    limits: GeneratorLimits,
    *,
    worker: int,
    second: int,
    requests: int,
) -> SecondBound:
    """The bound on a worker second of `requests` requests, given the same worker's previous
    second's health (None for its first)."""
    before = previous or Health()
    bound = max(lag_of(health, limits), lag_of(before, limits))
    base = min(health.loop_lag_p50_ms, bound)
    if bound <= 0:
        return SecondBound(0.0, "")
    concurrency = max(health.users, health.in_flight, before.users, before.in_flight, 1)
    rate = 0 if health.users else requests  # open model: arrivals per second (none: closed)
    now, then = _delayed(health, concurrency, rate), _delayed(before, concurrency, rate)
    both = tuple(min(requests, a + b) for a, b in zip(now, then, strict=True))
    cause = f"event-loop lag {bound:,.1f} ms in second {second} ({why(health, limits, worker)})"
    return SecondBound(bound, cause, base, both)


def _delayed(health: Health, concurrency: int, rate: int) -> list[int]:
    """Per level: how many requests the second's stalls longer than it may have held up."""
    if len(health.lag_over) != len(LAG_LEVELS_MS):  # an older frame: no stalls counted
        return [0] * len(LAG_LEVELS_MS)
    return [
        math.ceil(stalls * concurrency + rate * stalled_ms / 1000)
        for stalls, stalled_ms in zip(health.lag_over, health.lag_over_ms, strict=True)
    ]


def why(health: Health, limits: GeneratorLimits, worker: int | None = None) -> str:
    """What the health of one worker second says: saturated, host busy, or neither."""
    who = "worker" if worker is None else f"worker {worker}"
    cpu = f"{who} at {health.cpu_percent:.0f} % CPU"
    if health.cpu_percent >= limits.max_cpu_percent:
        return f"{cpu}: the generator was saturated"
    signs = []
    if health.involuntary_switches:
        times = "time" if health.involuntary_switches == 1 else "times"
        signs.append(f"descheduled {health.involuntary_switches:,} {times}")
    if health.steal_percent >= STEAL_PERCENT:
        signs.append(f"{health.steal_percent:.0f} % of the host's CPU stolen")
    if signs or health.loop_lag_ms >= SLACK_MS:
        return ", ".join([cpu, *signs]) + ": the host was busy"
    return f"{cpu}: timer slack"


def saturated(health: Health, limits: GeneratorLimits, workers: int = 1) -> bool:
    """Whether a second's worker CPU (summed over `workers`) reached the saturation limit."""
    return health.cpu_percent / max(workers, 1) >= limits.max_cpu_percent


def generator_notes(result: RunResult, limits: GeneratorLimits | None = None) -> list[str]:
    """Per stage, what the generator's health says when it says anything: saturated seconds
    (the generator was the limit) and the largest lag (what bounded the latencies)."""
    limits = limits or GeneratorLimits()
    notes = saturation(result, limits) + undelivered(result) + behind_schedule(result)
    for name, points in _by_stage(result):
        worst = max(points, key=lambda p: p.health.loop_lag_ms)
        if worst.health.loop_lag_ms >= SLACK_MS:
            health = worst.health
            per_worker = Health(
                cpu_percent=health.cpu_percent / max(worst.workers, 1),
                loop_lag_ms=health.loop_lag_ms,
                involuntary_switches=health.involuntary_switches,
                steal_percent=health.steal_percent,
            )
            notes.append(
                f"stage `{name}`: event-loop lag up to {health.loop_lag_ms:,.1f} ms in second "
                f"{worst.second} ({why(per_worker, limits)}); latency gates are judged within "
                "this bound"
            )
    return notes


def saturation(result: RunResult, limits: GeneratorLimits | None = None) -> list[str]:
    """The stages in which the generator's CPU, not the service, was the limit, described."""
    limits = limits or GeneratorLimits()
    notes: list[str] = []
    for name, points in _by_stage(result):
        busy = sum(1 for p in points if saturated(p.health, limits, p.workers))
        if busy > limits.saturated_seconds * len(points):
            top = max(p.health.cpu_percent / max(p.workers, 1) for p in points)
            notes.append(
                f"stage `{name}`: the generator was saturated: worker CPU ≥ "
                f"{limits.max_cpu_percent:.0f} % in {busy} of {len(points)} seconds "
                f"(max {top:.0f} %)"
            )
    return notes


def undelivered(result: RunResult) -> list[str]:
    """Open-model stages that sent far fewer arrivals than their rate planned, described: the
    generator could not produce the load, so a pass says nothing about the service."""
    notes: list[str] = []
    dropped: dict[int, int] = {}
    for point in result.series:
        dropped[point.stage] = dropped.get(point.stage, 0) + point.health.dropped
    for stage in result.stages:
        load, info = stage.info.load, stage.info
        if not stage.ran or load.get("model") != "open" or stage.started_at is None:
            continue
        ended = stage.ended_at if stage.ended_at is not None else stage.started_at
        span = min(info.duration_s + info.ramp_s, max(ended - stage.started_at, 0.0))
        rate, start = float(load.get("rate", 0.0)), float(load.get("start_rate", 0.0))
        ramp = min(info.ramp_s, span)
        planned = rate * (span - ramp) + (start + rate) / 2 * ramp
        sent = stage.total.count + dropped.get(info.index, 0)
        if planned >= MIN_PLANNED and sent < MIN_DELIVERED * planned:
            notes.append(
                f"stage `{info.name}`: the generator sent {sent:,} of the {planned:,.0f} "
                f"arrivals planned ({sent / planned:.0%})"
            )
    return notes


def behind_schedule(result: RunResult) -> list[str]:
    """Open-model stages whose arrivals mostly could not start on time, described (a busy host
    or a saturated generator: either way the planned rate was not sent as planned)."""
    notes: list[str] = []
    requests = {stage.info.name: stage.total.count for stage in result.stages}
    for name, points in _by_stage(result):
        late = sum(p.health.late for p in points)
        total = requests.get(name, 0)
        if total and late > MAX_LATE_FRACTION * total:
            notes.append(
                f"stage `{name}`: {late:,} iterations started late "
                f"({late / total:.1%} of {total:,} requests)"
            )
    return notes


def _by_stage(result: RunResult) -> Iterable[tuple[str, list[SeriesPoint]]]:
    by_stage: dict[int, list[SeriesPoint]] = {}
    for point in result.series:
        by_stage.setdefault(point.stage, []).append(point)
    names = {stage.info.index: stage.info.name for stage in result.stages}
    for index, points in sorted(by_stage.items()):
        yield names.get(index, str(index)), points
