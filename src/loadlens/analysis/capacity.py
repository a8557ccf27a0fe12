"""Capacity search: the highest request rate at which the SLO still holds.

How it works. `CapacitySearch` is a pure state machine; the engine drives it:

    search = CapacitySearch(plan)
    while (step := search.next_rate(elapsed_s)) is not None:
        rate, kind = step
        ...run one probe stage at `rate`, evaluate the SLO gates...
        search.record(Probe(rate, passed, measured, reason, kind))
    outcome = search.outcome()

1. grow: probe start_rate, start_rate·growth, … until a probe fails (or max_rate passes);
2. bisect between the highest pass and the lowest fail until (fail − pass)/pass ≤ precision;
3. confirm: hold the highest pass for confirm_s. A failed confirmation counts as a fail at that
   rate, so bisection resumes below it and the next answer is confirmed in turn.

If the first probe fails, the search halves the rate, down to start_rate/16, and then gives up
("never_passed"). Before each probe it checks the budget: a probe costs warmup_s + probe_s, a
confirmation confirm_s; the search stops ("budget") rather than start one that would overrun,
and reports the best answer so far. The bracket is recomputed from every probe recorded, so a
noisy service that passes above a known failure cannot push the answer up.
"""

from __future__ import annotations

import enum
import math
from dataclasses import asdict, dataclass
from typing import Any

from loadlens.analysis.usl import MIN_POINTS, UslFit, fit_usl

_GIVE_UP_DIVISOR = 16.0  # a first failure is chased down to start_rate/16, then "never_passed"
_MIDPOINT_SLACK = 0.02  # a bisection rate may move this share of the gap to be a rounder number


class ProbeKind(enum.StrEnum):
    """Why a probe was run."""

    GROW = "grow"
    BISECT = "bisect"
    CONFIRM = "confirm"


class StopReason(enum.StrEnum):
    """Why the search ended."""

    CONVERGED = "converged"
    BUDGET = "budget"
    MAX_RATE = "max_rate"
    NEVER_PASSED = "never_passed"


@dataclass(frozen=True, slots=True)
class CapacityPlan:
    """How to search: rates in requests per second, durations in seconds."""

    start_rate: float = 10.0
    growth: float = 2.0
    precision: float = 0.05  # stop bisecting when (fail − pass)/pass ≤ precision
    probe_s: float = 10.0
    warmup_s: float = 3.0
    confirm_s: float = 30.0
    budget_s: float = 300.0
    max_rate: float = 1e6

    def __post_init__(self) -> None:
        problems = [
            text
            for bad, text in (
                (not self.start_rate > 0, "start_rate must be positive"),
                (not self.growth > 1, "growth must be greater than 1"),
                (not 0 < self.precision < 1, "precision must be between 0 and 1"),
                (not self.probe_s > 0, "probe_s must be positive"),
                (not self.warmup_s >= 0, "warmup_s must not be negative"),
                (not self.confirm_s > 0, "confirm_s must be positive"),
                (not self.budget_s > 0, "budget_s must be positive"),
                (not self.max_rate >= self.start_rate, "max_rate must be at least start_rate"),
            )
            if bad
        ]
        if problems:
            raise ValueError("invalid capacity plan: " + "; ".join(problems))

    def cost(self, kind: ProbeKind) -> float:
        """Seconds one probe of this kind takes."""
        return self.confirm_s if kind is ProbeKind.CONFIRM else self.warmup_s + self.probe_s


@dataclass(frozen=True, slots=True)
class Probe:
    """One probe as run: its rate, whether the SLO held, what was measured, and why."""

    rate: float
    passed: bool
    measured: dict[str, float]  # p95_ms, error_rate, throughput, concurrency, …
    reason: str
    kind: ProbeKind

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "rate": self.rate,
            "passed": self.passed,
            "measured": dict(self.measured),
            "reason": self.reason,
            "kind": str(self.kind),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Probe:
        """The inverse of `to_dict`."""
        return cls(
            rate=float(d["rate"]),
            passed=bool(d["passed"]),
            measured={str(k): float(v) for k, v in d["measured"].items()},
            reason=str(d["reason"]),
            kind=ProbeKind(d["kind"]),
        )


@dataclass(frozen=True, slots=True)
class TableRow:
    """One probe as a report shows it; a measurement the probe lacks is None."""

    rate: float
    kind: str
    passed: bool
    p95_ms: float | None
    error_rate: float | None
    throughput: float | None
    reason: str


@dataclass(frozen=True, slots=True)
class CapacityOutcome:
    """What the search found.

    `capacity` is the highest passing rate below the lowest failure (None if nothing passed).
    `confirmed` is True when that rate held its confirmation, False when a confirmation was run
    and failed and no later one succeeded, None when no confirmation was run.
    """

    capacity: float | None
    last_pass: float | None
    first_fail: float | None
    confirmed: bool | None
    probes: tuple[Probe, ...]
    stopped_because: StopReason | None  # None while the search is still running
    usl: UslFit | None
    plan: CapacityPlan

    def table(self) -> list[TableRow]:
        """One row per probe, in the order they ran."""
        return [
            TableRow(
                rate=p.rate,
                kind=str(p.kind),
                passed=p.passed,
                p95_ms=p.measured.get("p95_ms"),
                error_rate=p.measured.get("error_rate"),
                throughput=p.measured.get("throughput"),
                reason=p.reason,
            )
            for p in self.probes
        ]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping for result.json."""
        return {
            "capacity": self.capacity,
            "last_pass": self.last_pass,
            "first_fail": self.first_fail,
            "confirmed": self.confirmed,
            "stopped_because": None if self.stopped_because is None else str(self.stopped_because),
            "plan": asdict(self.plan),
            "probes": [p.to_dict() for p in self.probes],
            "usl": None if self.usl is None else self.usl.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CapacityOutcome:
        """The inverse of `to_dict`."""
        stopped = d["stopped_because"]
        confirmed = d["confirmed"]
        return cls(
            capacity=_optional_float(d["capacity"]),
            last_pass=_optional_float(d["last_pass"]),
            first_fail=_optional_float(d["first_fail"]),
            confirmed=None if confirmed is None else bool(confirmed),
            probes=tuple(Probe.from_dict(p) for p in d["probes"]),
            stopped_because=None if stopped is None else StopReason(stopped),
            usl=None if d["usl"] is None else UslFit.from_dict(d["usl"]),
            plan=CapacityPlan(**{k: float(v) for k, v in d["plan"].items()}),
        )


class CapacitySearch:
    """Grow, bisect, confirm: one probe rate at a time (see the module docstring)."""

    def __init__(self, plan: CapacityPlan) -> None:
        self._plan = plan
        self._probes: list[Probe] = []
        self._pending: tuple[float, ProbeKind] | None = None
        self._stopped: StopReason | None = None
        self._pass: float | None = None  # highest passing rate below self._fail
        self._fail: float | None = None  # lowest failing rate

    def next_rate(self, elapsed_s: float) -> tuple[float, ProbeKind] | None:
        """The (rate, kind) to probe next, or None when the search is over."""
        if self._stopped is not None:
            return None
        proposal = self._propose()
        if proposal is None:
            return None
        if elapsed_s + self._plan.cost(proposal[1]) > self._plan.budget_s:
            self._stopped = StopReason.BUDGET
            self._pending = None
            return None
        self._pending = proposal
        return proposal

    def record(self, probe: Probe) -> None:
        """Take the result of the probe `next_rate` asked for."""
        if self._pending is None:
            raise ValueError("record() needs a probe that next_rate() asked for")
        if probe.kind != self._pending[1]:
            raise ValueError(f"expected a {self._pending[1]} probe, got {probe.kind}")
        self._pending = None
        self._probes.append(probe)
        # A failed confirmation is a failure at that rate like any other.
        fails = [p.rate for p in self._probes if not p.passed]
        self._fail = min(fails) if fails else None
        passes = [p.rate for p in self._probes if p.passed]
        below = [r for r in passes if self._fail is None or r < self._fail]
        self._pass = max(below) if below else None

    def outcome(self) -> CapacityOutcome:
        """What the search has found so far; final once `next_rate` returned None."""
        confirms = [p for p in self._probes if p.kind is ProbeKind.CONFIRM]
        confirmed: bool | None = None
        if self._pass is not None and self._is_confirmed(self._pass):
            confirmed = True
        elif confirms:
            confirmed = False
        return CapacityOutcome(
            capacity=self._pass,
            last_pass=self._pass,
            first_fail=self._fail,
            confirmed=confirmed,
            probes=tuple(self._probes),
            stopped_because=self._stopped,
            usl=_fit_probes(self._probes),
            plan=self._plan,
        )

    def _propose(self) -> tuple[float, ProbeKind] | None:
        plan, low, high = self._plan, self._pass, self._fail
        if low is None and high is None:
            return min(plan.start_rate, plan.max_rate), ProbeKind.GROW
        if high is None:
            assert low is not None
            if low < plan.max_rate:
                return min(low * plan.growth, plan.max_rate), ProbeKind.GROW
            return self._confirm_or_stop(low, StopReason.MAX_RATE)
        if low is None:  # nothing passes yet: halve towards zero, within reason
            rate = high / 2.0
            if rate < plan.start_rate / _GIVE_UP_DIVISOR * (1.0 - 1e-9):
                self._stopped = StopReason.NEVER_PASSED
                return None
            return rate, ProbeKind.BISECT
        if (high - low) / low <= plan.precision:
            return self._confirm_or_stop(low, StopReason.CONVERGED)
        return _midpoint(low, high), ProbeKind.BISECT

    def _confirm_or_stop(self, rate: float, reason: StopReason) -> tuple[float, ProbeKind] | None:
        if self._is_confirmed(rate):
            self._stopped = reason
            return None
        return rate, ProbeKind.CONFIRM

    def _is_confirmed(self, rate: float) -> bool:
        return any(
            p.kind is ProbeKind.CONFIRM and p.passed and p.rate == rate for p in self._probes
        )


def parse_slo(text: str) -> tuple[str, ...]:
    """Split `"p95<200ms, error_rate<1%"` into threshold strings; commas in (), {}, [] stay."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char in "({[":
            depth += 1
        elif char in ")}]":
            depth -= 1
            if depth < 0:
                raise ValueError(f"unbalanced {char!r} in SLO {text!r}")
        if char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    if depth != 0:
        raise ValueError(f"unclosed bracket in SLO {text!r}")
    parts.append("".join(current).strip())
    thresholds = tuple(part for part in parts if part)
    if not thresholds:
        raise ValueError("the SLO is empty; give thresholds such as 'p95<200ms, error_rate<1%'")
    return thresholds


def _midpoint(low: float, high: float) -> float:
    """The middle of (low, high), as round a number as a small nudge allows (720, not 718.75)."""
    middle = (low + high) / 2.0
    slack = (high - low) * _MIDPOINT_SLACK
    for digits in range(1, 16):
        exponent = math.floor(math.log10(middle)) - digits + 1
        rounded = round(middle / 10.0**exponent) * 10.0**exponent
        if abs(rounded - middle) <= slack:
            return float(f"{rounded:.{digits}g}")
    return middle


def _fit_probes(probes: list[Probe]) -> UslFit | None:
    """USL on (concurrency, throughput) of every probe that measured both, when it can be fitted."""
    points = [
        (p.measured["concurrency"], p.measured["throughput"])
        for p in probes
        if "concurrency" in p.measured and "throughput" in p.measured
    ]
    if len({n for n, _ in points}) < MIN_POINTS:
        return None
    try:
        return fit_usl([n for n, _ in points], [x for _, x in points])
    except ValueError:
        return None


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)
